"""The import rules of docs/code-map.md hold in the code, and the map names every part of the package."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ticketctl"
CODE_MAP = ROOT / "docs" / "code-map.md"


def _table(header: str) -> list[tuple[set[str], set[str]]]:
    """The names in the first and in the last cell of each row of the table that starts with ``header``."""
    text = CODE_MAP.read_text(encoding="utf-8")
    table = header + text.split(header, 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        cells = line.strip().strip("|").split("|")
        rows.append((_names(cells[0]), _names(cells[-1])))
    return rows


def _names(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def _part(name: str) -> str:
    """The part of docs/code-map.md a module belongs to: ``config/``, ``project.py``, ..."""
    return f"{name}/" if (PACKAGE / name).is_dir() else f"{name}.py"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every imported module of a file, with its line: at the top, in functions and under TYPE_CHECKING."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ticketctl":  # from ticketctl import __version__, or a subpackage by name
                yield from ((node.lineno, f"ticketctl.{alias.name}") for alias in node.names)
            else:
                yield node.lineno, node.module


def _modules() -> Iterator[Path]:
    return (path for path in sorted(PACKAGE.rglob("*.py")) if "_data" not in path.parts)


def test_the_map_names_every_part_of_the_package() -> None:
    mapped = {part for parts, _ in _table("| Part |") for part in parts}
    parts = {_part(path.relative_to(PACKAGE).parts[0].removesuffix(".py")) for path in _modules()}
    assert mapped == parts - {"__init__.py"}


def test_every_part_imports_only_what_the_map_allows() -> None:
    allowed = {part: {_part(name) for name in names} for parts, names in _table("| Part |") for part in parts}
    broken = []
    for path in _modules():
        relative = path.relative_to(PACKAGE)
        part = _part(relative.parts[0].removesuffix(".py"))
        if part == "__init__.py":
            continue
        for line, module in _imports(path):
            if not module.startswith("ticketctl.") or module == "ticketctl.__version__":
                continue
            target = _part(module.split(".")[1])
            if target != part and target not in allowed[part]:
                broken.append(f"ticketctl/{relative}:{line}: {part} imports {module} ({target} is not in its row)")
    assert broken == [], "\n".join(broken)


def test_each_outside_library_has_its_one_owner() -> None:
    owners: dict[str, set[str]] = {}
    for libraries, places in _table("| Library |"):
        for library in libraries:
            owners[library] = places
    broken = []
    for path in _modules():
        relative = path.relative_to(PACKAGE).as_posix()
        for line, module in _imports(path):
            library = module.split(".")[0]
            places = owners.get(library)
            if places is None:
                continue
            if not any(relative == place or relative.startswith(place) for place in places):
                broken.append(f"ticketctl/{relative}:{line}: imports {library}, which belongs to {', '.join(places)}")
    assert broken == [], "\n".join(broken)
