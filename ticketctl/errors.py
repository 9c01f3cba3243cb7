"""The one exception hierarchy of ticketctl.

Every error that a user can cause or fix is a :class:`TicketctlError`. It
carries a one-line message, an optional one-line hint (the fix), and a named
exit code. The CLI catches it at a single boundary (``ticketctl.cli.main``)
and prints ``error: <message>`` plus ``hint: <hint>``, never a traceback.
Third-party exceptions are translated into these where the SDK is called.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; stable, documented in the README."""

    OK = 0
    FAILURE = 1  # an unexpected internal error (a bug)
    USAGE = 2  # bad command-line usage (Typer/Click's own code)
    CONFIG = 3  # invalid settings, template, mapping or migration file
    DOCKER = 4  # Docker daemon unreachable or an Engine/API failure
    PORT_CONFLICT = 5  # a host port is taken
    UNHEALTHY = 6  # a service did not become healthy in time
    DATABASE = 7  # MySQL unreachable, denied, or a statement failed
    MIGRATION = 8  # migration refused: checksum mismatch, out of order, failed earlier
    SEARCH = 9  # search engine unreachable, red, or a request refused
    DRIFT = 10  # a check found live state differing from the files (status/diff)
    LOCKED = 11  # another ticketctl holds the lock
    REDIS = 12  # Redis unreachable or misconfigured
    PENDING = 13  # work is pending (migrate status --exit-code)
    WARNINGS = 14  # doctor: only warnings
    MISSING = 15  # the thing asked about does not exist (index status)
    ABORTED = 16  # the user declined a confirmation
    IO = 17  # a file could not be written or read
    CHECKS_FAILED = 18  # doctor: at least one check failed
    NOT_EMPTY = 19  # seed: the tables hold data and no --replace said what to do with it
    CHANGES = 20  # plan: up would change something (and nothing drifted)
    INTERRUPTED = 130  # Ctrl-C


class TicketctlError(Exception):
    """Base of every expected error: a message, a hint and an exit code."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ConfigError(TicketctlError):
    """Settings, a template, a mapping or another input file is invalid."""

    exit_code = ExitCode.CONFIG


class FileWriteError(TicketctlError):
    """A rendered file could not be written; the old file is left intact."""

    exit_code = ExitCode.IO


class DockerError(TicketctlError):
    """The Docker Engine is unreachable or refused a request."""

    exit_code = ExitCode.DOCKER


class PortConflictError(TicketctlError):
    """A host port that the stack needs is already taken."""

    exit_code = ExitCode.PORT_CONFLICT


class UnhealthyError(TicketctlError):
    """A service exited, turned unhealthy or did not become healthy in time."""

    exit_code = ExitCode.UNHEALTHY


class DatabaseError(TicketctlError):
    """MySQL is unreachable, denied access, or a statement failed."""

    exit_code = ExitCode.DATABASE


class MigrationError(TicketctlError):
    """A migration was refused or failed."""

    exit_code = ExitCode.MIGRATION


class SearchError(TicketctlError):
    """The search engine is unreachable, red, or refused a request."""

    exit_code = ExitCode.SEARCH


class RedisError(TicketctlError):
    """Redis is unreachable or misconfigured."""

    exit_code = ExitCode.REDIS


class DriftError(TicketctlError):
    """Live state differs from the files in a way this command will not resolve by itself."""

    exit_code = ExitCode.DRIFT


class MissingError(TicketctlError):
    """The thing asked about (an index, a version) does not exist."""

    exit_code = ExitCode.MISSING


class LockedError(TicketctlError):
    """Another ticketctl process holds the lock this one needs."""

    exit_code = ExitCode.LOCKED


class AbortedError(TicketctlError):
    """The user declined a confirmation; nothing was changed."""

    exit_code = ExitCode.ABORTED
