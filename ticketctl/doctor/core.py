"""``ticketctl doctor``: named health checks that run in parallel, each with its own timeout.

A check is a function of a :class:`CheckContext` that returns an
:class:`Outcome` (or raises a :class:`~ticketctl.errors.TicketctlError`, which
becomes a failure whose fix is the error's hint). Checks never change the
stack and never print; :func:`run_checks` returns a :class:`DoctorReport`.

Checks run on daemon threads so that one that hangs past its timeout can
neither delay the report nor keep the process alive. A check may name others it
needs (``needs``); it starts once they pass, and is skipped when they fail, so
a stopped server gives one failure and not ten.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, cast

from ticketctl.config.masking import scrub_known
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings
from ticketctl.errors import ConfigError, ExitCode, TicketctlError
from ticketctl.parallel import Worker

_Shared = TypeVar("_Shared")


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Outcome:
    """What a check found: a status, one line of summary and, when not OK, one line of fix."""

    status: Status
    summary: str
    fix: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, summary: str, **details: Any) -> Outcome:
        return cls(Status.OK, summary, None, details)

    @classmethod
    def warn(cls, summary: str, fix: str, **details: Any) -> Outcome:
        return cls(Status.WARN, summary, fix, details)

    @classmethod
    def fail(cls, summary: str, fix: str, **details: Any) -> Outcome:
        return cls(Status.FAIL, summary, fix, details)

    @classmethod
    def skip(cls, summary: str, **details: Any) -> Outcome:
        return cls(Status.SKIP, summary, None, details)


class CheckContext:
    """What checks share: settings, secrets and clients created once, thread-safely."""

    def __init__(self, settings: Settings, secrets: Secrets, timeout: float):
        self.settings = settings
        self.secrets = secrets
        self.timeout = timeout
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}

    def shared(self, key: str, factory: Callable[[], _Shared]) -> _Shared:
        """Create a client once per run (e.g. the Docker client), shared by the checks."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = _Pending()
            entry = self._cache[key]
        return cast(_Shared, entry.get(factory))


class _Pending:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def get(self, factory: Callable[[], Any]) -> Any:
        with self._lock:
            if not self._done:
                try:
                    self._value = factory()
                except BaseException as error:
                    self._error = error
                self._done = True
        if self._error is not None:
            raise self._error
        return self._value


@dataclass(frozen=True)
class Check:
    """A named check: ``group.name``; runnable alone with ``ticketctl doctor <group>``."""

    name: str
    description: str
    run: Callable[[CheckContext], Outcome]
    needs: tuple[str, ...] = ()
    needs_docker: bool = False

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class CheckResult:
    name: str
    group: str
    status: Status
    summary: str
    fix: str | None
    seconds: float
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "status": self.status.value,
            "summary": self.summary,
            "fix": self.fix,
            "seconds": round(self.seconds, 3),
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class DoctorReport:
    results: tuple[CheckResult, ...]
    seconds: float

    @property
    def problems(self) -> int:
        return sum(result.status in (Status.WARN, Status.FAIL) for result in self.results)

    @property
    def exit_code(self) -> ExitCode:
        statuses = {result.status for result in self.results}
        if Status.FAIL in statuses:
            return ExitCode.CHECKS_FAILED
        if Status.WARN in statuses:
            return ExitCode.WARNINGS
        return ExitCode.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": [result.as_dict() for result in self.results],
            "problems": self.problems,
            "total": len(self.results),
            "seconds": round(self.seconds, 3),
            "exit_code": int(self.exit_code),
        }


def all_checks(settings: Settings) -> list[Check]:
    """Every check, in report order."""
    from ticketctl.doctor import docker, host, mysql, redis, search, snapshots
    from ticketctl.stack.model import build_stack

    services = [service.name for service in build_stack(settings).active_services]
    return [
        *docker.docker_checks(services),
        *host.CHECKS,
        *mysql.mysql_checks(settings.mysql.databases),
        *redis.CHECKS,
        *search.CHECKS,
        *snapshots.snapshot_checks(tuple(database.key for database in settings.mysql.databases)),
    ]


def select_checks(checks: Iterable[Check], names: Iterable[str]) -> list[Check]:
    """Checks named by a group, a check or a prefix of checks (``mysql``, ``mysql.events``, ``redis.lock``)."""
    checks = list(checks)
    wanted = list(names)
    if not wanted:
        return checks

    def matches(check: Check, name: str) -> bool:
        return check.name == name or check.name.startswith(name + ".")

    unknown = [name for name in wanted if not any(matches(check, name) for check in checks)]
    if unknown:
        raise ConfigError(
            f"unknown check {unknown[0]!r}",
            hint=f"choose from: {', '.join(sorted({c.group for c in checks}))} ('ticketctl doctor --list')",
        )
    selected = [check for check in checks if any(matches(check, name) for name in wanted)]
    names_selected = {check.name for check in selected}
    # A selected check brings the checks it needs, so `doctor redis.lock` still pings first.
    extra = [c for c in checks if c.name not in names_selected and any(c.name in s.needs for s in selected)]
    return [check for check in checks if check in selected or check in extra]


def run_checks(
    settings: Settings,
    secrets: Secrets,
    *,
    names: Iterable[str] = (),
    timeout: float = 3.0,
    checks: list[Check] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> DoctorReport:
    """Run the selected checks in parallel; each gets ``timeout`` seconds."""
    started = time.monotonic()
    selected = select_checks(checks if checks is not None else all_checks(settings), names)
    context = CheckContext(settings, secrets, timeout)
    results: dict[str, CheckResult] = {}
    finished: queue.Queue[CheckResult] = queue.Queue()
    deadlines: dict[str, float] = {}
    waiting = {check.name: check for check in selected}
    selected_names = set(waiting)

    def record(result: CheckResult) -> None:
        results[result.name] = result
        if on_result is not None:
            on_result(result)

    def start_ready() -> None:
        for name, check in list(waiting.items()):
            needs = [need for need in check.needs if need in selected_names]
            if any(need not in results for need in needs):
                continue
            del waiting[name]
            failed = [need for need in needs if results[need].status in (Status.FAIL, Status.SKIP)]
            if not settings.docker_enabled and check.needs_docker:
                record(_result(check, Outcome.skip("skipped: docker.enabled is false (remote endpoints)"), 0.0))
            elif failed:
                record(_result(check, Outcome.skip(f"skipped: {failed[0]} did not pass"), 0.0))
            else:
                deadlines[name] = time.monotonic() + timeout
                Worker(_run_one, check, context, finished, name=f"doctor-{name}").start()

    start_ready()
    while len(results) < len(selected):
        if not deadlines:
            before = len(results)
            start_ready()
            if not deadlines and len(results) == before:
                for check in list(waiting.values()):
                    record(_result(check, Outcome.skip("skipped: a check it needs did not run"), 0.0))
                waiting.clear()
            continue
        soonest = min(deadlines.values())
        try:
            result = finished.get(timeout=max(0.0, soonest - time.monotonic()))
        except queue.Empty:
            for name, deadline in list(deadlines.items()):
                if deadline <= time.monotonic():
                    del deadlines[name]
                    check = next(c for c in selected if c.name == name)
                    outcome = Outcome.fail(f"no answer within {timeout:g}s", _timeout_fix(check))
                    record(_result(check, outcome, timeout))
            start_ready()
            continue
        if result.name in deadlines:
            del deadlines[result.name]
            record(result)
            start_ready()
    ordered = tuple(results[check.name] for check in selected)
    return DoctorReport(results=ordered, seconds=time.monotonic() - started)


def _timeout_fix(check: Check) -> str:
    return f"check that the {check.group} server is up and reachable, or raise --timeout"


def _run_one(check: Check, context: CheckContext, finished: queue.Queue[CheckResult]) -> None:
    started = time.monotonic()
    try:
        outcome = check.run(context)
    except TicketctlError as error:
        outcome = Outcome.fail(error.message, error.hint or "see the message")
    except Exception as error:  # a check must never take the report down
        outcome = Outcome.fail(f"{type(error).__name__}: {error}", "run with --debug and report it")
    finished.put(_result(check, outcome, time.monotonic() - started))


def _result(check: Check, outcome: Outcome, seconds: float) -> CheckResult:
    return CheckResult(
        name=check.name,
        group=check.group,
        status=outcome.status,
        summary=scrub_known(outcome.summary),
        fix=scrub_known(outcome.fix) if outcome.fix else None,
        seconds=seconds,
        details=outcome.details,
    )
