"""The ``ticketctl`` command: the one place where errors become exit codes.

:func:`run` is the console-script entry point. It calls :func:`program` and
turns every :class:`~ticketctl.errors.TicketctlError` into one line on stderr
and its exit code. Nothing else in ticketctl exits the process or prints a
traceback; ``--debug`` (or ``TICKETCTL_DEBUG=1``) prints the traceback first,
without locals, for developers. Everything the run writes to stdout and stderr
goes through :func:`~ticketctl.config.masking.masked_output`: no known secret and
no password of a URL reaches the terminal, whatever printed it.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import typer

from ticketctl import __version__
from ticketctl.cli import commands, completion
from ticketctl.cli.common import CliState, print_error
from ticketctl.config.masking import masked_output
from ticketctl.errors import ExitCode, TicketctlError


def make_app(only: str | None = None) -> typer.Typer:
    """The Typer app with its global options and every command, or only the command named ``only``."""
    app = typer.Typer(
        name="ticketctl",
        help=(
            "Provision and check the infrastructure of the ticketing system: one MySQL 8 server with "
            "the events, inventory and bookings databases, Redis for seat locks and caching, and "
            "Elasticsearch or OpenSearch for event search."
        ),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(main)
    commands.register(app, only)
    return app


def __getattr__(name: str) -> typer.Typer:
    """``app``: the whole app, for tests and tools that walk every command (a run builds only what it needs)."""
    if name == "app":
        return make_app()
    raise AttributeError(name)


def _version_callback(value: bool) -> None:
    """``-V``: one line, no server asked and nothing imported (``ticketctl version`` tells the rest)."""
    if value:
        import platform

        typer.echo(f"ticketctl {__version__} (Python {platform.python_version()})")
        raise typer.Exit()


def main(
    ctx: typer.Context,
    config: str = typer.Option(
        None,
        "--config",
        "-c",
        metavar="FILE",
        help="Settings file (default: ./ticketctl.yaml if present; also TICKETCTL_CONFIG).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error (known secrets masked)."),
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version_callback,
        is_eager=True,
        help="Print ticketctl's and Python's version and exit (`ticketctl version` also asks the servers).",
    ),
) -> None:
    """Global options; the command follows them."""
    ctx.obj = CliState(config_path=config, debug=debug)


def program(args: Sequence[str] | None = None) -> int:
    """Run the CLI without catching ticketctl errors; returns the exit code."""
    given = list(args) if args is not None else sys.argv[1:]
    asked = completion.enable_if_asked()
    command = typer.main.get_command(make_app(None if asked else commands.invoked(given)))
    result = command.main(args=hoist_global_flags(given), prog_name="ticketctl", standalone_mode=False)
    return int(result) if isinstance(result, int) else 0


GLOBAL_FLAGS = ("--debug",)


def hoist_global_flags(args: Sequence[str]) -> list[str]:
    """Move ``--debug`` before the command, so ``ticketctl up --debug`` works as git and Compose allow.

    Click accepts a group's options only before the subcommand. Only flags that take no value are
    moved, and nothing after ``--`` (there it is an argument, not an option).
    """
    end = list(args).index("--") if "--" in args else len(args)
    hoisted = [arg for arg in args[:end] if arg in GLOBAL_FLAGS]
    rest = [arg for arg in args[:end] if arg not in GLOBAL_FLAGS]
    return [*dict.fromkeys(hoisted), *rest, *args[end:]]


def run(args: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI, its output masked, and map every outcome to an exit code."""
    with masked_output():
        code = _run_and_map(args)
    raise SystemExit(code)


def _run_and_map(args: Sequence[str] | None) -> int:
    given = list(args) if args is not None else sys.argv[1:]
    debug = os.environ.get("TICKETCTL_DEBUG", "") not in ("", "0") or "--debug" in hoist_global_flags(given)[:1]
    try:
        code = program(given)
    except TicketctlError as error:
        if debug:
            _print_traceback(error)
        print_error(error.message, error.hint)
        code = int(error.exit_code)
    except typer.Abort as abort:
        interrupted = isinstance(abort.__cause__, KeyboardInterrupt)
        print_error("interrupted" if interrupted else "aborted", None)
        code = ExitCode.INTERRUPTED if interrupted else ExitCode.ABORTED
    except KeyboardInterrupt:
        print_error("interrupted", "run the command again; it resumes or converges where it stopped")
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        code = ExitCode.OK
    except Exception as error:  # the last line of defence: a bug, shown without locals or secrets
        if _is_usage_error(error):
            error.show()  # type: ignore[attr-defined]
            return int(error.exit_code)  # type: ignore[attr-defined]
        if debug:
            _print_traceback(error)
        print_error(
            f"internal error: {type(error).__name__}: {error}",
            "run again with --debug for the traceback and report it",
        )
        code = ExitCode.FAILURE
    sys.stdout.flush()
    return int(code)


def _print_traceback(error: BaseException) -> None:
    """The traceback for --debug: frames and messages only (no locals); masked like every other output."""
    sys.stderr.write("".join(traceback.format_exception(error)))
    sys.stderr.flush()


def _is_usage_error(error: Exception) -> bool:
    """Click's own errors (bad option, missing argument), whichever click typer bundles."""
    return hasattr(error, "show") and isinstance(getattr(error, "exit_code", None), int)
