"""Line numbers of the keys and items of a JSON document.

Python's :mod:`json` tells where a *syntax* error is, but not where a valid
key sits. Errors about the mapping's content ("unknown field type [strng]")
must still name ``mappings/events.json:41``, so this module walks the text
once more and records the line of every key path, e.g.
``("mappings", "properties", "name", "type") -> 29``. The same walk finds keys
written twice in one object, which :mod:`json` accepts silently (the last wins).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class DuplicateKey:
    """A key written twice in the same object: its path and both lines."""

    path: JsonPath
    line: int
    first_line: int

    @property
    def dotted(self) -> str:
        return ".".join(str(part) for part in self.path)


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def key_lines(text: str) -> dict[JsonPath, int]:
    """Map each key path of a valid JSON text to the 1-based line where it starts.

    The text must already have parsed with :func:`json.loads`; this function
    does not report syntax errors, it stops quietly at the first surprise.
    """
    return scan_keys(text)[0]


def scan_keys(text: str) -> tuple[dict[JsonPath, int], list[DuplicateKey]]:
    """The line of each key path (as :func:`key_lines`) and every key written twice in one object."""
    walker = _Walker(text, {(): 1})
    with contextlib.suppress(IndexError, ValueError):
        walker.value(_skip(text, 0), ())
    return walker.lines, walker.duplicates


def _skip(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


class _Walker:
    def __init__(self, text: str, lines: dict[JsonPath, int]):
        self.text = text
        self.lines = lines
        self.duplicates: list[DuplicateKey] = []

    def line_at(self, position: int) -> int:
        return self.text.count("\n", 0, position) + 1

    def value(self, position: int, path: JsonPath) -> int:
        char = self.text[position]
        if char == "{":
            return self.object(position + 1, path)
        if char == "[":
            return self.array(position + 1, path)
        if char == '"':
            return self.string(position)[1]
        match = _SCALAR.match(self.text, position)
        if match is None:
            raise ValueError(f"unexpected character at {position}")
        return match.end()

    def string(self, position: int) -> tuple[str, int]:
        """The decoded string starting at the quote at ``position``, and the position after it."""
        match = _STRING.match(self.text, position)
        if match is None:
            raise ValueError(f"unterminated string at {position}")
        return str(json.loads(match.group(0))), match.end()

    def object(self, position: int, path: JsonPath) -> int:
        position = _skip(self.text, position)
        if self.text[position] == "}":
            return position + 1
        while True:
            key_start = position
            key, position = self.string(position)
            child = (*path, key)
            line = self.line_at(key_start)
            if child in self.lines:  # a path names one object's key: seen before means written twice
                self.duplicates.append(DuplicateKey(child, line, self.lines[child]))
            self.lines.setdefault(child, line)
            position = _skip(self.text, position)  # at ':'
            position = self.value(_skip(self.text, position + 1), child)
            position = _skip(self.text, position)
            if self.text[position] == "}":
                return position + 1
            position = _skip(self.text, position + 1)  # after ','

    def array(self, position: int, path: JsonPath) -> int:
        position = _skip(self.text, position)
        if self.text[position] == "]":
            return position + 1
        index = 0
        while True:
            child = (*path, index)
            self.lines.setdefault(child, self.line_at(position))
            position = _skip(self.text, self.value(position, child))
            if self.text[position] == "]":
                return position + 1
            position = _skip(self.text, position + 1)
            index += 1
