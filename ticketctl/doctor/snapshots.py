"""Snapshot and rotation checks: nothing half done, and the newest snapshot not older than the schema."""

from __future__ import annotations

from ticketctl.config.settings import DatabaseSettings
from ticketctl.doctor.core import Check, CheckContext, Outcome


def check_unfinished(context: CheckContext) -> Outcome:
    from ticketctl.rotation import pending_rotation
    from ticketctl.snapshot.store import SnapshotStore

    journal = SnapshotStore(context.settings.snapshots_dir).read_journal()
    if journal:
        name = journal.get("snapshot")
        return Outcome.fail(
            f"the restore of snapshot {name} was interrupted: the stack is half restored",
            f"ticketctl snapshot restore {name}",
        )
    rotation = pending_rotation(context.settings)
    if rotation:
        return Outcome.fail(
            f"a rotation of {', '.join(rotation.get('secrets', {}))} was interrupted at step {rotation.get('step')}; "
            ".env may lag the servers",
            "ticketctl secrets rotate",
        )
    return Outcome.ok("no interrupted restore or rotation")


def check_newest(context: CheckContext) -> Outcome:
    """A restore of a snapshot older than the newest applied migration would roll the schema back."""
    from ticketctl.snapshot.store import SnapshotStore

    newest = SnapshotStore(context.settings.snapshots_dir).newest()
    if newest is None or newest.manifest is None:
        return Outcome.ok(f"no snapshot in {context.settings.snapshots_dir}")
    manifest = newest.manifest
    behind = []
    for database in context.settings.mysql.databases:
        applied = _applied_version(context, database)
        taken = manifest.schema_versions.get(database.name, 0)
        if applied > taken:
            behind.append(f"{database.name} V{taken:03d} < V{applied:03d}")
    if behind:
        return Outcome.warn(
            f"the newest snapshot, {manifest.name} ({manifest.created_at}), predates migrations ({'; '.join(behind)}): "
            "restoring it would roll the schema back",
            "ticketctl snapshot save",
        )
    return Outcome.ok(f"newest snapshot {manifest.name} ({manifest.created_at}) has the schema of today")


def _applied_version(context: CheckContext, database: DatabaseSettings) -> int:
    from ticketctl.clients.mysql import app_credentials, connect
    from ticketctl.migrations.history import applied_version

    credentials = app_credentials(database, context.secrets)
    with connect(context.settings.mysql, credentials, database=database.name) as session:
        return applied_version(session)


def snapshot_checks(databases: tuple[str, ...]) -> list[Check]:
    return [
        Check("snapshots.unfinished", "no restore or secrets rotation was left half done", check_unfinished),
        Check(
            "snapshots.newest",
            "the newest snapshot is not older than the newest applied migration",
            check_newest,
            needs=tuple(f"mysql.{key}" for key in databases),
        ),
    ]
