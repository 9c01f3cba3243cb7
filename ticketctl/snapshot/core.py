"""``snapshot save`` and ``snapshot restore``: the three databases, Redis and the search index, together.

They belong together because every part is taken while MySQL is stopped: no
service can commit a row, write the outbox or feed the index from it while the
Redis keys are dumped (under ``CLIENT PAUSE WRITE``) and the search snapshot
is taken. Both verbs hold the project's lock (no ``up``/``down`` meanwhile).
"""

from __future__ import annotations

import secrets as _random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from ticketctl import __version__
from ticketctl.config.secrets import ENV_FILENAME, STACK_SECRETS, Secrets
from ticketctl.config.settings import Settings
from ticketctl.errors import AbortedError
from ticketctl.events import EventSink, Notice, StepEvent, serialised
from ticketctl.parallel import fan_out
from ticketctl.runtime.docker import Container, DockerRuntime
from ticketctl.runtime.lock import project_lock
from ticketctl.runtime.translate import volume_name
from ticketctl.snapshot import parts
from ticketctl.snapshot.manifest import (
    EngineVersion,
    FileEntry,
    Manifest,
    SnapshotError,
    fingerprint,
    verify_files,
    write_manifest,
)
from ticketctl.snapshot.store import FILE_MODE, Listed, SnapshotStore, check_name, default_name

DEFAULT_LOCK_TIMEOUT = 120.0
MYSQL_READY_SECONDS = 180.0
SECRETS_FILE = "env"
METHODS = {
    "mysql": "copy of the data volume, server stopped",
    "redis": "DUMP of every key under CLIENT PAUSE WRITE",
    "search": "snapshot API, fs repository (path.repo)",
}
Confirm = Callable[[str], bool]


@dataclass(frozen=True)
class SaveReport:
    manifest: Manifest
    path: Path

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "size_bytes": self.manifest.size, **self.manifest.as_dict()}


@dataclass(frozen=True)
class RestoreReport:
    snapshot: Manifest
    safety: str | None
    resumed: bool
    redis_keys: int
    seconds: float
    passwords_reapplied: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "restored": self.snapshot.name,
            "created_at": self.snapshot.created_at,
            "safety_snapshot": self.safety,
            "resumed": self.resumed,
            "schema_versions": dict(self.snapshot.schema_versions),
            "index": dict(self.snapshot.index),
            "redis_keys": self.redis_keys,
            "passwords_reapplied": list(self.passwords_reapplied),
            "seconds": round(self.seconds, 3),
        }


class _Stack:
    """The running stack a snapshot is taken from or restored into: its containers and clients."""

    def __init__(self, settings: Settings, runtime: DockerRuntime, secrets: Secrets):
        self.settings = settings
        self.runtime = runtime
        self.secrets = secrets
        containers = {c.service: c for c in runtime.containers(settings.project)}
        engine = settings.search.engine
        missing = [name for name in ("mysql", "redis", engine) if name not in containers]
        if missing:
            raise SnapshotError(
                f"project {settings.project}: no container for {', '.join(missing)}",
                hint="start the stack with `ticketctl up` first",
            )
        self.mysql: Container = containers["mysql"]
        self.redis_container: Container = containers["redis"]
        self.search_container: Container = containers[engine]

    def require_running(self, *, mysql: bool = True) -> None:
        wanted = [self.redis_container, self.search_container] + ([self.mysql] if mysql else [])
        stopped = [c.service or c.name for c in wanted if c.reload().state != "running"]
        if stopped:
            raise SnapshotError(
                f"project {self.settings.project}: {', '.join(stopped)} not running",
                hint="start the stack with `ticketctl up` first",
            )

    # ------------------------------------------------------------------ clients

    def root_session(self) -> Any:
        from ticketctl.clients.mysql import connect, root_credentials

        credentials = root_credentials(self.settings, self.secrets)
        if credentials is None:
            raise SnapshotError(
                "MYSQL_ROOT_PASSWORD is not in .env or the environment",
                hint="snapshots read MySQL's version and schema history as root; bring back the stack's .env",
            )
        return connect(self.settings.mysql, credentials)

    def redis(self, db: int) -> Any:
        from ticketctl.clients.redis import connect

        return connect(self.settings, self.secrets, decode=False, db=db, timeout=30.0)

    def search(self) -> Any:
        from ticketctl.clients.search import connect

        return connect(self.settings, self.secrets)

    # ------------------------------------------------------------------ what is live

    def mysql_state(self) -> tuple[EngineVersion, dict[str, int], list[tuple[str, str]]]:
        """The server's version, each database's highest applied migration, and the stack's accounts."""
        from ticketctl.clients.mysql import stack_accounts
        from ticketctl.migrations.history import applied_version

        users = [self.settings.mysql.root_user, *(database.user for database in self.settings.mysql.databases)]
        with self.root_session() as session:
            engine = parts.mysql_engine(session.server.version_string)
            accounts = stack_accounts(session, users)
            versions = {db.name: applied_version(session, db.name) for db in self.settings.mysql.databases}
        return engine, versions, accounts

    def mysql_ready(self) -> bool:
        from ticketctl.clients.mysql import ServerError

        try:
            with self.root_session() as session:
                session.query_one("SELECT 1")
        except ServerError:
            return False
        return True

    def mysql_volume(self) -> str:
        return volume_name(self.settings.project, "mysql-data")


# --------------------------------------------------------------------------- save


def save(
    settings: Settings,
    runtime: DockerRuntime,
    secrets: Secrets,
    *,
    name: str | None = None,
    include_secrets: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_event: EventSink | None = None,
) -> SaveReport:
    """Take a snapshot of the running stack into ``<snapshots.dir>/<name>``; see the module doc."""
    store = SnapshotStore(settings.snapshots_dir)
    _refuse_unfinished(settings, store)
    with project_lock(runtime.endpoint.url, settings.project, "snapshot save", timeout=lock_timeout):
        return _save(
            settings, runtime, secrets, store, name or default_name(), include_secrets, None, serialised(on_event)
        )


def _save(
    settings: Settings,
    runtime: DockerRuntime,
    secrets: Secrets,
    store: SnapshotStore,
    name: str,
    include_secrets: bool,
    safety_for: str | None,
    emit: EventSink,
) -> SaveReport:
    started = time.monotonic()
    check_name(name)
    stack = _Stack(settings, runtime, secrets)
    stack.require_running()
    emit(StepEvent("inspect", "started", "versions, schema history, index"))
    alias = settings.search.index

    def search_state() -> tuple[Any, EngineVersion, dict[str, Any]]:
        connection = stack.search()
        return connection, parts.search_engine(connection), parts.index_metadata(connection, alias)

    found: list[Any] = fan_out(
        lambda inspect: inspect(),
        [stack.mysql_state, lambda: parts.redis_engine(stack.redis(0), stack.settings), search_state],
        name="snapshot-inspect",
    )
    mysql_engine, schema_versions, accounts = cast(
        tuple[EngineVersion, dict[str, int], list[tuple[str, str]]], found[0]
    )
    redis_engine = cast(EngineVersion, found[1])
    search, search_engine, index = cast(tuple[Any, EngineVersion, dict[str, Any]], found[2])
    emit(StepEvent("inspect", "done", f"{mysql_engine.label}, {redis_engine.label}, {search_engine.label}"))
    token = f"{name}-{_random.token_hex(4)}"
    with store.staging(name, private=True) as folder:
        files, redis_capture = _capture(stack, search, alias, index, token, folder, emit)
        if include_secrets:
            files.append(_copy_secrets(settings.output_dir / ENV_FILENAME, folder))
        salt = _random.token_hex(16)
        manifest = Manifest(
            name=name,
            project=settings.project,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            ticketctl_version=__version__,
            engines={"mysql": mysql_engine, "redis": redis_engine, "search": search_engine},
            schema_versions=schema_versions,
            index={**index, "repository": token},
            redis={"keys": redis_capture.keys, "databases": list(redis_capture.databases)},
            secrets={
                "included": include_secrets,
                "salt": salt,
                "fingerprints": {
                    spec.name: fingerprint(salt, secrets[spec.name]) for spec in STACK_SECRETS if spec.name in secrets
                },
            },
            methods=METHODS,
            files=tuple(sorted(files, key=lambda entry: entry.path)),
            seconds=round(time.monotonic() - started, 3),
            safety_for=safety_for,
            extra={"mysql_accounts": [list(account) for account in accounts]},
        )
        write_manifest(folder, manifest, FILE_MODE)
    return SaveReport(manifest, store.path(name))


def _capture(
    stack: _Stack, search: Any, alias: str, index: Mapping[str, Any], token: str, folder: Path, emit: EventSink
) -> tuple[list[FileEntry], parts.RedisCapture]:
    """Stop MySQL; take its volume, the Redis keys and the search snapshot side by side.

    MySQL starts again as soon as its volume is copied and the other two are
    taken (the search snapshot is taken when its API answers; copying it out of
    the container goes on while MySQL starts).
    """
    runtime = stack.runtime
    others_taken = [threading.Event(), threading.Event()]
    emit(StepEvent("mysql", "started", "stopping the server (writes pause here)"))
    runtime.stop(stack.mysql)
    restarted = threading.Event()

    def mysql_part() -> FileEntry:
        try:
            entry = parts.capture_mysql_volume(runtime, stack.mysql, folder, FILE_MODE)
            emit(StepEvent("mysql", "done", f"{entry.size / 1e6:.0f} MB"))
            for taken in others_taken:
                while not taken.wait(0.1):
                    pass
        finally:
            _start_mysql(stack, emit, wait_health=False)
            restarted.set()
        return entry

    def redis_part() -> parts.RedisCapture:
        try:
            emit(StepEvent("redis", "started"))
            capture = parts.capture_redis(stack.redis, stack.settings, folder, FILE_MODE)
            emit(StepEvent("redis", "done", f"{capture.keys} key(s)"))
        finally:
            others_taken[0].set()
        return capture

    def search_part() -> FileEntry | None:
        if not index["indices"]:
            others_taken[1].set()
            emit(StepEvent("search", "skipped", f"no index behind {alias}"))
            return None
        emit(StepEvent("search", "started", f"{len(index['indices'])} index(es) of {alias}"))
        try:
            entry = parts.capture_search(
                runtime, stack.search_container, search, alias, token, folder, FILE_MODE, taken=others_taken[1]
            )
        finally:
            others_taken[1].set()
        emit(StepEvent("search", "done", f"{index['documents']} document(s)"))
        return entry

    try:
        results = fan_out(lambda work: work(), [mysql_part, redis_part, search_part], name="snapshot-save")
    finally:
        if not restarted.is_set():
            _start_mysql(stack, emit, wait_health=False)
    mysql_entry = cast(FileEntry, results[0])
    redis_capture = cast(parts.RedisCapture, results[1])
    search_entry = cast(FileEntry | None, results[2])
    files = [mysql_entry, redis_capture.entry] + ([search_entry] if search_entry else [])
    return files, redis_capture


def _start_mysql(stack: _Stack, emit: EventSink, *, wait_health: bool) -> None:
    emit(StepEvent("mysql-start", "started"))
    current = stack.mysql.reload()
    if current.state != "running":
        stack.runtime.start(current)
    parts.wait_until(
        stack.mysql_ready,
        MYSQL_READY_SECONDS,
        f"MySQL ({stack.mysql.name}) did not answer",
        "see `docker logs " + stack.mysql.name + "`; then run the command again",
    )
    if wait_health and current.has_healthcheck:
        parts.wait_until(
            lambda: stack.mysql.reload().health == "healthy",
            MYSQL_READY_SECONDS,
            f"{stack.mysql.name} did not turn healthy",
            "see `docker logs " + stack.mysql.name + "`",
        )
    emit(StepEvent("mysql-start", "done"))


def _copy_secrets(env_file: Path, folder: Path) -> FileEntry:
    from ticketctl.snapshot.manifest import HashingWriter

    if not env_file.is_file():
        raise SnapshotError(f"{env_file}: not found, so --include-secrets has nothing to include", hint="run render")
    writer = HashingWriter(folder, SECRETS_FILE, FILE_MODE)
    writer.write(env_file.read_bytes())
    return writer.close()


# --------------------------------------------------------------------------- restore


def restore(
    settings: Settings,
    runtime: DockerRuntime,
    secrets: Secrets,
    name: str,
    *,
    backup: bool = True,
    confirm: Confirm | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_event: EventSink | None = None,
) -> RestoreReport:
    """Put the stack back to snapshot ``name``: refuse what cannot work, take a safety snapshot, then replace."""
    started = time.monotonic()
    emit = serialised(on_event)
    store = SnapshotStore(settings.snapshots_dir)
    journal = store.read_journal()
    if journal and journal.get("snapshot") != name:
        raise SnapshotError(
            f"the restore of snapshot {journal.get('snapshot')!r} was interrupted and is not finished",
            hint=f"finish it first: `ticketctl snapshot restore {journal.get('snapshot')}`",
        )
    manifest = store.open(name)
    folder = store.path(name)
    _refuse_other_project(manifest, settings)
    emit(StepEvent("verify", "started", f"{len(manifest.files)} file(s), {manifest.size / 1e6:.0f} MB"))
    verify_files(folder, manifest)
    emit(StepEvent("verify", "done"))
    with project_lock(runtime.endpoint.url, settings.project, "snapshot restore", timeout=lock_timeout):
        stack = _Stack(settings, runtime, secrets)
        stack.require_running(mysql=journal is None)
        if journal is None:
            _refuse_incompatible(stack, manifest)
            question = (
                f"Replace the data of project {settings.project} (three databases, Redis, index "
                f"{settings.search.index}) with snapshot {name} of {manifest.created_at}?"
            )
            if confirm is not None and not confirm(question):
                raise AbortedError("nothing was changed", hint="run again and confirm, or add --yes")
            journal = {"snapshot": name, "safety": None, "phase": "backup", "started_at": _now()}
            store.write_journal(journal)
            resumed = False
        else:
            emit(Notice(f"resuming the interrupted restore of {name}"))
            resumed = True
            if journal.get("phase") == "backup" and stack.mysql.reload().state != "running":
                _start_mysql(stack, emit, wait_health=False)  # a killed safety snapshot left it stopped
        if backup and journal.get("phase") == "backup":
            safety_name = f"before-restore-{default_name()}"
            emit(StepEvent("backup", "started", f"safety snapshot {safety_name}"))
            _save(settings, runtime, secrets, store, safety_name, False, name, emit)
            emit(StepEvent("backup", "done", safety_name))
            journal = {**journal, "safety": safety_name}
        journal = {**journal, "phase": "apply"}
        store.write_journal(journal)
        keys, reapplied = _apply(stack, manifest, folder, emit)
        store.clear_journal()
    return RestoreReport(manifest, journal.get("safety"), resumed, keys, time.monotonic() - started, reapplied)


def _apply(stack: _Stack, manifest: Manifest, folder: Path, emit: EventSink) -> tuple[int, tuple[str, ...]]:
    runtime = stack.runtime
    settings = stack.settings

    def mysql_part() -> tuple[str, ...]:
        emit(StepEvent("mysql", "started", "stopping the server, replacing its volume"))
        runtime.stop(stack.mysql)
        parts.restore_mysql_volume(runtime, stack.mysql, stack.mysql_volume(), folder / parts.MYSQL_ARCHIVE)
        reapplied = _reapply_passwords(stack, manifest, emit)
        _start_mysql(stack, emit, wait_health=True)
        made = _ensure_app_users(stack)
        emit(StepEvent("mysql", "done", "; ".join(made)))
        return reapplied

    def redis_part() -> int:
        emit(StepEvent("redis", "started"))
        count = parts.restore_redis(
            stack.redis, settings, folder / parts.REDIS_FILE, tuple(manifest.redis.get("databases", []))
        )
        emit(StepEvent("redis", "done", f"{count} key(s)"))
        return count

    def search_part() -> None:
        emit(StepEvent("search", "started"))
        archive = folder / parts.SEARCH_ARCHIVE if manifest.file(parts.SEARCH_ARCHIVE) else None
        parts.restore_search(
            runtime,
            stack.search_container,
            stack.search(),
            settings.search.index,
            str(manifest.index.get("repository", manifest.name)),
            archive,
            settings.wait_timeout,
        )
        emit(StepEvent("search", "done", f"{manifest.index.get('documents', 0)} document(s)"))

    results = fan_out(lambda work: work(), [mysql_part, redis_part, search_part], name="snapshot-restore")
    return cast(int, results[1]), cast(tuple[str, ...], results[0])


def _reapply_passwords(stack: _Stack, manifest: Manifest, emit: EventSink) -> tuple[str, ...]:
    """When the MySQL passwords in ``.env`` changed since the snapshot, give the restored accounts the current ones."""
    from ticketctl.snapshot.accounts import mysql_secret_names, set_passwords_offline

    salt = str(manifest.secrets.get("salt", ""))
    recorded = manifest.secrets.get("fingerprints") or {}
    changed = tuple(
        name
        for name in mysql_secret_names(stack.settings)
        if name in stack.secrets and recorded.get(name) != fingerprint(salt, stack.secrets[name])
    )
    if changed:
        emit(StepEvent("passwords", "started", f"{', '.join(changed)} changed since the snapshot"))
        set_passwords_offline(
            stack.runtime,
            stack.mysql,
            stack.mysql_volume(),
            stack.settings,
            stack.secrets,
            changed,
            server=parts.mysql_server(manifest.engines["mysql"]),
            accounts=[(str(user), str(host)) for user, host in manifest.extra.get("mysql_accounts", [])],
        )
        emit(StepEvent("passwords", "done"))
    return changed


def _ensure_app_users(stack: _Stack) -> list[str]:
    """Each application user logs in with ``.env``'s password after a restore, as after ``up``.

    A snapshot taken before ``migrate`` made the users has none; one whose password
    the offline step could not tell changed gets it here. The same step as
    ``migrate``'s, so a password reaches the server as a hash only.
    """
    from ticketctl.migrations.runner import ensure_users

    done = ensure_users(stack.settings, stack.secrets, sync_users=True)
    return [f"{key}: {what}" for key, what in done.items() if what]


# --------------------------------------------------------------------------- refusals


def _refuse_unfinished(settings: Settings, store: SnapshotStore) -> None:
    """No snapshot of a half-restored stack, nor while a rotation has left .env behind the servers."""
    from ticketctl.rotation import pending_rotation

    journal = store.read_journal()
    if journal:
        raise SnapshotError(
            f"the restore of snapshot {journal.get('snapshot')!r} was interrupted: the stack is half restored",
            hint=f"finish it first: `ticketctl snapshot restore {journal.get('snapshot')}`",
        )
    if pending_rotation(settings):
        raise SnapshotError(
            "a `secrets rotate` was interrupted: .env may not hold the passwords the servers have",
            hint="finish it first: `ticketctl secrets rotate`",
        )


def _refuse_other_project(manifest: Manifest, settings: Settings) -> None:
    if manifest.project != settings.project:
        raise SnapshotError(
            f"snapshot {manifest.name} was taken from project {manifest.project!r}; this stack is {settings.project!r}",
            hint="restore it into its own project (settings `project`), or take a snapshot of this one",
        )


def _refuse_incompatible(stack: _Stack, manifest: Manifest) -> None:
    live_mysql, _, _ = stack.mysql_state()
    live = {
        "mysql": live_mysql,
        "redis": parts.redis_engine(stack.redis(0), stack.settings),
        "search": parts.search_engine(stack.search()),
    }
    for part, taken in manifest.engines.items():
        now = live[part]
        reason = incompatibility(part, taken, now)
        if reason:
            raise SnapshotError(
                f"snapshot {manifest.name}: {reason}",
                hint="restore it into a stack with the same server versions (the images.* settings)",
            )


def incompatibility(part: str, taken: EngineVersion, now: EngineVersion) -> str | None:
    """Why a part taken from ``taken`` cannot go into ``now``; None when it can.

    MySQL's datadir is physical: same product and the same major.minor series.
    Redis ``DUMP`` payloads load into the same or a newer major. A search
    snapshot restores into the same product, same or next major.
    """
    if taken.product != now.product:
        return f"its {part} part comes from {taken.label}, this stack runs {now.label}"
    if part == "mysql" and taken.series != now.series:
        return f"its MySQL data volume is from {taken.label}; a datadir only fits the same series ({now.label} here)"
    if part in ("redis", "search"):
        old, new = _major(taken.series), _major(now.series)
        if new < old or (part == "search" and new > old + 1):
            return f"its {part} part comes from {taken.label}, which {now.label} cannot load"
    return None


def _major(series: str) -> int:
    head = series.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


# --------------------------------------------------------------------------- list and rm


def list_snapshots(settings: Settings) -> list[Listed]:
    return SnapshotStore(settings.snapshots_dir).listed()


def remove(settings: Settings, name: str) -> Path:
    return SnapshotStore(settings.snapshots_dir).remove(name)


def newest_snapshot(settings: Settings) -> Manifest | None:
    row = SnapshotStore(settings.snapshots_dir).newest()
    return row.manifest if row else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
