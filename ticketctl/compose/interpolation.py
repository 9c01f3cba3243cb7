"""Interpolation of a Compose file's ``${VAR}``, ``$VAR`` and ``$$``, the way Compose does it.

The process environment wins over ``.env``, as in Docker Compose.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ticketctl.config.masking import remember
from ticketctl.config.secrets import OPTIONAL_SECRETS, STACK_SECRETS, parse_env_text, read_env_file
from ticketctl.errors import ConfigError

VARIABLE_NAME_RE = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")


class InterpolationError(ValueError):
    pass


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
    ``${VAR?error}``, ``${VAR:+alternative}``, ``${VAR+alternative}`` and ``$$`` like Compose."""
    out: list[str] = []
    position = 0
    while True:
        dollar = text.find("$", position)
        if dollar < 0:
            out.append(text[position:])
            return "".join(out)
        out.append(text[position:dollar])
        following = text[dollar + 1 : dollar + 2]
        if following == "$":
            out.append("$")
            position = dollar + 2
        elif following == "{":
            end = _closing_brace(text, dollar + 2)
            out.append(_expand(text[dollar + 2 : end], variables))
            position = end + 1
        else:
            match = VARIABLE_NAME_RE.match(text, dollar + 1)
            if match is None:
                raise InterpolationError(
                    f"invalid interpolation at {text[dollar : dollar + 10]!r}: use $$ for a literal $"
                )
            out.append(variables.get(match.group(0), ""))
            position = match.end()


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    index = start
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise InterpolationError(f"unclosed '${{' in {text!r}")


def _expand(expression: str, variables: Mapping[str, str]) -> str:
    match = VARIABLE_NAME_RE.match(expression)
    if match is None:
        raise InterpolationError(f"invalid variable name in '${{{expression}}}'")
    name, rest = match.group(0), expression[match.end() :]
    value = variables.get(name)
    if rest == "":
        return value or ""
    for operator in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(operator):
            argument = rest[len(operator) :]
            return _apply_operator(name, value, operator, argument, variables)
    raise InterpolationError(f"invalid interpolation '${{{expression}}}'")


def _apply_operator(name: str, value: str | None, operator: str, argument: str, variables: Mapping[str, str]) -> str:
    unset_or_empty = not value
    missing = unset_or_empty if operator.startswith(":") else value is None
    if operator in (":-", "-"):
        return interpolate(argument, variables) if missing else value or ""
    if operator in (":?", "?"):
        if missing:
            raise InterpolationError(interpolate(argument, variables) or f"required variable {name} is missing")
        return value or ""
    return "" if missing else interpolate(argument, variables)


def interpolate_tree(node: Any, variables: Mapping[str, str], path: str, display: str) -> Any:
    if isinstance(node, str):
        try:
            return interpolate(node, variables)
        except InterpolationError as error:
            raise ConfigError(
                f"{display}: {path}: {error}",
                hint="run 'ticketctl render' to recreate .env, or export the variable",
            ) from None
    if isinstance(node, dict):
        return {
            key: interpolate_tree(value, variables, f"{path}.{key}" if path else str(key), display)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [interpolate_tree(value, variables, f"{path}[{index}]", display) for index, value in enumerate(node)]
    return node


def compose_variables(
    env_file: Path, environ: Mapping[str, str] | None = None, *, env_text: str | None = None
) -> dict[str, str]:
    """Variables for interpolation: ``.env`` beside the file (or ``env_text``, its content about to be
    written), overridden by the process environment."""
    environ = os.environ if environ is None else environ
    parsed = read_env_file(env_file) if env_text is None else parse_env_text(env_text, env_file)
    variables = dict(parsed.values) if parsed is not None else {}
    variables.update(environ)
    # The stack's secrets now live in this process: mask them in anything shown (logs, errors).
    remember([variables[spec.name] for spec in (*STACK_SECRETS, *OPTIONAL_SECRETS) if variables.get(spec.name)])
    return variables
