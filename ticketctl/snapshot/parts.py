"""How each engine's part of a snapshot is taken and put back (the method of each is chosen in docs/snapshots.md).

* **MySQL**: a copy of the data volume with the server stopped (stopping is
  what makes a physical copy of a MySQL 8 datadir safe without its backup
  tooling), streamed out of the container as a tar; put back by clearing the
  volume with a helper container and unpacking the tar while the server is
  stopped. A logical dump was measured slower to restore by a factor of ten.
* **Redis**: ``DUMP`` of every key with its remaining TTL, under ``CLIENT
  PAUSE WRITE``; put back with ``RESTORE ... REPLACE`` into a flushed
  database, live (no restart, and the AOF records it like any write).
* **Search**: the engine's snapshot API into an ``fs`` repository under
  ``path.repo`` (set by the stack model), copied out of the container as a tar
  and removed from it; put back by copying it in and restoring the alias's
  indices with their aliases.
"""

from __future__ import annotations

import functools
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ticketctl.clients.mysql import ServerInfo
from ticketctl.clients.redis import checked
from ticketctl.clients.search import Request, SearchConnection, SearchRequestError
from ticketctl.config.settings import Settings
from ticketctl.errors import DockerError, SearchError
from ticketctl.runtime.docker import Container, DockerRuntime
from ticketctl.snapshot.manifest import EngineVersion, FileEntry, HashingWriter, SnapshotError
from ticketctl.stack.model import SEARCH_SNAPSHOT_REPOSITORY

MYSQL_DATADIR = "/var/lib/mysql"
MYSQL_ARCHIVE = "mysql-data.tar"
REDIS_FILE = "redis-keys.bin"
SEARCH_ARCHIVE = "search-repository.tar"
SNAPSHOT_IN_REPOSITORY = "snapshot"
REDIS_MAGIC = b"TICKETCTL-REDIS-DUMP-1\n"
REDIS_PAUSE_MS = 30_000  # the pause lifts itself even if this process dies while holding it
REDIS_BATCH = 1000


# --------------------------------------------------------------------------- MySQL


def mysql_engine(version_string: str) -> EngineVersion:
    info = ServerInfo.parse(version_string)
    major, minor, _ = info.version
    return EngineVersion(info.flavor, ".".join(str(part) for part in info.version), f"{major}.{minor}")


def mysql_server(engine: EngineVersion) -> ServerInfo:
    """The server that made a snapshot's MySQL part, as the account helpers need it."""
    return ServerInfo(engine.product, ServerInfo.parse(engine.version).version, engine.version)


def capture_mysql_volume(runtime: DockerRuntime, container: Container, folder: Path, mode: int) -> FileEntry:
    """Stream the stopped server's datadir into ``mysql-data.tar``."""
    return _copy_out(runtime, container, MYSQL_DATADIR, folder / MYSQL_ARCHIVE, mode)


def _copy_out(runtime: DockerRuntime, container: Container, source: str, target: Path, mode: int) -> FileEntry:
    """A folder of the container as a tar file of the snapshot, its size and SHA-256 taken on the way."""
    writer = HashingWriter(target.parent, target.name, mode)
    try:
        writer.write_all(runtime.archive_from(container, source))
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def restore_mysql_volume(runtime: DockerRuntime, container: Container, volume: str, archive: Path) -> None:
    """Empty the (stopped) server's volume with a helper container, then unpack the snapshot's tar into it."""
    cleared = runtime.run_helper(
        container.image_id or container.image,
        ["sh", "-c", f"rm -rf {MYSQL_DATADIR}/..?* {MYSQL_DATADIR}/.[!.]* {MYSQL_DATADIR}/*"],
        volumes={volume: MYSQL_DATADIR},
        project=container.project or "",
    )
    if cleared.exit_code != 0:
        raise DockerError(
            f"could not empty volume {volume} before the restore: {cleared.last_error_line}",
            hint="check `docker volume inspect` and the Engine's disk; then run the restore again",
        )
    parent = MYSQL_DATADIR.rsplit("/", 1)[0]
    with archive.open("rb") as handle:
        runtime.archive_into(container, parent, handle)


# --------------------------------------------------------------------------- Redis


def redis_engine(client: Any, settings: Settings) -> EngineVersion:
    version = str(checked(lambda: client.info("server"), settings)["redis_version"])
    if isinstance(version, bytes):
        version = version.decode()
    return EngineVersion("redis", version, version.split(".", 1)[0])


@dataclass(frozen=True)
class RedisCapture:
    entry: FileEntry
    keys: int
    databases: tuple[int, ...]


def capture_redis(connect: Callable[[int], Any], settings: Settings, folder: Path, mode: int) -> RedisCapture:
    """Every key of every database with its payload (``DUMP``) and remaining TTL, under a write pause."""
    first = connect(0)
    databases = _redis_databases(first, settings)
    writer = HashingWriter(folder, REDIS_FILE, mode)
    count = 0
    try:
        writer.write(REDIS_MAGIC)
        checked(lambda: first.execute_command("CLIENT", "PAUSE", REDIS_PAUSE_MS, "WRITE"), settings)
        try:
            for db in databases:
                count += _dump_database(connect(db), settings, db, writer)
        finally:
            checked(lambda: first.execute_command("CLIENT", "UNPAUSE"), settings)
    except BaseException:
        writer.abort()
        raise
    return RedisCapture(writer.close(), count, tuple(databases))


def _redis_databases(client: Any, settings: Settings) -> list[int]:
    keyspace = checked(lambda: client.info("keyspace"), settings)
    return sorted(int(str(name).removeprefix("db")) for name in keyspace)


def _dump_database(client: Any, settings: Settings, db: int, writer: HashingWriter) -> int:
    count = 0
    cursor = 0
    while True:
        cursor, keys = checked(functools.partial(client.scan, cursor=cursor, count=REDIS_BATCH), settings)
        if keys:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.dump(key)
                pipe.pttl(key)
            answers = checked(pipe.execute, settings)
            for index, key in enumerate(keys):
                payload, ttl = answers[2 * index], answers[2 * index + 1]
                if payload is None or ttl == -2:  # expired between SCAN and DUMP
                    continue
                writer.write(_record(db, key, max(int(ttl), 0), payload))
                count += 1
        if int(cursor) == 0:
            return count


def _record(db: int, key: bytes, ttl_ms: int, payload: bytes) -> bytes:
    return struct.pack(">BIqI", db, len(key), ttl_ms, len(payload)) + key + payload


def read_redis_records(path: Path) -> Iterator[tuple[int, bytes, int, bytes]]:
    header = struct.calcsize(">BIqI")
    with path.open("rb") as handle:
        if handle.read(len(REDIS_MAGIC)) != REDIS_MAGIC:
            raise SnapshotError(f"{path}: not a ticketctl Redis dump", hint="restore another snapshot")
        while head := handle.read(header):
            db, key_length, ttl, payload_length = struct.unpack(">BIqI", head)
            key = handle.read(key_length)
            payload = handle.read(payload_length)
            yield db, key, ttl, payload


def restore_redis(connect: Callable[[int], Any], settings: Settings, path: Path, databases: tuple[int, ...]) -> int:
    """Flush every database that has keys now or had them in the snapshot, then ``RESTORE`` each key."""
    first = connect(0)
    touched = sorted(set(_redis_databases(first, settings)) | set(databases))
    clients = {db: connect(db) for db in touched}
    for client in clients.values():
        checked(client.flushdb, settings)
    count = 0
    pipes: dict[int, Any] = {}
    for db, key, ttl, payload in read_redis_records(path):
        client = clients.get(db) or clients.setdefault(db, connect(db))
        pipe = pipes.setdefault(db, client.pipeline(transaction=False))
        pipe.restore(key, ttl, payload, replace=True)
        count += 1
        if len(pipe) >= REDIS_BATCH:
            checked(pipe.execute, settings)
    for pipe in pipes.values():
        if len(pipe):
            checked(pipe.execute, settings)
    return count


# --------------------------------------------------------------------------- search


def search_engine(connection: SearchConnection) -> EngineVersion:
    return EngineVersion(connection.engine, connection.version, str(connection.info.major))


def index_metadata(connection: SearchConnection, alias: str) -> dict[str, Any]:
    from ticketctl.search.state import count_documents, read_state

    state = read_state(connection, alias)
    target = state.target
    indices = sorted(index.name for index in state.versions)
    return {
        "alias": alias,
        "indices": indices,
        "target": target.name if target else None,
        "spec_hash": target.recorded_hash if target else None,
        "documents": count_documents(connection, target.name) if target else 0,
    }


def _repository(token: str) -> tuple[str, str]:
    """The repository's registered name and its folder inside the search container."""
    return f"ticketctl-{token}", f"{SEARCH_SNAPSHOT_REPOSITORY}/{token}"


def _register(connection: SearchConnection, name: str, location: str, *, readonly: bool) -> None:
    body = {"type": "fs", "settings": {"location": location, "readonly": readonly, "compress": False}}
    try:
        connection.send(Request("PUT", f"/_snapshot/{name}", {"verify": "false"}, body))
    except SearchRequestError as error:
        if "path.repo" in error.reason or "location" in error.reason:
            raise SearchError(
                f"{connection.info.label} has no snapshot folder at {SEARCH_SNAPSHOT_REPOSITORY} ({error.reason})",
                hint="run `ticketctl up` to recreate the search container with path.repo (ticketctl sets it)",
            ) from None
        raise


def _forget(runtime: DockerRuntime, container: Container, connection: SearchConnection, name: str, folder: str) -> None:
    try:
        connection.send(Request("DELETE", f"/_snapshot/{name}"))
    except SearchRequestError as error:
        if error.status != 404:
            raise
    runtime.exec(container, ["rm", "-rf", folder])


def capture_search(
    runtime: DockerRuntime,
    container: Container,
    connection: SearchConnection,
    alias: str,
    token: str,
    folder: Path,
    mode: int,
    *,
    taken: threading.Event | None = None,
) -> FileEntry | None:
    """Snapshot the alias's indices (with their aliases) into a fresh repository, then copy it out as a tar.

    ``taken`` is set once the engine has taken the snapshot, before it is copied out.
    """
    name, location = _repository(token)
    _register(connection, name, location, readonly=False)
    try:
        body = {"indices": f"{alias}_v*", "ignore_unavailable": True, "include_global_state": False}
        answer = connection.send(
            Request("PUT", f"/_snapshot/{name}/{SNAPSHOT_IN_REPOSITORY}", {"wait_for_completion": "true"}, body),
            timeout=3600,
        )
        state = ((answer or {}).get("snapshot") or {}).get("state")
        if state != "SUCCESS":
            raise SearchError(
                f"{connection.info.label}: the snapshot of {alias} ended {state or 'without a state'}",
                hint="see the search engine's log; then save again",
            )
        if taken is not None:
            taken.set()
        return _copy_out(runtime, container, location, folder / SEARCH_ARCHIVE, mode)
    finally:
        _forget(runtime, container, connection, name, location)


def restore_search(
    runtime: DockerRuntime,
    container: Container,
    connection: SearchConnection,
    alias: str,
    token: str,
    archive: Path | None,
    wait_seconds: float,
) -> None:
    """Delete the alias's current indices and restore the snapshot's, with their aliases; wait for yellow."""
    name, location = _repository(token)
    current = _alias_indices(connection, alias)
    if archive is None:  # the snapshot had no index: neither will the stack
        if current:
            connection.send(Request("DELETE", "/" + ",".join(current)))
        return
    runtime.exec(container, ["rm", "-rf", location])
    runtime.exec(container, ["mkdir", "-p", SEARCH_SNAPSHOT_REPOSITORY])  # a recreated container has none yet
    with archive.open("rb") as handle:
        runtime.archive_into(container, SEARCH_SNAPSHOT_REPOSITORY, handle)
    _register(connection, name, location, readonly=True)
    try:
        if current:
            connection.send(Request("DELETE", "/" + ",".join(current)))
        body = {"indices": f"{alias}_v*", "include_aliases": True, "include_global_state": False}
        connection.send(
            Request(
                "POST", f"/_snapshot/{name}/{SNAPSHOT_IN_REPOSITORY}/_restore", {"wait_for_completion": "true"}, body
            ),
            timeout=3600,
        )
        restored = _alias_indices(connection, alias)
        if restored:
            connection.health(wait_for_status="yellow", index=",".join(restored), timeout=wait_seconds)
    finally:
        _forget(runtime, container, connection, name, location)


def _alias_indices(connection: SearchConnection, alias: str) -> list[str]:
    """The alias's versions and a concrete index named like it (``GET <alias>*``: ``_cat`` with a missing
    explicit name hangs on OpenSearch 3.6 when no index exists)."""
    from ticketctl.search.state import version_of

    found = connection.send(
        Request(
            "GET",
            f"/{alias}*",
            {
                "expand_wildcards": "open,closed",
                "allow_no_indices": "true",
                "filter_path": "*.settings.index.provided_name",
            },
        )
    )
    names = found if isinstance(found, Mapping) else {}
    return sorted(str(name) for name in names if name == alias or version_of(alias, str(name)) is not None)


def wait_until(check: Callable[[], bool], seconds: float, what: str, hint: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            raise DockerError(f"{what} after {seconds:.0f}s", hint=hint)
        time.sleep(0.2)
