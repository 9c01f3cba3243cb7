"""``ticketctl version``: ticketctl, Python, the libraries, and the versions of the stack's servers."""

from __future__ import annotations

import typer

from ticketctl.cli.common import JSON_OPTION, load, print_json, secrets_of


def version_command(
    ctx: typer.Context,
    client: bool = typer.Option(False, "--client", help="Only this machine's side: ask no server."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Print the versions of ticketctl, Python and its libraries, and of the Docker Engine, MySQL, Redis and the
    search engine when they answer (each within 3 s; one that does not is shown with the reason)."""
    from ticketctl.about import versions

    settings = None if client else load(ctx)
    secrets = None if settings is None else secrets_of(settings)
    found = versions(settings, secrets)
    if json_output:
        print_json(found.as_dict())
        return
    typer.echo(f"ticketctl {found.ticketctl}")
    typer.echo(f"Python     {found.python}")
    typer.echo(f"platform   {found.platform}")
    typer.echo(f"Compose    {found.compose} (the config hash its containers carry)")
    libraries = ", ".join(f"{lib.name} {lib.version or '-'}" for lib in found.libraries)
    typer.echo(f"libraries  {libraries}")
    if found.servers is None:
        return
    typer.echo("servers:")
    for server in found.servers:
        shown = server.version or "unreachable"
        typer.echo(f"  {server.name:<14} {shown}" + (f"  {server.detail}" if server.detail else ""))
