"""Option groups: flags that several commands share, declared once and received as one value.

Typer builds a command's options from its function's signature, so a flag that eight
commands take would otherwise be written into eight signatures (and its parsing into eight
bodies). A group is a frozen dataclass whose fields carry their Typer option in
``Annotated``; a command names the group once, as a parameter whose default is
:func:`group`, and :func:`expand_groups` puts the group's options into the signature Typer
reads, at that parameter's place (so ``--help`` lists them where the command put them), and
calls the command with the dataclass built from their values. A command that does not take
some of a group's flags names them in ``without``; those fields get their option's default.
The apps whose commands take groups are :class:`GroupedTyper`, which registers every command
that way, so that none can forget it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import typer
from typer.models import OptionInfo

T = TypeVar("T")
CommandT = TypeVar("CommandT", bound=Callable[..., Any])


class _Group(NamedTuple):
    """The default of a command's group parameter: which group, and which of its flags the command lacks."""

    cls: type
    without: tuple[str, ...]


def group(cls: type[T], *, without: tuple[str, ...] = ()) -> T:
    """The default of a parameter that receives the option group ``cls`` (see :func:`expand_groups`)."""
    return cast(T, _Group(cls, without))


@functools.cache
def _options_of(cls: type) -> dict[str, tuple[Any, OptionInfo]]:
    """Each field of a group with its type and its Typer option (``Annotated[type, typer.Option(...)]``); once per
    group, as every command that takes it is registered at import."""
    hints = typing.get_type_hints(cls, include_extras=True)
    options: dict[str, tuple[Any, OptionInfo]] = {}
    for field in dataclasses.fields(cls):
        annotated = hints[field.name]
        extras = [extra for extra in getattr(annotated, "__metadata__", ()) if isinstance(extra, OptionInfo)]
        if len(extras) != 1:
            raise TypeError(f"{cls.__name__}.{field.name}: an option group's field is Annotated[type, typer.Option()]")
        options[field.name] = (typing.get_args(annotated)[0], extras[0])
    return options


def expand_groups(command: CommandT) -> CommandT:
    """``command`` with each group parameter replaced, in the signature Typer reads, by the group's options;
    called with their values, it builds the group and calls ``command`` with it."""
    signature = inspect.signature(command)  # annotations as written: Typer resolves them when it builds the command
    parameters: list[inspect.Parameter] = []
    groups: dict[str, tuple[type[Any], list[str], dict[str, Any]]] = {}
    for parameter in signature.parameters.values():
        marker = parameter.default
        if not isinstance(marker, _Group):
            parameters.append(parameter)
            continue
        options = _options_of(marker.cls)
        unknown = set(marker.without) - set(options)
        if unknown:
            raise TypeError(f"{command.__name__}: {marker.cls.__name__} has no option {', '.join(sorted(unknown))}")
        taken = [name for name in options if name not in marker.without]
        omitted = {name: options[name][1].default for name in marker.without}
        groups[parameter.name] = (marker.cls, taken, omitted)
        for name in taken:
            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
            parameters.append(inspect.Parameter(name, kind, default=options[name][1], annotation=options[name][0]))

    @functools.wraps(command)
    def expanded(**values: Any) -> Any:
        for name, (cls, taken, omitted) in groups.items():
            values[name] = cls(**{field: values.pop(field) for field in taken}, **omitted)
        return command(**values)

    expanded_signature = signature.replace(parameters=parameters)
    vars(expanded)["__signature__"] = expanded_signature  # inspect.signature reads it before __wrapped__
    expanded.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return cast(CommandT, expanded)


class GroupedTyper(typer.Typer):
    """A Typer app whose commands and callback may take option groups: each is registered through
    :func:`expand_groups` (the function itself stays as written, callable with a group)."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[CommandT], CommandT]:
        return _expanding(super().command(*args, **kwargs))

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[CommandT], CommandT]:
        return _expanding(super().callback(*args, **kwargs))


def _expanding(register: Callable[[Callable[..., Any]], Any]) -> Callable[[CommandT], CommandT]:
    def expand_and_register(function: CommandT) -> CommandT:
        register(expand_groups(function))
        return function

    return expand_and_register
