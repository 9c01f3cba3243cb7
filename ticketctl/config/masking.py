"""The one masking mechanism: a secret this process knows never reaches the terminal.

Secrets become known as they are read: the stack's passwords from ``.env`` or the
environment (:class:`~ticketctl.config.secrets.Secrets`), and the password in the
userinfo of a URL-valued setting (``http://user:password@host``) when the settings
are read, before a bad value can be quoted in an error. :func:`scrub_known` replaces
each of them, and the percent-encoded or decoded form it takes inside a URL, with
``***``; it also masks the password of any URL with userinfo, known or not.

The CLI's boundary runs every byte written to stdout and stderr through
:func:`scrub_known` (:func:`masked_output`), so that a table, a progress line, a
JSON report, an error or a ``--debug`` traceback are all covered by the same rule.
Core code masks what it hands back from a server (container logs, health output)
with the same function.
"""

from __future__ import annotations

import io
import re
import sys
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TextIO

MASK = "***"
# Known values shorter than this are masked only where they stand as a URL's password:
# replacing every "pw" of every line would garble the output without protecting much.
MIN_KNOWN_LENGTH = 4
# scheme://user:password@ — the password part is masked whether or not it is known.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)(?P<password>[^\s/?#]*)@")

# Every secret value this process has read or generated, in every form it may be shown in.
_KNOWN: set[str] = set()


def remember(values: Iterable[str]) -> None:
    """Record secret values (and their URL-encoded forms) for :func:`scrub_known`."""
    for value in values:
        if value and len(value) >= MIN_KNOWN_LENGTH:
            _KNOWN.update(form for form in _forms(value) if len(form) >= MIN_KNOWN_LENGTH)


def _forms(value: str) -> set[str]:
    """A value as written and as it looks inside a URL: percent-encoded, or decoded if it was."""
    return {value, urllib.parse.quote(value, safe=""), urllib.parse.unquote(value)}


def url_password(url: str) -> str | None:
    """The password in a URL's userinfo (as written, percent-encoding included), or None."""
    match = _URL_PASSWORD.search(url)
    return match["password"] if match and match["password"] else None


def remember_url_credentials(url: str) -> None:
    """Record the password of a URL with userinfo, so that it is masked wherever it appears."""
    password = url_password(url)
    if password:
        remember([password])


def mask_url(url: str) -> str:
    """The URL with the password of its userinfo replaced by ``***`` (the user name stays)."""
    return _URL_PASSWORD.sub(lambda match: f"{match['head']}{MASK}@", url)


def scrub_known(text: str) -> str:
    """``text`` with every URL's password and every known secret replaced by ``***``."""
    text = mask_url(text)
    for value in sorted(_KNOWN, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


class MaskedStream(io.TextIOBase):
    """A text stream that writes everything through :func:`scrub_known` to the stream it wraps.

    Everything a terminal or a pipe needs (``isatty``, ``fileno``, ``encoding``) is the
    wrapped stream's; the binary ``buffer`` is not offered, so nothing can write around it.
    """

    def __init__(self, stream: TextIO):
        super().__init__()
        self.wrapped = stream

    def write(self, text: str) -> int:
        self.wrapped.write(scrub_known(text))
        return len(text)

    def flush(self) -> None:
        self.wrapped.flush()

    def isatty(self) -> bool:
        return self.wrapped.isatty()

    def fileno(self) -> int:
        return self.wrapped.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.wrapped, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.wrapped, "errors", None)

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self.wrapped, name)


def write_unmasked(text: str) -> None:
    """Write ``text`` to stdout around the masking: only for output that is the secrets, asked for by
    name (``ticketctl env --show-secrets``, the equivalent of ``docker compose config`` with its values)."""
    stream = sys.stdout.wrapped if isinstance(sys.stdout, MaskedStream) else sys.stdout
    stream.write(text)
    stream.flush()


@contextmanager
def masked_output() -> Iterator[None]:
    """stdout and stderr through :func:`scrub_known` for the duration (the CLI's whole run)."""
    original = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = MaskedStream(sys.stdout), MaskedStream(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError):  # a reader that went away (a closed pipe) is no reason for a traceback
                stream.flush()
        sys.stdout, sys.stderr = original
