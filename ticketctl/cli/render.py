"""``ticketctl render``: write the stack's files from the templates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ticketctl.cli.common import JSON_OPTION, flag, load, print_json, print_warning

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ticketctl.config.settings import Settings
    from ticketctl.render.files import RenderResult


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
        from ticketctl.render.diagram import infrastructure_mermaid
        from ticketctl.stack.model import build_stack

        typer.echo(infrastructure_mermaid(build_stack(settings)), nl=False)
        return
    if target != "compose":
        raise typer.BadParameter(
            f"unknown target {target!r}; use compose, kubernetes or mermaid", param_hint="--target"
        )
    from ticketctl.render.compose import render

    result = render(settings)
    secrets_note = f"generated {', '.join(result.generated_secrets)}" if result.generated_secrets else "secrets kept"
    title = f"Rendered project {settings.project!r} into {result.output_dir}"
    _print_result(result, title, {".env": f" (mode 0600; {secrets_note})"}, json_output)


def _render_kubernetes(settings: Settings, out: Path | None, json_output: bool) -> None:
    """``--out`` is the manifests' folder here; ``.env`` stays in the output_dir setting's folder."""
    from ticketctl.render.kubernetes import SECRET_FILE, render_kubernetes

    result = render_kubernetes(settings, output_dir=out.resolve() if out else None)
    notes = {
        ".env": f" (mode 0600; generated {', '.join(result.generated_secrets)})",
        SECRET_FILE: " (mode 0600; the passwords of .env)",
    }
    title = f"Rendered Kubernetes manifests of project {settings.project!r} into {result.output_dir}"
    _print_result(result, title, notes, json_output)
    if not json_output:
        folder = result.output_dir
        typer.echo(f"Review with 'kubectl kustomize {folder}', then apply with 'kubectl apply -k {folder}'.")


def _print_result(result: RenderResult, title: str, notes: Mapping[str, str], json_output: bool) -> None:
    """Warnings on stderr, then each file with its status (paths inside the folder shown relative to it)."""
    if json_output:
        print_json(result.as_dict())
        return
    for warning in result.warnings:
        print_warning(warning)
    typer.echo(title)
    for written in result.files:
        path = written.path
        shown = path.relative_to(result.output_dir) if path.is_relative_to(result.output_dir) else path
        note = notes.get(path.name, "") if written.status != "removed" else ""
        typer.echo(f"  {written.status:<9} {shown}{note}")
