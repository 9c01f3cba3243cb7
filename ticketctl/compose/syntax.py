"""The short syntaxes of a Compose file that both the loader and the Compose config hash read.

Durations: Compose reads ``interval: 1m30s`` with Go's duration syntax and, when
it hashes a service, writes it back with Go's ``time.Duration.String``
(``1m30s``, ``1m0s``, ``500ms``). Ports: ``[HOST_IP:][HOST_PORT:]PORT[/PROTOCOL]``.
Both directions live here so that :mod:`ticketctl.compose.file` and
:mod:`ticketctl.compose.hash` agree on every value.
"""

from __future__ import annotations

import re
from typing import Any

PORT_RE = re.compile(
    r"^(?:(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?P<host>[0-9]+):)?(?P<container>[0-9]+)(?:/(?P<proto>tcp|udp|sctp))?$"
)
DURATION_PART_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(us|µs|ms|h|m|s)")
UNIT_SECONDS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
NANOSECONDS = 1_000_000_000


def parse_duration(value: Any) -> float:
    """Seconds of ``5s``, ``500ms``, ``1m30s`` or a bare number; ValueError for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if not text:
        raise ValueError("empty duration")
    position, total = 0, 0.0
    while position < len(text):
        match = DURATION_PART_RE.match(text, position)
        if match is None:
            raise ValueError(f"not a duration: {text!r}")
        total += float(match.group(1)) * UNIT_SECONDS[match.group(2)]
        position = match.end()
    return total


def go_duration(seconds: float) -> str:
    """``seconds`` as Go's ``time.Duration.String()`` writes it: ``1m30s``, ``1h0m0s``, ``500ms``, ``0s``."""
    nanos = round(seconds * NANOSECONDS)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < NANOSECONDS:
        for unit, size, digits in (("ms", 1_000_000, 6), ("µs", 1_000, 3), ("ns", 1, 0)):
            if nanos >= size:
                return sign + _decimal(nanos, size, digits) + unit
    hours, rest = divmod(nanos, 3600 * NANOSECONDS)
    minutes, rest = divmod(rest, 60 * NANOSECONDS)
    text = _decimal(rest, NANOSECONDS, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _decimal(value: int, size: int, digits: int) -> str:
    whole, fraction = divmod(value, size)
    if not fraction:
        return str(whole)
    return f"{whole}." + f"{fraction:0{digits}d}".rstrip("0")


def scalar(value: Any) -> str:
    """A YAML scalar as Compose reads it into a string: ``true``, ``3`` (not ``3.0``), text as it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
