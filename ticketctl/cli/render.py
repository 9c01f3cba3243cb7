"""``ticketctl render``: write the stack's files from the templates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ticketctl.cli.common import JSON_OPTION, flag, load, print_json, print_warning

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ticketctl.config.settings import Settings
    from ticketctl.render.compose import NewSecretsCheck
    from ticketctl.render.files import RenderResult
    from ticketctl.runtime.docker import DockerRuntime


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
        _render_kubernetes(load(ctx, changes=True), out, json_output)
        return
    overrides = {"output_dir": flag(str(out.resolve()) if out else None, "--out")}
    settings = load(ctx, overrides, changes=target != "mermaid")
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
    from ticketctl.runtime.translate import writes_start_interval

    start_interval = writes_start_interval(settings, engine_api(settings))
    result = render(settings, start_interval=start_interval, check_new_secrets=new_secrets_check(settings))
    secrets_note = f"generated {', '.join(result.generated_secrets)}" if result.generated_secrets else "secrets kept"
    title = f"Rendered project {settings.project!r} into {result.output_dir}"
    _print_result(result, title, {".env": f" (mode 0600; {secrets_note})"}, json_output)


def engine_api(settings: Settings) -> str | None:
    """The API version of the Engine at hand, when the Compose file depends on it (docker.start_interval auto)."""
    if settings.docker_start_interval != "auto" or not settings.docker_enabled:
        return None
    from ticketctl.runtime.endpoint import engine_api_version

    return engine_api_version()


def new_secrets_check(settings: Settings) -> NewSecretsCheck:
    """Refuses secrets about to be generated when the project on the Engine at hand has data created with
    others (a lost .env); the Engine is asked only then, and without one there is no data here to protect."""

    def check(values: Mapping[str, str], generated: tuple[str, ...]) -> None:
        if not settings.docker_enabled:
            return
        from ticketctl.clients.mysql import login_probe
        from ticketctl.runtime.data_secrets import check_new_secrets

        new = tuple(name for name in generated if not os.environ.get(name))
        in_effect = {**values, **{name: os.environ[name] for name in values if os.environ.get(name)}}
        check_new_secrets(settings, in_effect, new, _engine_or_none, login_probe(settings))

    return check


def _engine_or_none() -> DockerRuntime | None:
    from ticketctl.errors import DockerError
    from ticketctl.runtime.docker import DockerRuntime

    try:
        return DockerRuntime.connect(timeout=10)
    except DockerError:
        return None


def _render_kubernetes(settings: Settings, out: Path | None, json_output: bool) -> None:
    """``--out`` is the manifests' folder here; ``.env`` stays in the output_dir setting's folder."""
    from ticketctl.render.kubernetes import SECRET_FILE, render_kubernetes

    result = render_kubernetes(
        settings, output_dir=out.resolve() if out else None, check_new_secrets=new_secrets_check(settings)
    )
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
