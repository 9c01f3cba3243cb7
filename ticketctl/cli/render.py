"""``ticketctl render``: write the stack's files from the templates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ticketctl.cli.common import JSON_OPTION, flag, load, print_json, print_warning

if TYPE_CHECKING:
    from ticketctl.settings import Settings


def register(app: typer.Typer) -> None:
    app.command("render")(render_command)


def render_command(
    ctx: typer.Context,
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        metavar="DIR",
        help="Folder to write into (default: output_dir setting, '.'; for kubernetes: <output_dir>/kubernetes).",
    ),
    target: str = typer.Option(
        "compose",
        "--target",
        "-t",
        help="compose: docker-compose.yml, .env, .env.example, MySQL init script; "
        "kubernetes: manifests and kustomization.yaml for 'kubectl apply -k', secrets from <output_dir>/.env; "
        "mermaid: the infrastructure diagram on stdout.",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Render docker-compose.yml, .env (secrets generated once, mode 0600) and .env.example, or Kubernetes manifests.

    Rendering again with the same settings leaves every file byte-identical and
    never changes an existing secret.
    """
    if target == "kubernetes":
        _render_kubernetes(load(ctx), out, json_output)
        return
    overrides = {"output_dir": flag(str(out.resolve()) if out else None, "--out")}
    settings = load(ctx, overrides)
    if target == "mermaid":
        from ticketctl.diagram import infrastructure_mermaid
        from ticketctl.stack import build_stack

        typer.echo(infrastructure_mermaid(build_stack(settings)), nl=False)
        return
    if target != "compose":
        raise typer.BadParameter(
            f"unknown target {target!r}; use compose, kubernetes or mermaid", param_hint="--target"
        )
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


def _render_kubernetes(settings: Settings, out: Path | None, json_output: bool) -> None:
    """``--out`` is the manifests' folder here; ``.env`` stays in the output_dir setting's folder."""
    from ticketctl.kubernetes import SECRET_FILE, render_kubernetes

    result = render_kubernetes(settings, output_dir=out.resolve() if out else None)
    if json_output:
        print_json(result.as_dict())
        return
    for warning in result.warnings:
        print_warning(warning)
    typer.echo(f"Rendered Kubernetes manifests of project {settings.project!r} into {result.output_dir}")
    for written in result.files:
        path = written.path
        shown = path.relative_to(result.output_dir) if path.is_relative_to(result.output_dir) else path
        note = ""
        if path.name == ".env":
            note = f" (mode 0600; generated {', '.join(result.generated_secrets)})"
        elif path.name == SECRET_FILE and written.status != "removed":
            note = " (mode 0600; the passwords of .env)"
        typer.echo(f"  {written.status:<9} {shown}{note}")
    folder = result.output_dir
    typer.echo(f"Review with 'kubectl kustomize {folder}', then apply with 'kubectl apply -k {folder}'.")
