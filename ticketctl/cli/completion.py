"""Shell completion for bash, zsh and fish: the ``completion`` command and the names it completes.

The shell's script calls ``ticketctl`` back with ``_TICKETCTL_COMPLETE`` set;
:func:`enable_if_asked` registers the shells' completers only then, so a
normal run pays nothing for completion (Typer's own ``--install-completion``
and ``--show-completion`` stay off: they would add two options to every
``--help`` and detect the shell from the process tree). Service and database
names come from the settings and the stack model, read from files only: a
completion never asks a server, and never fails (it completes nothing instead).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from ticketctl.config.settings import Settings

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VARIABLE = "_TICKETCTL_COMPLETE"


def enable_if_asked() -> bool:
    """Register Typer's completers for bash, zsh and fish when the shell asks for completions; whether it did."""
    if not os.environ.get(COMPLETE_VARIABLE):
        return False
    from typer._completion_classes import completion_init

    completion_init()
    return True


def complete_shells(incomplete: str) -> list[str]:
    return [shell for shell in SHELLS if shell.startswith(incomplete)]


def completion_command(
    shell: str = typer.Argument(..., help="bash, zsh or fish.", autocompletion=complete_shells),
) -> None:
    """Print the completion script of a shell. Install it once:

    bash: ticketctl completion bash > ~/.local/share/bash-completion/completions/ticketctl

    zsh:  eval "$(ticketctl completion zsh)" in ~/.zshrc (or save it as _ticketctl in your $fpath)

    fish: ticketctl completion fish > ~/.config/fish/completions/ticketctl.fish
    """
    from typer._completion_classes import completion_init
    from typer._completion_shared import get_completion_script

    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r}: choose bash, zsh or fish", param_hint="SHELL")
    completion_init()
    typer.echo(get_completion_script(prog_name="ticketctl", complete_var=COMPLETE_VARIABLE, shell=shell))


# --------------------------------------------------------------------------- what is completed


def _settings(ctx: typer.Context) -> Settings | None:
    """The settings the command would use (``--config`` given before it included), or None."""
    from ticketctl.config.settings import load_settings

    root = ctx.find_root()
    config = root.params.get("config") if root.params else None
    try:
        return load_settings(config)
    except Exception:  # a broken settings file: complete nothing rather than print an error into the prompt
        return None


def complete_services(ctx: typer.Context, incomplete: str) -> list[str]:
    """The stack's service names (its profiles' too), minus those already on the command line."""
    from ticketctl.stack.model import build_stack

    settings = _settings(ctx)
    if settings is None:
        return []
    taken = set(ctx.params.get("services") or ())
    return [s.name for s in build_stack(settings).services if s.name.startswith(incomplete) and s.name not in taken]


def complete_service(ctx: typer.Context, incomplete: str) -> list[str]:
    """One service name (``exec``, ``env``)."""
    from ticketctl.stack.model import build_stack

    settings = _settings(ctx)
    if settings is None:
        return []
    return [service.name for service in build_stack(settings).services if service.name.startswith(incomplete)]


def complete_env_targets(ctx: typer.Context, incomplete: str) -> list[str]:
    """``env``'s targets: the servers by role, then the application services."""
    from ticketctl.stack.model import build_stack

    settings = _settings(ctx)
    if settings is None:
        return []
    names = ["mysql", "redis", "search"] + [s.name for s in build_stack(settings).services if s.role == "application"]
    return [name for name in names if name.startswith(incomplete)]


def complete_databases(ctx: typer.Context, incomplete: str) -> list[str]:
    settings = _settings(ctx)
    if settings is None:
        return []
    return [database.key for database in settings.mysql.databases if database.key.startswith(incomplete)]


def complete_formats(incomplete: str) -> list[str]:
    from ticketctl.stack.connections import FORMATS

    return [fmt for fmt in FORMATS if fmt.startswith(incomplete)]
