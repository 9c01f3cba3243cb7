"""``ticketctl plan``: what ``up`` (with its initialisation) would do now, and what changed behind its back.

One answer from the same planning code the verbs use: the files ``render``
would write and the converge plan of :func:`ticketctl.project.preview_up`, the
pending migrations of :func:`ticketctl.initialise.preview_migrations`, the index
change of :func:`ticketctl.initialise.preview_index`, the drift that each of
those finds on the way (containers, the index), and, when asked, schema drift
(:mod:`ticketctl.migrations.drift`).

Everything here reads: Docker ``GET``s, ``SELECT`` and ``SHOW``, search
``GET``s. The one exception, only with ``schema_drift``, is the throwaway
shadow database that schema drift needs. The migrations and the index are read
after the containers, because whether a server that does not answer is an
error depends on what ``up`` would do to its container first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings
from ticketctl.errors import ExitCode, TicketctlError
from ticketctl.initialise import IndexPlan, ServerState, UsersPlan, preview_index, preview_migrations, preview_users
from ticketctl.migrations.reports import ACCOUNT_CREATED
from ticketctl.parallel import fan_out

if TYPE_CHECKING:
    from ticketctl.migrations.drift import DriftReport
    from ticketctl.migrations.reports import StatusReport
    from ticketctl.project import UpPreview
    from ticketctl.runtime.docker import DockerRuntime

Level = Literal["error", "warning", "notice"]


@dataclass(frozen=True)
class PlanOptions:
    """The arguments of ``up`` that change what it would do, and whether to compute schema drift."""

    render: bool = True
    services: tuple[str, ...] = ()
    force_recreate: bool = False
    remove_orphans: bool = False
    initialise: bool = True
    schema_drift: bool = False


@dataclass(frozen=True)
class Finding:
    """One line of the plan for a CI annotation: ``error`` for drift and what stops ``up``, ``notice`` for a
    change ``up`` would make, ``warning`` for what cannot be known yet."""

    level: Level
    section: Literal["files", "containers", "ports", "users", "migrations", "index", "schema", "plan"]
    message: str
    file: str | None = None
    line: int | None = None
    kind: Literal["change", "drift", "blocked", "unknown", "error", "note"] = "change"

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "section": self.section,
            "kind": self.kind,
            "message": self.message,
            "file": self.file,
            "line": self.line,
        }


@dataclass(frozen=True)
class SectionError:
    section: str
    error: TicketctlError

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "message": self.error.message,
            "hint": self.error.hint,
            "exit_code": int(self.error.exit_code),
        }


@dataclass(frozen=True)
class PlanReport:
    """The plan, section by section; a section that could not be read is in ``errors`` instead."""

    project: str
    stack: UpPreview | None
    migrations: StatusReport | None
    index: IndexPlan | None
    schema_drift: DriftReport | None = None
    users: UsersPlan | None = None
    notes: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # what cannot be read before up has started a server
    errors: tuple[SectionError, ...] = ()
    seconds: float = 0.0
    findings: tuple[Finding, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(_findings(self)))

    @property
    def changed(self) -> bool:
        return any(finding.kind == "change" for finding in self.findings)

    @property
    def drifted(self) -> bool:
        return any(finding.kind == "drift" for finding in self.findings)

    @property
    def blocked(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.kind == "blocked")

    @property
    def exit_code(self) -> ExitCode:
        """A section's error, then what stops ``up`` (its own code), then drift (10), then changes (20), else 0."""
        if self.errors:
            return self.errors[0].error.exit_code
        if self.blocked:
            return _blocked_code(self.blocked[0])
        if self.drifted:
            return ExitCode.DRIFT
        return ExitCode.CHANGES if self.changed else ExitCode.OK

    def as_dict(self, *, statements: bool = False) -> dict[str, Any]:
        return {
            "project": self.project,
            "changes": self.changed,
            "drift": self.drifted,
            "exit_code": int(self.exit_code),
            "stack": self.stack.as_dict() if self.stack else None,
            "users": self.users.as_dict() if self.users else None,
            "migrations": self.migrations.as_dict(statements=statements) if self.migrations else None,
            "index": self.index.as_dict() if self.index else None,
            "schema_drift": self.schema_drift.as_dict() if self.schema_drift else None,
            "findings": [finding.as_dict() for finding in self.findings],
            "notes": list(self.notes),
            "unknown": list(self.unknown),
            "errors": [error.as_dict() for error in self.errors],
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------------- the verb


def plan(
    settings: Settings,
    secrets: Secrets,
    runtime: DockerRuntime | None,
    options: PlanOptions | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> PlanReport:
    """What ``up`` with these options would do now, read without changing anything (see the module doc)."""
    from ticketctl.project import preview_up
    from ticketctl.stack.model import build_stack

    options = options or PlanOptions()
    started = time.monotonic()
    errors: list[SectionError] = []
    notes: list[str] = []
    stack: UpPreview | None = None
    if runtime is not None:
        try:
            stack = preview_up(
                settings,
                runtime,
                render=options.render,
                services=list(options.services) or None,
                force_recreate=options.force_recreate,
                remove_orphans=options.remove_orphans,
                environ=environ,
            )
        except TicketctlError as error:
            errors.append(SectionError("containers", error))
    else:
        notes.append("docker.enabled is false: no containers are planned; the servers of the settings are read")
    services = stack.started if stack is not None else frozenset(s.name for s in build_stack(settings).active_services)
    states = _server_states(settings, stack)

    def migrations() -> tuple[UsersPlan, StatusReport | None, str]:
        return preview_migrations(settings, secrets, services, states.get("mysql", "running"))

    def users() -> UsersPlan:
        return preview_users(settings, secrets, services, states.get("mysql", "running"))

    def index() -> IndexPlan:
        return preview_index(settings, secrets, services, states.get(settings.search.engine, "running"))

    def schema() -> DriftReport | None:
        from ticketctl.migrations.drift import drift

        if states.get("mysql", "running") != "running" or "mysql" not in services:
            notes.append("schema drift: MySQL is still to be started by up; nothing to compare yet")
            return None
        return drift(settings, secrets)

    tasks: dict[str, Callable[[], Any]] = {}
    if options.initialise:
        tasks |= {"migrations": migrations, "index": index}
    else:
        tasks["users"] = users
        notes.append("--no-init: the migrations and the index are not planned (the application users are)")
    if options.schema_drift:
        tasks["schema"] = schema
    outcomes = dict(zip(tasks, fan_out(_attempt, list(tasks.values()), name="plan"), strict=True))
    for section, (_, failure) in outcomes.items():
        if failure is not None:
            errors.append(SectionError(section, failure))
    users_plan, status, note = outcomes.get("migrations", (None, None))[0] or (
        outcomes.get("users", (None, None))[0],
        None,
        "",
    )
    unknown = [f"migrations: {note}"] if status is None and note and "mysql" in services else []
    notes += [f"migrations: {note}"] if note and not unknown else []
    if users_plan is not None and not users_plan.known:
        unknown.append(f"users: {users_plan.note}")
    index_plan: IndexPlan | None = outcomes.get("index", (None, None))[0]
    if index_plan is not None and index_plan.action == "unknown":
        unknown.append(f"index: {index_plan.note}")
    schema_report: DriftReport | None = outcomes.get("schema", (None, None))[0]
    if schema_report is not None:
        errors += [SectionError(f"schema drift of {d.name}", d.error) for d in schema_report.databases if d.error]
    return PlanReport(
        project=settings.project,
        stack=stack,
        migrations=status,
        index=index_plan,
        schema_drift=schema_report,
        users=users_plan,
        notes=tuple(notes),
        unknown=tuple(unknown),
        errors=tuple(errors),
        seconds=time.monotonic() - started,
    )


def _attempt(task: Callable[[], Any]) -> tuple[Any, TicketctlError | None]:
    try:
        return task(), None
    except TicketctlError as error:
        return None, error


def _server_states(settings: Settings, stack: UpPreview | None) -> dict[str, ServerState]:
    """How ``up`` would find MySQL and the search engine: left running, started first, or created on a new volume."""
    if stack is None:
        return {}
    states: dict[str, ServerState] = {}
    for service in stack.converge.services:
        volumes = {mount.volume for mount in service.service.mounts}
        new = [name for name in stack.converge.volumes if name.removeprefix(f"{settings.project}_") in volumes]
        if service.action == "unchanged" and service.existing is not None and service.existing.state == "running":
            states[service.service.name] = "running"
        elif volumes and len(new) == len(volumes):
            states[service.service.name] = "new"
        else:
            states[service.service.name] = "to_start"
    return states


# --------------------------------------------------------------------------- findings


def _findings(report: PlanReport) -> list[Finding]:
    found: list[Finding] = []
    if report.stack is not None:
        found += _stack_findings(report.stack)
    if report.users is not None:
        found += _user_findings(report.users)
    if report.migrations is not None:
        found += _migration_findings(report.migrations)
    if report.index is not None:
        found += _index_findings(report.index)
    if report.schema_drift is not None:
        found += _schema_findings(report.schema_drift)
    for error in report.errors:
        found.append(Finding("error", "plan", f"{error.section}: {error.error.message}", kind="error"))
    found += [Finding("warning", "plan", note, kind="unknown") for note in report.unknown]
    return found


def _stack_findings(stack: UpPreview) -> list[Finding]:
    found: list[Finding] = []
    if stack.render is not None:
        for written in stack.render.files:
            if written.status != "unchanged":
                found.append(Finding("notice", "files", f"{written.path.name} would be {written.status} by render"))
    converge = stack.converge
    for conflict in converge.port_conflicts:
        found.append(Finding("error", "ports", f"{conflict.describe()} — {conflict.fix}", kind="blocked"))
    for name in converge.name_conflicts:
        found.append(Finding("error", "containers", f"{name}: up cannot create it", kind="blocked"))
    for reference in converge.pulls:
        found.append(Finding("notice", "containers", f"image {reference} is not present: up pulls it"))
    for service in converge.services:
        name = service.service.name
        if service.action != "unchanged":
            why = "; ".join(change.describe() for change in service.changes)
            found.append(
                Finding("notice", "containers", f"{name}: {_verb(service.action)}" + (f": {why}" if why else ""))
            )
        for change in service.drift:
            found.append(
                Finding(
                    "error",
                    "containers",
                    f"{name} was changed outside ticketctl: {change.describe()} "
                    f"(up keeps it; 'ticketctl up --force-recreate {name}' puts it back)",
                    kind="drift",
                )
            )
    for orphan in converge.orphans:
        what = "up --remove-orphans removes it" if converge.remove_orphans else "kept (--remove-orphans removes it)"
        if converge.remove_orphans:
            found.append(Finding("notice", "containers", f"orphan {orphan.name}: {what}"))
        else:
            found.append(Finding("warning", "containers", f"orphan {orphan.name}: {what}", kind="note"))
    for network in converge.networks:
        found.append(Finding("notice", "containers", f"network {network} would be created"))
    for volume in converge.volumes:
        found.append(Finding("notice", "containers", f"volume {volume} would be created"))
    return found


def _verb(action: str) -> str:
    return {"created": "would be created", "recreated": "would be recreated", "started": "would be started"}.get(
        action, action
    )


def _user_findings(users: UsersPlan) -> list[Finding]:
    found: list[Finding] = []
    for account in users.accounts:
        on = account.name
        if account.action == ACCOUNT_CREATED:
            found.append(
                Finding("notice", "users", f"{account.user} would be created as the root user, with ALL on {on} only")
            )
        elif account.action is not None:
            found.append(Finding("notice", "users", f"{account.user}: its password would be set to the one in .env"))
    return found


def _migration_findings(report: StatusReport) -> list[Finding]:
    found: list[Finding] = []
    for database in report.databases:
        for problem in database.problems:
            found.append(
                Finding("error", "migrations", f"{database.name}: {problem.message} — {problem.hint}", kind="blocked")
            )
        for step in database.pending:
            migration = step.migration
            first = migration.statements[step.start - 1] if migration.statements else None
            resume = f" from statement {step.start}" if step.start > 1 else ""
            found.append(
                Finding(
                    "notice",
                    "migrations",
                    f"{database.name}: {migration.label} {migration.description} would be applied{resume} "
                    f"({len(step.statements)} statement(s))",
                    file=migration.display,
                    line=first.line if first is not None else None,
                )
            )
    return found


def _index_findings(index: IndexPlan) -> list[Finding]:
    found: list[Finding] = []
    if index.action == "create":
        found.append(Finding("notice", "index", f"{index.to_index} would be created with the alias {index.alias}"))
    elif index.action in ("in_place", "reindex"):
        what = ", ".join(f"{change.path} ({change.kind}, {change.action})" for change in index.changes)
        found.append(
            Finding(
                "error",
                "index",
                f"alias {index.alias} → {index.index} differs from the mapping file: {what}; {index.note}",
                kind="drift",
            )
        )
    elif index.action == "refused":
        found.append(Finding("error", "index", index.note, kind="blocked"))
    if index.drift is not None and index.drift.drifted:
        found.append(Finding("error", "index", f"{index.drift.index}: {index.drift.describe()}", kind="drift"))
    return found


def _schema_findings(report: DriftReport) -> list[Finding]:
    found: list[Finding] = []
    for database in report.databases:
        for difference in database.differences:
            found.append(Finding("error", "schema", f"{database.name}: {difference.describe()}", kind="drift"))
    return found


def _blocked_code(finding: Finding) -> ExitCode:
    return {"ports": ExitCode.PORT_CONFLICT, "migrations": ExitCode.MIGRATION, "containers": ExitCode.LOCKED}.get(
        finding.section, ExitCode.DRIFT
    )
