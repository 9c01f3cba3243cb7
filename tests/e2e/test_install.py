"""``pip install .`` (not editable) into a fresh venv works from another folder.

The templates, schemas and mappings live at the top of the repository and must
ship inside the wheel; this test proves the installed command finds them.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(ROOT)],
        check=True,
        cwd=tmp_path_factory.mktemp("elsewhere"),
        timeout=900,
    )
    return target / "bin" / "ticketctl"


def test_installed_wheel_renders_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TICKETCTL_")}
    run = subprocess.run(
        [str(installed), "render", "--out", "out"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [".env", ".env.example", "docker-compose.yml", "mysql-init"]
    assert stat.S_IMODE((out / ".env").stat().st_mode) == 0o600
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = subprocess.run(
        [str(installed), "render", "--out", "out"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert again.stdout.count("unchanged") == 4
    assert before == {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_installed_package_carries_its_data_folders(installed: Path) -> None:
    python = installed.parent / "python"
    code = (
        "from ticketctl.config.resources import data_dir; "
        "print(*[data_dir(n) for n in ('templates','schemas','mappings')])"
    )
    printed = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, cwd="/"
    ).stdout.split()
    assert len(printed) == 3
    for folder in printed:
        assert "/site-packages/ticketctl/_data/" in folder, folder
    assert sys.prefix not in printed[0]


def test_installed_package_holds_no_test_infrastructure(installed: Path) -> None:
    """The Elasticsearch analysis plugin (tests/search-plugin) and the image recipes are for tests and the
    quick start only: nothing of them ships."""
    python = installed.parent / "python"
    code = "import ticketctl, pathlib; print(pathlib.Path(ticketctl.__file__).parent)"
    package = Path(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip())
    shipped = [path.relative_to(package).as_posix() for path in package.rglob("*") if path.is_file()]
    assert shipped, package
    assert [name for name in shipped if name.endswith((".java", ".class", ".jar", "named_components.json"))] == []
    assert [name for name in shipped if "search-plugin" in name or "Dockerfile" in name] == []
