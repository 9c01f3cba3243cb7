"""MySQL checks per database: reachable as its application user, rights on its own
database only, migrations neither pending, failed nor edited, and no schema drift."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ticketctl.config.settings import DatabaseSettings, MySQLSettings
from ticketctl.doctor.core import Check, CheckContext, Outcome

if TYPE_CHECKING:
    from ticketctl.clients.mysql import Session

# "GRANT SELECT, INSERT ON `db`.* TO ..." → the privilege list and the object.
GRANT_RE = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<object>\S+) TO ", re.IGNORECASE)


def _mysql_settings(context: CheckContext) -> MySQLSettings:
    seconds = max(1.0, min(context.settings.mysql.connect_timeout, context.timeout))
    return dataclasses.replace(context.settings.mysql, connect_timeout=seconds)


def _session(context: CheckContext, database: DatabaseSettings) -> Session:
    from ticketctl.clients.mysql import app_credentials, connect

    return connect(_mysql_settings(context), app_credentials(database, context.secrets), database=database.name)


def connect_check(database: DatabaseSettings) -> Callable[[CheckContext], Outcome]:
    def run(context: CheckContext) -> Outcome:
        with _session(context, database) as session:
            row = session.query_one("SELECT DATABASE()")
            tls = session.query_one("SHOW SESSION STATUS LIKE 'Ssl_version'")
        mysql = context.settings.mysql
        reached = row[0] if row else "?"
        version = str(tls[1]) if tls and tls[1] else None
        verified = mysql.ssl_ca is not None or mysql.ssl_cert is not None
        transport = "unencrypted" if version is None else f"over {version}" + ("" if verified else ", unverified")
        return Outcome.ok(
            f"{database.user}@{mysql.host}:{mysql.port} reaches {reached} ({session.server.label}, {transport})",
            server=session.server.label,
            tls=version,
        )

    return run


def rights_check(database: DatabaseSettings) -> Callable[[CheckContext], Outcome]:
    def run(context: CheckContext) -> Outcome:
        with _session(context, database) as session:
            grants = [str(row[0]) for row in session.query("SHOW GRANTS FOR CURRENT_USER()")]
        too_wide = [grant for grant in grants if _grant_is_too_wide(grant, database.name)]
        if too_wide:
            return Outcome.fail(
                f"{database.user} has rights beyond {database.name}: {_object_of(too_wide[0])}",
                f"as an administrator: REVOKE ... ON {_object_of(too_wide[0])} FROM '{database.user}'@'%' "
                f"and keep only GRANT ... ON `{database.name}`.*",
                grants=len(grants),
            )
        return Outcome.ok(f"{database.user} has rights on {database.name} only", grants=len(grants))

    return run


def _object_of(grant: str) -> str:
    match = GRANT_RE.match(grant)
    return match.group("object") if match else grant


def _grant_is_too_wide(grant: str, own_database: str) -> bool:
    """True for a grant on another database or a global privilege other than USAGE."""
    match = GRANT_RE.match(grant)
    if match is None:
        return False  # roles, proxies: not a privilege on objects
    privileges, target = match.group("privileges").strip().upper(), match.group("object")
    if target in ("*.*", "*"):
        return privileges != "USAGE"
    schema = target.split(".", 1)[0].strip("`").replace("``", "`").replace("\\_", "_")
    return schema != own_database


def migrations_check(database: DatabaseSettings) -> Callable[[CheckContext], Outcome]:
    def run(context: CheckContext) -> Outcome:
        from ticketctl.migrations import status
        from ticketctl.migrations.planner import APPLIED, BASELINE

        settings = dataclasses.replace(context.settings, mysql=_mysql_settings(context))
        report = status(settings, context.secrets, databases=[database.key]).databases[0]
        if report.problems:
            problem = report.problems[0]
            more = f" (+{len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
            return Outcome.fail(f"{problem.message}{more}", problem.hint, problems=len(report.problems))
        if report.pending:
            versions = ", ".join(f"V{step.migration.version:03d}" for step in report.pending)
            return Outcome.warn(
                f"{len(report.pending)} pending migration(s) in {database.name}: {versions}",
                f"ticketctl migrate --db {database.key}",
                pending=len(report.pending),
            )
        if report.plan.warnings:
            more = f" (+{len(report.plan.warnings) - 1} more)" if len(report.plan.warnings) > 1 else ""
            return Outcome.warn(
                f"{report.plan.warnings[0]}{more}",
                "point the schemas_dir setting at the folder of your migrations, or restore the file",
                warnings=len(report.plan.warnings),
            )
        applied = sum(1 for state in report.states if state.state in (APPLIED, BASELINE))
        return Outcome.ok(f"{database.name} is up to date ({applied} applied)", applied=applied)

    return run


def drift_check(database: DatabaseSettings) -> Callable[[CheckContext], Outcome]:
    """The live schema against the one its applied migrations produce, on a throwaway shadow database."""

    def run(context: CheckContext) -> Outcome:
        from ticketctl.migrations.drift import ShadowDeniedError, drift

        settings = dataclasses.replace(context.settings, mysql=_mysql_settings(context))
        result = drift(settings, context.secrets, databases=[database.key]).databases[0]
        if result.error is not None:
            make = Outcome.warn if isinstance(result.error, ShadowDeniedError) else Outcome.fail
            return make(result.error.message, result.error.hint or "see the message")
        if result.drifted:
            shown = "; ".join(difference.describe() for difference in result.differences[:3])
            more = f" (+{len(result.differences) - 3} more)" if len(result.differences) > 3 else ""
            return Outcome.fail(
                f"{database.name} differs from its applied migrations: {shown}{more}",
                result.fix,
                differences=[difference.as_dict() for difference in result.differences],
            )
        if not result.applied:
            return Outcome.ok(result.notes[0] if result.notes else f"{database.name}: nothing applied to compare")
        return Outcome.ok(
            f"{database.name} matches its applied migrations ({', '.join(result.applied)})",
            applied=list(result.applied),
        )

    return run


def mysql_checks(databases: tuple[DatabaseSettings, ...]) -> list[Check]:
    checks: list[Check] = []
    for database in databases:
        base = f"mysql.{database.key}"
        checks += [
            Check(base, f"{database.name} is reachable as {database.user}", connect_check(database)),
            Check(
                f"{base}.rights",
                f"{database.user} has rights on {database.name} only",
                rights_check(database),
                needs=(base,),
            ),
            Check(
                f"{base}.migrations",
                f"no pending, failed or edited migrations in {database.name}",
                migrations_check(database),
                needs=(base,),
            ),
            Check(
                f"{base}.drift",
                f"{database.name}'s schema is the one its applied migrations produce (on a throwaway shadow database)",
                drift_check(database),
                needs=(base,),
            ),
        ]
    return checks
