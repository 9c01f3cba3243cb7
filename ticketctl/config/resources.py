"""Where the packaged data folders are: templates, schemas and mappings.

In a wheel they live in ``ticketctl/_data/`` (hatchling's force-include copies
the repository's top-level folders there). In a source checkout or an editable
install they are the top-level folders next to the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@cache
def data_dir(name: str) -> Path:
    """The folder ``templates``, ``schemas`` or ``mappings`` shipped with ticketctl."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"ticketctl's {name}/ folder is missing from the installation")


def templates_dir() -> Path:
    return data_dir("templates")


def schemas_dir() -> Path:
    return data_dir("schemas")


def mappings_dir() -> Path:
    return data_dir("mappings")
