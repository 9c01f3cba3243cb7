"""``ticketctl render``: write the stack's files from the templates."""

from __future__ import annotations

from pathlib import Path

import typer

from ticketctl.cli.common import JSON_OPTION, flag, load, print_json, print_warning


def register(app: typer.Typer) -> None:
    app.command("render")(render_command)


def render_command(
    ctx: typer.Context,
    out: Path = typer.Option(
        None, "--out", "-o", metavar="DIR", help="Folder to write into (default: output_dir setting, '.')."
    ),
    target: str = typer.Option(
        "compose",
        "--target",
        "-t",
        help="compose: docker-compose.yml, .env, .env.example, MySQL init script; "
        "mermaid: the infrastructure diagram on stdout.",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Render docker-compose.yml, .env (secrets generated once, mode 0600) and .env.example.

    Rendering again with the same settings leaves every file byte-identical and
    never changes an existing secret.
    """
    overrides = {"output_dir": flag(str(out.resolve()) if out else None, "--out")}
    settings = load(ctx, overrides)
    if target == "mermaid":
        from ticketctl.diagram import infrastructure_mermaid
        from ticketctl.stack import build_stack

        typer.echo(infrastructure_mermaid(build_stack(settings)), nl=False)
        return
    if target != "compose":
        raise typer.BadParameter(f"unknown target {target!r}; use compose or mermaid", param_hint="--target")
    from ticketctl.render import render

    result = render(settings)
    if json_output:
        print_json(result.as_dict())
        return
    for warning in result.warnings:
        print_warning(warning)
    typer.echo(f"Rendered project {settings.project!r} into {result.output_dir}")
    for written in result.files:
        note = ""
        if written.path.name == ".env":
            note = " (mode 0600"
            note += (
                f"; generated {', '.join(result.generated_secrets)})" if result.generated_secrets else "; secrets kept)"
            )
        typer.echo(f"  {written.status:<9} {written.path.relative_to(result.output_dir)}{note}")
