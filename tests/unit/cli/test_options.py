"""Option groups: declared once as a dataclass, expanded into each command's options in place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from ticketctl.cli.options import GroupedTyper, expand_groups, group


@dataclass(frozen=True)
class Target:
    url: Annotated[str | None, typer.Option(None, "--url", help="Server.")]
    limit: Annotated[int, typer.Option(5, "--limit", help="At most.")]
    verbose: Annotated[bool, typer.Option(False, "--verbose", help="More.")]


def _app() -> tuple[GroupedTyper, list[Any]]:
    app = GroupedTyper(rich_markup_mode=None)
    seen: list[Any] = []

    @app.command("all")
    def every_flag(
        name: str = typer.Option("x", "--name", help="First."),
        target: Target = group(Target),
        last: bool = typer.Option(False, "--last", help="Last."),
    ) -> None:
        """Takes the whole group between two options of its own."""
        seen.append((name, target, last))

    @app.command("some")
    def some_flags(target: Target = group(Target, without=("limit",))) -> None:
        """Takes the group but one of its flags."""
        seen.append(target)

    return app, seen


def test_the_group_arrives_as_one_value_built_from_its_flags() -> None:
    app, seen = _app()
    result = CliRunner().invoke(app, ["all", "--url", "http://h", "--limit", "7", "--verbose", "--last"])
    assert result.exit_code == 0, result.output
    assert seen == [("x", Target(url="http://h", limit=7, verbose=True), True)]


def test_flags_not_given_take_their_options_defaults() -> None:
    app, seen = _app()
    assert CliRunner().invoke(app, ["all"]).exit_code == 0
    assert seen == [("x", Target(url=None, limit=5, verbose=False), False)]


def test_help_lists_the_groups_options_where_the_command_put_the_group() -> None:
    app, _ = _app()
    text = CliRunner().invoke(app, ["all", "--help"]).output
    positions = [text.index(option) for option in ("--name", "--url", "--limit", "--verbose", "--last")]
    assert positions == sorted(positions)


def test_a_flag_left_out_is_not_an_option_and_gets_its_default() -> None:
    app, seen = _app()
    runner = CliRunner()
    assert "--limit" not in runner.invoke(app, ["some", "--help"]).output
    refused = runner.invoke(app, ["some", "--limit", "3"])
    assert refused.exit_code == 2
    assert "No such option" in refused.output
    assert runner.invoke(app, ["some", "--url", "u"]).exit_code == 0
    assert seen == [Target(url="u", limit=5, verbose=False)]


def test_the_registered_function_stays_callable_with_a_group() -> None:
    app = GroupedTyper()

    @app.command("one")
    def one(target: Target = group(Target)) -> Target:
        return target

    given = Target(url="u", limit=1, verbose=False)
    assert one(target=given) is given


def test_a_group_naming_a_flag_it_lacks_is_a_programming_error() -> None:
    def command(target: Target = group(Target, without=("limits",))) -> None: ...

    with pytest.raises(TypeError, match="Target has no option limits"):
        expand_groups(command)


@dataclass(frozen=True)
class Bare:
    url: str | None


def test_a_field_without_its_option_is_a_programming_error() -> None:
    def command(target: Bare = group(Bare)) -> None: ...

    with pytest.raises(TypeError, match=r"Bare\.url: an option group's field is Annotated"):
        expand_groups(command)
