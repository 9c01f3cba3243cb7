"""Concurrency: ticketctl run several times at once against the same databases, project or index.

To make two runs overlap for certain, the first is frozen with SIGSTOP once it
holds its lock (a slow holder, as on a loaded machine), the second is started,
then the first is let go with SIGCONT.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.support.reliability import (
    Databases,
    Process,
    Workdir,
    changed_mapping,
    free_port,
    index_documents,
    write_migration,
)
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.reliability

KEYS = ("events", "inventory", "bookings")
REPO = Path(__file__).resolve().parents[2]


def _wait_for(condition: Any, timeout: float, what: str, process: Process | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            run = process.finish()
            pytest.fail(f"{what}: the process ended first (exit {run.code}):\n{run.output}")
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {timeout}s")


# --------------------------------------------------------------------------- migrate


def test_five_migrate_processes_at_once_apply_each_migration_once(workdir: Workdir, databases: Databases) -> None:
    workdir.env.update(databases.environment())
    for key in KEYS:
        write_migration(
            workdir,
            key,
            "V001__log.sql",
            "CREATE TABLE applied_log (id INT AUTO_INCREMENT PRIMARY KEY, version INT NOT NULL, "
            "connection_id BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
            "INSERT INTO applied_log (version, connection_id) VALUES (1, CONNECTION_ID());\n",
        )
        write_migration(
            workdir,
            key,
            "V002__slow.sql",
            "INSERT INTO applied_log (version, connection_id) VALUES (2, CONNECTION_ID());\n"
            "DO SLEEP(1);\n"
            "CREATE TABLE seats (id INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
        )
        write_migration(
            workdir,
            key,
            "V003__more.sql",
            "INSERT INTO applied_log (version, connection_id) VALUES (3, CONNECTION_ID());\n",
        )
    processes = [workdir.start("migrate", "--schemas-dir", "schemas") for _ in range(5)]
    runs = [process.finish(timeout=120) for process in processes]
    assert [run.code for run in runs] == [0] * 5, [run.output for run in runs]
    for key in KEYS:
        rows = databases.query(
            key,
            "SELECT version, COUNT(*), COUNT(DISTINCT connection_id) FROM applied_log "
            "GROUP BY version ORDER BY version",
        )
        assert rows == [(1, 1, 1), (2, 1, 1), (3, 1, 1)], key
        history = databases.history(key)
        assert [(r["version"], r["status"], r["statements_applied"]) for r in history] == [
            (1, "success", 2),
            (2, "success", 3),
            (3, "success", 1),
        ]
    out = "".join(run.out for run in runs)
    assert out.count("V002 slow applied in") == len(KEYS)  # one process per database did the work
    assert "waiting up to 30s for connection " in out  # and the others really waited for it


# --------------------------------------------------------------------------- up


def _has_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (it is at the lock, about to wait for it)."""
    try:
        return any(Path(fd).resolve() == path.resolve() for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def test_two_ups_at_once_one_refuses_or_waits_and_no_container_is_duplicated(
    workdir: Workdir, docker_scratch: Any, local_images: Any
) -> None:
    from ticketctl.runtime.docker import resolve_endpoint
    from ticketctl.runtime.lock import lock_path

    project = docker_scratch.project
    workdir.env.update(
        {
            "TICKETCTL_PROJECT": project,
            "TICKETCTL_PORTS__REDIS": str(free_port()),
            "TICKETCTL_IMAGES__REDIS": local_images.redis,
        }
    )
    endpoint = resolve_endpoint().url
    lock = lock_path(endpoint, project)

    def holder() -> int | None:
        try:
            return int(json.loads(lock.read_text() or "{}").get("pid", 0)) or None
        except (OSError, ValueError):
            return None

    first = workdir.start("up", "--no-init", "--json", "redis")
    _wait_for(lambda: holder() == first.pid, 60, "the first up taking the project lock", first)
    first.signal(signal.SIGSTOP)
    try:
        refused = workdir.run("up", "--no-init", "redis", "--lock-timeout", "1")
        waiting = workdir.start("up", "--no-init", "--json", "redis")
        _wait_for(lambda: _has_open(waiting.pid, lock), 60, "the third up opening the lock file", waiting)
    finally:
        first.signal(signal.SIGCONT)
    assert refused.code == ExitCode.LOCKED
    assert refused.error_line == (
        f"error: another ticketctl (`ticketctl up`, pid {first.pid}) is changing project '{project}' on {endpoint}; "
        "waited 1s — wait for it to finish, or raise --lock-timeout"
    )
    done = first.finish(timeout=180)
    assert done.code == 0, done.err
    later = waiting.finish(timeout=180)
    assert later.code == 0, later.err
    assert f"waiting for `ticketctl up`, pid {first.pid}" in later.err
    assert [s["action"] for s in done.json()["services"]] == ["created"]
    assert [s["action"] for s in later.json()["services"]] == ["unchanged"]
    found = docker_scratch.client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    assert [c.name for c in found] == [f"{project}-redis-1"]


# --------------------------------------------------------------------------- index migrate --reindex


def test_two_reindexing_migrations_at_once_one_refuses_with_locked(workdir: Workdir, opensearch_scratch: Any) -> None:
    server = opensearch_scratch.server
    alias = opensearch_scratch.index("events")
    lock_doc = f"/.ticketctl-locks/_doc/{urllib.parse.quote(alias)}"
    common = ("--url", server.url, "--index", alias)
    try:
        created = workdir.run("index", "create", *common)
        assert created.code == 0, created.err
        index_documents(server, alias, 300)
        changed_mapping(workdir)
        migrate = ("index", "migrate", "--reindex", "--source", "index", "--mapping", "changed.json", *common)

        first = workdir.start(*migrate)

        def lock_holder() -> str | None:
            answer = server.request("GET", lock_doc)
            return answer.body["_source"]["owner"] if answer.status == 200 else None

        owner = _wait_for(lock_holder, 60, "the first migration taking the lock", first)
        assert owner.endswith(f":{first.pid}")
        first.signal(signal.SIGSTOP)
        try:
            second = workdir.run(*migrate)
        finally:
            first.signal(signal.SIGCONT)
        assert second.code == ExitCode.LOCKED
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
        assert re.fullmatch(
            rf"error: index {re.escape(alias)} is locked by migrate of {re.escape(owner)} since {stamp} — wait for it "
            rf"to finish; if that process is gone the lock expires at {stamp}",
            second.error_line,
        ), second.error_line

        done = first.finish(timeout=120)
        assert done.code == 0, done.err
        aliases = server.ok("GET", f"/_alias/{alias}")
        assert list(aliases) == [f"{alias}_v2"]
        server.ok("POST", f"/{alias}/_refresh")
        assert server.ok("GET", f"/{alias}/_count")["count"] == 300
        assert server.request("GET", lock_doc).status == 404  # released

        again = workdir.run(*migrate)
        assert again.code == 0, again.err
        assert sorted(row["index"] for row in server.ok("GET", f"/_cat/indices/{alias}*?format=json&h=index")) == [
            f"{alias}_v1",
            f"{alias}_v2",
        ]
    finally:
        server.request("DELETE", f"{lock_doc}?refresh=true")
