"""``ticketctl env``: the connection settings to run a service outside Docker, as dotenv, shell or JSON."""

from __future__ import annotations

import sys

import typer

from ticketctl.cli.common import JSON_OPTION, load_with_secrets
from ticketctl.cli.completion import complete_env_targets, complete_formats


def env_command(
    ctx: typer.Context,
    service: str | None = typer.Argument(
        None,
        help="An application service (e.g. booking-service), or mysql, redis or search. Default: the whole stack.",
        autocompletion=complete_env_targets,
    ),
    fmt: str = typer.Option(
        "dotenv", "--format", "-f", metavar="FORMAT", help="dotenv, shell or json.", autocompletion=complete_formats
    ),
    show_secrets: bool = typer.Option(
        False, "--show-secrets", help="Print the passwords (in URLs too) instead of ***."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Print the variables a program needs to reach the stack from this machine: per-database URLs with each
    database's user, the Redis URL, the search URL; for an application service, exactly what its container gets.

    Feed it to a process: `ticketctl env booking-service --show-secrets > .env.local`, or
    `eval "$(ticketctl env --format shell --show-secrets)"`.
    """
    from ticketctl.config.masking import write_unmasked
    from ticketctl.stack.connections import FORMATS, connection_environment, format_environment

    chosen = "json" if json_output else fmt
    if chosen not in FORMATS:
        raise typer.BadParameter(f"{fmt!r}: use one of {', '.join(FORMATS)}", param_hint="--format")
    settings, secrets = load_with_secrets(ctx)
    environment = connection_environment(settings, secrets, service)
    text = format_environment(environment, chosen, show_secrets=show_secrets)
    if show_secrets:  # the output is the secrets, asked for by name: around the masking of every other output
        write_unmasked(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    if environment.has_secrets and not show_secrets:
        typer.echo("note: secrets are shown as ***; add --show-secrets to print them", err=True)
