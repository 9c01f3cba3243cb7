"""``ticketctl config``: validate the settings and show where each value comes from."""

from __future__ import annotations

import typer

from ticketctl.cli.common import JSON_OPTION, load, print_json, print_table


def config_command(
    ctx: typer.Context,
    list_all: bool = typer.Option(False, "--list", help="List every setting: environment variable, default, help."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Validate the settings and print each effective value with its source (file:line, env var or default)."""
    from ticketctl.config.settings import describe_fields, effective_settings

    if list_all:
        fields = describe_fields()
        if json_output:
            print_json(fields)
            return
        _table(
            ["setting", "environment variable", "default", "meaning"],
            [[f["setting"], f["env"], _text(f["default"]), f["help"]] for f in fields],
        )
        return
    settings = load(ctx)
    rows = effective_settings(settings)
    if json_output:
        print_json({"config_file": str(settings.config_file) if settings.config_file else None, "settings": rows})
        return
    typer.echo(f"settings file: {settings.config_file or '(none: defaults and environment)'}")
    _table(["setting", "value", "source"], [[r["setting"], _text(r["value"]), r["source"]] for r in rows])


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "[]"
    return "" if value is None else str(value)


def _table(headers: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    table = Table(*headers, box=None, pad_edge=False, header_style="bold")
    for row in rows:
        table.add_row(*row)
    print_table(table)
