"""``ticketctl doctor`` against real servers: every failure is created for real.

The stack under test is assembled from the test servers: three scratch databases
with their own users on MariaDB, a private password-protected ``redis-server``
that a test can stop, and a unique alias on the shared OpenSearch. Docker checks
run against the real Engine where a test needs them (ports, an unhealthy
container) and are switched off elsewhere to keep the rest fast.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.requirements import REDIS_SERVER
from tests.support.servers import MySQLScratch, SearchScratch
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.integration

TICKETCTL = [sys.executable, "-m", "ticketctl"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateRedis:
    port: int
    password: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = REDIS_SERVER.require()
    port, password = free_port(), secrets.token_urlsafe(18)
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory",
            "64mb",
            "--maxmemory-policy",
            "noeviction",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    redis = PrivateRedis(port, password, process)
    yield redis
    if process.poll() is None:
        redis.stop()


@dataclass
class Stack:
    """Environment for a ticketctl process that sees the assembled stack."""

    folder: Path
    environ: dict[str, str]
    secrets: dict[str, str]

    def doctor(self, *args: str, timeout: float = 60, **extra: str) -> tuple[int, dict[str, Any], str]:
        result = subprocess.run(
            [*TICKETCTL, "doctor", "--json", *args],
            cwd=self.folder,
            env={**self.environ, **extra},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        for value in self.secrets.values():
            assert value not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        return result.returncode, json.loads(result.stdout), result.stderr

    def text_doctor(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*TICKETCTL, "doctor", *args],
            cwd=self.folder,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def ticketctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*TICKETCTL, *args],
            cwd=self.folder,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == name)


@pytest.fixture
def stack(
    tmp_path: Path, mysql_scratch: MySQLScratch, private_redis: PrivateRedis, opensearch_scratch: SearchScratch
) -> Stack:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_") or k.startswith("TICKETCTL_TEST_")}
    found_secrets: dict[str, str] = {"REDIS_PASSWORD": private_redis.password}
    server = mysql_scratch.server
    environ.update(
        {
            "TICKETCTL_DOCKER__ENABLED": "false",
            "TICKETCTL_MYSQL__HOST": server.host,
            "TICKETCTL_MYSQL__PORT": str(server.port),
            "TICKETCTL_REDIS__PORT": str(private_redis.port),
            "TICKETCTL_SEARCH__ENGINE": "opensearch",
            "TICKETCTL_SEARCH__URL": opensearch_scratch.server.url,
            "TICKETCTL_SEARCH__INDEX": opensearch_scratch.index("events"),
            "REDIS_PASSWORD": private_redis.password,
        }
    )
    for key in ("events", "inventory", "bookings"):
        database = mysql_scratch.database()
        user, password = mysql_scratch.user(grant_database=database)
        mysql_scratch.grant_drift(user)  # the drift check's fix for a remote server (no root password here)
        environ[f"TICKETCTL_MYSQL__{key.upper()}__NAME"] = database
        environ[f"TICKETCTL_MYSQL__{key.upper()}__USER"] = user
        environ[f"{key.upper()}_DB_PASSWORD"] = password
        found_secrets[f"{key.upper()}_DB_PASSWORD"] = password
    environ.pop("MYSQL_ROOT_PASSWORD", None)
    ready = Stack(tmp_path, environ, found_secrets)
    migrated = ready.ticketctl("migrate")
    assert migrated.returncode == 0, migrated.stderr
    created = ready.ticketctl("index", "create")
    assert created.returncode == 0, created.stderr
    return ready


def test_all_green_on_a_healthy_stack(stack: Stack) -> None:
    code, report, _ = stack.doctor()
    failing = [(c["name"], c["summary"]) for c in report["checks"] if c["status"] not in ("ok", "skip")]
    assert failing == []
    assert code == ExitCode.OK
    assert check(report, "docker.daemon") == {
        **check(report, "docker.daemon"),
        "status": "skip",
        "summary": "skipped: docker.enabled is false (remote endpoints)",
    }
    assert check(report, "redis.lock")["status"] == "ok"
    assert check(report, "search.analyzer")["summary"] == "analyzers work: 'São Paulo' → sao paulo"
    text = stack.text_doctor()
    assert text.stdout.strip().splitlines()[-1].startswith(f"0 problems in {len(report['checks'])} checks")


def test_redis_stopped(stack: Stack, private_redis: PrivateRedis) -> None:
    private_redis.stop()
    code, report, _ = stack.doctor("redis")
    ping = check(report, "redis.ping")
    assert ping["status"] == "fail"
    assert f"127.0.0.1:{private_redis.port}: cannot connect" in ping["summary"]
    assert ping["fix"].startswith("start the stack with 'ticketctl up', or fix redis.host/redis.port")
    assert check(report, "redis.lock")["summary"] == "skipped: redis.ping did not pass"
    assert code == ExitCode.CHECKS_FAILED


def test_wrong_passwords(stack: Stack) -> None:
    code, report, _ = stack.doctor(
        "redis", "mysql.events", REDIS_PASSWORD="not-the-password-1", EVENTS_DB_PASSWORD="not-the-password-2"
    )
    redis = check(report, "redis.ping")
    assert (redis["status"], redis["summary"].endswith("authentication failed")) == ("fail", True)
    assert "REDIS_PASSWORD" in redis["fix"]
    events = check(report, "mysql.events")
    assert events["status"] == "fail" and "denied access to user" in events["summary"]
    assert "EVENTS_DB_PASSWORD" in events["fix"]
    assert code == ExitCode.CHECKS_FAILED


def test_a_pending_migration(stack: Stack, mysql_scratch: MySQLScratch) -> None:
    """A fresh database for the events service: V001 and V002 have not run there yet."""
    database = mysql_scratch.database()
    user, password = mysql_scratch.user(grant_database=database)
    stack.secrets["EVENTS_DB_PASSWORD_NEW"] = password
    code, report, _ = stack.doctor(
        "mysql.events",
        TICKETCTL_MYSQL__EVENTS__NAME=database,
        TICKETCTL_MYSQL__EVENTS__USER=user,
        EVENTS_DB_PASSWORD=password,
    )
    migrations = check(report, "mysql.events.migrations")
    assert migrations["status"] == "warn"
    assert migrations["summary"] == f"2 pending migration(s) in {database}: V001, V002"
    assert migrations["fix"] == "ticketctl migrate --db events"
    assert code == ExitCode.WARNINGS


def test_an_edited_migration(stack: Stack, mysql_scratch: MySQLScratch) -> None:
    """The checksum recorded in the history no longer matches the file: doctor fails the check."""
    from ticketctl.migrations.history import HISTORY_TABLE

    database = stack.environ["TICKETCTL_MYSQL__INVENTORY__NAME"]
    mysql_scratch.execute(f"UPDATE `{database}`.{HISTORY_TABLE} SET checksum = REPEAT('0', 64) WHERE version = 1")
    code, report, _ = stack.doctor("mysql.inventory")
    migrations = check(report, "mysql.inventory.migrations")
    assert migrations["status"] == "fail"
    assert "V001" in migrations["summary"] and "changed" in migrations["summary"]
    assert "ticketctl migrate repair" in migrations["fix"]
    assert code == ExitCode.CHECKS_FAILED


def test_a_drifted_index(stack: Stack, opensearch_scratch: SearchScratch) -> None:
    import urllib.request

    alias = stack.environ["TICKETCTL_SEARCH__INDEX"]
    body = json.dumps({"properties": {"promoter": {"type": "keyword"}}}).encode()
    request = urllib.request.Request(
        f"{opensearch_scratch.server.url}/{alias}/_mapping",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()
    code, report, _ = stack.doctor("search")
    index = check(report, "search.index")
    assert index["status"] == "fail"
    assert f"alias {alias} → {alias}_v1 was changed outside ticketctl: mapping promoter added" in index["summary"]
    assert index["fix"].startswith("ticketctl index migrate --reindex puts the spec of ")
    assert "'ticketctl index diff' shows both" in index["fix"]
    assert code == ExitCode.CHECKS_FAILED


def test_missing_index(stack: Stack) -> None:
    code, report, _ = stack.doctor(
        "search.index", TICKETCTL_SEARCH__INDEX=stack.environ["TICKETCTL_SEARCH__INDEX"] + "-none"
    )
    index = check(report, "search.index")
    assert (index["status"], index["fix"]) == ("fail", "ticketctl index create")
    assert code == ExitCode.CHECKS_FAILED


def test_rights_beyond_its_own_database(stack: Stack, mysql_scratch: MySQLScratch) -> None:
    other = mysql_scratch.database()
    user = stack.environ["TICKETCTL_MYSQL__INVENTORY__USER"]
    mysql_scratch.execute(f"GRANT SELECT ON `{other}`.* TO '{user}'@'%'")
    code, report, _ = stack.doctor("mysql.inventory.rights")
    rights = check(report, "mysql.inventory.rights")
    assert rights["status"] == "fail"
    assert (
        rights["summary"]
        == f"{user} has rights beyond {stack.environ['TICKETCTL_MYSQL__INVENTORY__NAME']}: `{other}`.*"
    )
    assert rights["fix"].startswith("as an administrator: REVOKE")
    assert code == ExitCode.CHECKS_FAILED


def test_warnings_only_have_their_own_exit_code(stack: Stack, private_redis: PrivateRedis) -> None:
    import redis

    client = redis.Redis(port=private_redis.port, password=private_redis.password)
    client.config_set("maxmemory-policy", "volatile-lru")
    client.config_set("maxmemory", "0")
    code, report, _ = stack.doctor("redis")
    eviction = check(report, "redis.eviction")
    assert eviction["status"] == "warn"
    assert eviction["fix"] == "set maxmemory-policy noeviction before setting a memory limit"
    assert code == ExitCode.WARNINGS
    client.config_set("maxmemory", "64mb")
    code, report, _ = stack.doctor("redis")
    assert check(report, "redis.eviction")["summary"].startswith("maxmemory-policy is volatile-lru: under memory")
    assert code == ExitCode.CHECKS_FAILED


def test_checks_run_in_parallel_with_their_own_timeout(stack: Stack) -> None:
    """Servers that accept connections but never answer: the run costs one timeout, not one per check."""
    silent = []
    environ = {}
    for setting in ("TICKETCTL_REDIS__PORT", "TICKETCTL_MYSQL__PORT"):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        silent.append(listener)
        environ[setting] = str(listener.getsockname()[1])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    silent.append(listener)
    environ["TICKETCTL_SEARCH__URL"] = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        started = time.monotonic()
        code, report, _ = stack.doctor("--timeout", "2", **environ)
        in_checks = report["seconds"]
        wall = time.monotonic() - started
    finally:
        for listener in silent:
            listener.close()
    hung = [c["name"] for c in report["checks"] if c["summary"] == "no answer within 2s"]
    assert {"redis.ping", "search.health", "mysql.events", "mysql.inventory", "mysql.bookings"} <= set(hung)
    assert in_checks < 2 + 0.5, in_checks  # five checks of 2 s each, sequentially, would take 10 s
    assert wall < 2 + 3, wall  # plus the interpreter's start-up
    assert code == ExitCode.CHECKS_FAILED


def test_a_snapshot_older_than_the_schema_and_an_interrupted_restore(stack: Stack) -> None:
    """The newest snapshot predates every migration of one database: restoring it would roll the schema back."""
    import dataclasses

    from tests.support.snapshots import newest_versions, sample_manifest
    from ticketctl.snapshot.manifest import write_manifest
    from ticketctl.snapshot.store import SnapshotStore

    names = {key: stack.environ[f"TICKETCTL_MYSQL__{key.upper()}__NAME"] for key in ("events", "inventory", "bookings")}
    store = SnapshotStore(stack.folder / "snapshots")
    with store.staging("old", private=True) as folder:
        versions = {names["events"]: 0, names["inventory"]: 1, names["bookings"]: 1}
        write_manifest(folder, dataclasses.replace(sample_manifest((), "old"), schema_versions=versions), 0o600)
    code, report, _ = stack.doctor("snapshots")
    newest = check(report, "snapshots.newest")
    assert newest["status"] == "warn", newest
    assert newest["summary"].startswith("the newest snapshot, old (")
    applied = newest_versions()["events"]
    assert (
        f"{names['events']} V000 < V{applied:03d}" in newest["summary"] and "roll the schema back" in newest["summary"]
    )
    assert newest["fix"] == "ticketctl snapshot save"
    assert code == ExitCode.WARNINGS

    with store.staging("new", private=True) as folder:
        manifest = sample_manifest((), "new")
        later = dataclasses.replace(
            manifest,
            created_at="2099-01-01T00:00:00+00:00",
            schema_versions={names[key]: version for key, version in newest_versions().items()},
        )
        write_manifest(folder, later, 0o600)
    code, report, _ = stack.doctor("snapshots")
    assert check(report, "snapshots.newest")["status"] == "ok" and code == ExitCode.OK

    store.write_journal({"snapshot": "new", "safety": None, "phase": "apply"})
    code, report, _ = stack.doctor("snapshots.unfinished")
    unfinished = check(report, "snapshots.unfinished")
    assert unfinished["status"] == "fail" and unfinished["fix"] == "ticketctl snapshot restore new"
    assert code == ExitCode.CHECKS_FAILED
