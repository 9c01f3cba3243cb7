"""Reading a file that ticketctl is given or wrote before: one error for each way it can fail."""

from __future__ import annotations

from pathlib import Path

from ticketctl.errors import ConfigError


def read_text(
    path: Path, display: str, *, unreadable: str = "cannot read", missing: tuple[str, str] | None = None
) -> str:
    """The file's text; a :class:`ConfigError` naming it when it cannot be read.

    ``missing`` is the message and hint for a file that does not exist, where
    that has a fix of its own (render it, pass another path).
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        if missing is None:
            raise ConfigError(f"{display}: {unreadable}: {error}", hint="check the file's permissions") from error
        raise ConfigError(f"{display}: {missing[0]}", hint=missing[1]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{display}: {unreadable}: {error}", hint="check the file's permissions") from error
