"""Every command and command group of the Typer app, in the order ``ticketctl --help`` lists them.

Each command module keeps its top-level imports light (no docker, pymysql or
search clients) so that ``ticketctl --help`` and ``ticketctl render`` start fast.
A run that names its command registers that one alone (:func:`register` with
``only``): Typer builds a Click command for everything registered, and building
all twenty of them cost more than ``render`` itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

import typer


@dataclass(frozen=True)
class Entry:
    """A top-level name, where its function (or sub-app) lives, and whether it is a group of commands."""

    name: str
    module: str  # under ticketctl.cli
    attribute: str
    group: bool = False
    context: str | None = None  # the attribute of the module holding the command's Click context settings


COMMANDS = (
    Entry("render", "render", "render_command"),
    Entry("config", "config", "config_command"),
    Entry("up", "stack", "up_command"),
    Entry("down", "stack", "down_command"),
    Entry("status", "stack", "status_command"),
    Entry("restart", "stack", "restart_command"),
    Entry("plan", "plan", "plan_command"),
    Entry("migrate", "migrate", "app", group=True),
    Entry("seed", "seed", "seed_command"),
    Entry("index", "index", "index_app", group=True),
    Entry("doctor", "doctor", "doctor_command"),
    Entry("snapshot", "snapshot", "app", group=True),
    Entry("secrets", "secrets", "app", group=True),
    Entry("logs", "logs", "logs_command"),
    Entry("env", "env", "env_command"),
    Entry("shell", "shell", "shell_app", group=True),
    Entry("exec", "shell", "exec_command", context="PASSTHROUGH"),
    Entry("version", "version", "version_command"),
    Entry("completion", "completion", "completion_command"),
)
NAMES = frozenset(entry.name for entry in COMMANDS)

# The app's own options (cli/main.py) that take a value: the token after them is not the command.
GLOBAL_OPTIONS_WITH_VALUE = ("--config", "-c")


def register(app: typer.Typer, only: str | None = None) -> None:
    """Add every command to ``app``, or only the one named ``only`` (and import only its module)."""
    for entry in COMMANDS:
        if only is not None and entry.name != only:
            continue
        module = importlib.import_module(f"ticketctl.cli.{entry.module}")
        target = getattr(module, entry.attribute)
        if entry.group:
            app.add_typer(target, name=entry.name)
        else:
            context = getattr(module, entry.context) if entry.context else None
            app.command(entry.name, context_settings=context)(target)


def invoked(args: Sequence[str]) -> str | None:
    """The command a command line runs, when it names one; None for the app's own help, version or a typo
    (those need every command: to list them, or to suggest the closest name)."""
    expect_value = False
    for arg in args:
        if expect_value:
            expect_value = False
        elif arg in GLOBAL_OPTIONS_WITH_VALUE:
            expect_value = True
        elif arg == "--" or not arg.startswith("-"):
            return arg if arg in NAMES else None
        elif arg in ("-h", "--help", "-V", "--version"):
            return None
    return None
