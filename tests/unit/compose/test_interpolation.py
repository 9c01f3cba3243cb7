"""Interpolation of ${VAR}, $VAR and $$ as Compose does it."""

from __future__ import annotations

import pytest

from ticketctl.compose.interpolation import interpolate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$$", "$"),
        ("a$$b", "a$b"),
        ('-p"$$MYSQL_ROOT_PASSWORD"', '-p"$MYSQL_ROOT_PASSWORD"'),
        ("${SET}", "value"),
        ("$SET-x", "value-x"),
        ("${UNSET}", ""),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${UNSET-fallback}", "fallback"),
        ("${SET:+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${UNSET:-${SET}}", "value"),
        ("${SET:?must be set}", "value"),
    ],
)
def test_interpolate_follows_compose(text: str, expected: str) -> None:
    assert interpolate(text, {"SET": "value", "EMPTY": ""}) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?UNSET is missing: run ticketctl render}", "UNSET is missing: run ticketctl render"),
        ("${EMPTY:?gone}", "gone"),
        ("${UNSET?}", "required variable UNSET is missing"),
        ("${OPEN", "unclosed"),
        ("$1", "use $$ for a literal $"),
        ("${A B}", "invalid interpolation"),
    ],
)
def test_interpolate_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("$", r"\$")):
        interpolate(text, {"EMPTY": ""})
