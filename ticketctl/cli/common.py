"""Shared pieces of the CLI: state, settings loading, output helpers.

Only the CLI imports typer and rich; rich is imported lazily so that commands
that print plain text start fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ticketctl.errors import ExitCode, TicketctlError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from ticketctl.config.secrets import Secrets
    from ticketctl.config.settings import Settings


@dataclass
class CliState:
    """Global options of one invocation."""

    config_path: str | None
    debug: bool


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if isinstance(root.obj, CliState):
        return root.obj
    return CliState(config_path=None, debug=False)


def load(
    ctx: typer.Context, overrides: Mapping[str, tuple[Any, str]] | None = None, *, changes: bool = False
) -> Settings:
    """Settings for this command: file < environment < the command's flags.

    Says on stderr which settings file is used when it is not the obvious one: a ``ticketctl.yaml``
    found in a parent folder, one that sets nothing, or (before a command that ``changes``
    something) none at all, so that a command run in the wrong folder does not silently act on
    the default project.
    """
    from ticketctl.config.settings import load_settings

    config_path = state(ctx).config_path
    settings = load_settings(config_path, overrides={k: v for k, v in (overrides or {}).items()})
    explicit = config_path is not None or bool(os.environ.get("TICKETCTL_CONFIG"))
    for line in settings_notes(settings, Path.cwd(), changes=changes, explicit=explicit):
        print_note(line)
    return settings


def load_with_secrets(
    ctx: typer.Context, overrides: Mapping[str, tuple[Any, str]] | None = None, *, changes: bool = False
) -> tuple[Settings, Secrets]:
    """:func:`load`, and the secrets in effect for those settings (:func:`secrets_of`)."""
    settings = load(ctx, overrides, changes=changes)
    return settings, secrets_of(settings)


def secrets_of(settings: Settings) -> Secrets:
    """The secrets in effect: the ``.env`` beside the rendered files, overridden by the environment."""
    from ticketctl.config.secrets import load_secrets

    return load_secrets(settings.output_dir, os.environ)


def settings_notes(settings: Settings, cwd: Path, *, changes: bool, explicit: bool = False) -> list[str]:
    """What the user should know about where the settings come from (see :func:`load`); nothing about a
    file named by --config or TICKETCTL_CONFIG but that it sets nothing."""
    from ticketctl.config.settings import CONFIG_FILENAME

    project = f"project {settings.project!r} ({settings.source_of('project')})"
    path = settings.config_file
    if path is None:
        # A project named in the environment or a flag is a choice; without Docker there is no project to mix up.
        if not changes or "project" in settings.sources or not settings.docker_enabled:
            return []
        return [
            f"no {CONFIG_FILENAME} in {cwd} or a parent folder: {project}, files in {settings.output_dir}; "
            f"write 'project: <name>' into a {CONFIG_FILENAME} to give this stack its own name"
        ]
    notes = []
    if path.parent != cwd and not explicit:
        notes.append(f"settings from {os.path.relpath(path, cwd)} ({project})")
    if settings.config_empty:
        notes.append(
            f"{os.path.relpath(path, cwd)} sets nothing (it is empty or holds only comments): {project}; "
            "write 'project: <name>' into it to give this stack its own name"
        )
    return notes


def flag(value: Any, name: str) -> tuple[Any, str]:
    """An override from a command-line flag, labelled with the flag for error messages."""
    return (value, name)


def _color_enabled(stream: Any) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TICKETCTL_NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def print_error(message: str, hint: str | None) -> None:
    """One line on stderr: the error and, after a dash, the fix (masked, like all output, by the CLI's boundary)."""
    text = message.strip().replace("\n", " ")
    if hint:
        text += f" — {hint.strip()}"
    prefix = "\x1b[31merror:\x1b[0m" if _color_enabled(sys.stderr) else "error:"
    sys.stderr.write(f"{prefix} {text}\n")
    sys.stderr.flush()


def print_note(message: str) -> None:
    """A note on stderr, for what the user should know but is not wrong (masked, like all output, by run())."""
    prefix = "\x1b[36mnote:\x1b[0m" if _color_enabled(sys.stderr) else "note:"
    sys.stderr.write(f"{prefix} {message}\n")
    sys.stderr.flush()


def print_warning(message: str) -> None:
    prefix = "\x1b[33mwarning:\x1b[0m" if _color_enabled(sys.stderr) else "warning:"
    sys.stderr.write(f"{prefix} {message}\n")


@contextmanager
def interruption(command: str, left: str, hint: str) -> Iterator[None]:
    """Turns a Ctrl-C inside into an error that says what state is ``left`` and what to do: Typer would exit 130
    silently."""
    try:
        yield
    except KeyboardInterrupt:
        raise TicketctlError(f"{command} interrupted: {left}", hint=hint, exit_code=ExitCode.INTERRUPTED) from None


def print_json(data: Any) -> None:
    """Machine output on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def console(stderr: bool = False) -> Console:
    """A rich console (imported on first use)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_table(table: Any) -> None:
    """A rich table on stdout; when stdout is not a terminal, as wide as its content, so no value is cut."""
    out = console()
    if not out.is_terminal:
        out.width = 100_000
        out.width = max(80, out.measure(table).maximum)
    out.print(table)


def confirmer(yes: bool) -> Callable[[str], bool]:
    """The confirm callback for the library: --yes agrees; a terminal asks (False when the user declines).

    Without a terminal nobody can answer: that is refused at once with the question in the error, so
    that a script's log says what would have happened and that ``--yes`` is the way to allow it.
    """

    def ask(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            from ticketctl.errors import AbortedError

            raise AbortedError(f"{question} No terminal to ask: refusing without confirmation", hint="add --yes")
        return typer.confirm(question, default=False, err=True)

    return ask


def progress_bars() -> Progress:
    """Started rich progress bars on stderr: description, bar, done/total, elapsed. Call ``stop()`` when done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=False,
    )
    progress.start()
    return progress


JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON for scripts.")
