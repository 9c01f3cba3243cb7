"""``ticketctl plan`` and drift on a real stack (Docker Engine, the local images): provably read-only.

One stack for the module, brought up with its initialisation. The first test gives it a pending
change of every kind (a setting that recreates a service, a host port that clashes, an orphan, a
container changed with ``docker update``, a database not migrated, a field added to the index by
hand, the schema changed by hand) and runs ``plan``, ``plan --schema-drift``, ``migrate drift``,
``index diff``, ``status`` and ``doctor`` through recording proxies: every request to the Docker
Engine (a unix socket in front of the real one), every HTTP method to the search engine (a TCP
proxy) and every statement MySQL runs (the general log of the stack's own server). Any write fails
the test; the only exception is the throwaway shadow database of schema drift, allowed by name
for the commands that compute schema drift. Then everything is undone and the stack is green.
The second test recreates a container by hand with another environment value.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import free_port
from tests.support.readonly import GeneralLog, RecordingProxy, docker_writes, mysql_writes, search_writes
from tests.support.search_targets import http
from tests.support.servers import DockerScratch, LocalImages, unique_name
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.e2e

DATABASES = ("events_db", "inventory_db", "bookings_db")
SCHEMA_BY_HAND = (
    "ALTER TABLE events ADD COLUMN note VARCHAR(200) NULL",
    "ALTER TABLE events DROP INDEX idx_status",
    "ALTER TABLE event_pricing_rules ALTER currency SET DEFAULT 'EUR'",
    "CREATE TABLE audit_log (id BIGINT PRIMARY KEY) ENGINE=InnoDB",
)
SCHEMA_UNDO = (
    "ALTER TABLE events DROP COLUMN note",
    "ALTER TABLE events ADD INDEX idx_status (status)",
    "ALTER TABLE event_pricing_rules ALTER currency SET DEFAULT 'USD'",
    "DROP TABLE audit_log",
)


@dataclass
class Stack:
    """The module's stack: its folder, its settings as environment variables, and its servers."""

    folder: Path
    scratch: DockerScratch
    env: dict[str, str] = field(default_factory=dict)

    @property
    def project(self) -> str:
        return self.scratch.project

    def ticketctl(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_") or k.startswith("TICKETCTL_TEST_")
        }
        done = subprocess.run(
            [sys.executable, "-m", "ticketctl", *args],
            cwd=self.folder,
            env={**inherited, **self.env, **extra, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def json(self, *args: str, **extra: str) -> tuple[int, Any]:
        done = self.ticketctl(*args, "--json", **extra)
        try:
            return done.returncode, json.loads(done.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"ticketctl {' '.join(args)} --json printed no JSON (exit {done.returncode}): {done.stderr}")

    def secret(self, name: str) -> str:
        lines = (self.folder / ".env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))[name]

    def root(self, database: str | None = None) -> Any:
        import pymysql

        return pymysql.connect(
            host="127.0.0.1",
            port=int(self.env["TICKETCTL_PORTS__MYSQL"]),
            user="root",
            password=self.secret("MYSQL_ROOT_PASSWORD"),
            database=database,
            autocommit=True,
            connect_timeout=10,
        )

    def sql(self, database: str, *statements: str) -> None:
        with self.root(database) as connection, connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    @property
    def search_url(self) -> str:
        return f"http://127.0.0.1:{self.env['TICKETCTL_PORTS__SEARCH']}"

    def container(self, service: str) -> Any:
        return self.scratch.client.containers.get(f"{self.project}-{service}-1")


@pytest.fixture(scope="module")
def stack(docker_client: Any, local_images: LocalImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    scratch = DockerScratch(docker_client, unique_name("plan"))
    created = Stack(tmp_path_factory.mktemp("plan-stack"), scratch)
    created.env = {
        "TICKETCTL_PROJECT": scratch.project,
        **local_images.environment(),
        "TICKETCTL_PORTS__MYSQL": str(free_port()),
        "TICKETCTL_PORTS__REDIS": str(free_port()),
        "TICKETCTL_PORTS__SEARCH": str(free_port()),
        "TICKETCTL_SEARCH__HEAP": "256m",
        "TICKETCTL_SEARCH__NOFILE": "20000",
    }
    try:
        up = created.ticketctl("up")
        assert up.returncode == 0, up.stderr
        yield created
    finally:
        scratch.cleanup()


@dataclass
class Recorders:
    """Where each command's requests and statements are recorded, and the environment that routes them there."""

    docker: RecordingProxy
    search: RecordingProxy
    log: GeneralLog
    env: dict[str, str]

    def run(self, stack: Stack, *args: str, **extra: str) -> tuple[int, Any, dict[str, list[Any]]]:
        self.log.start()
        self.docker.take()
        self.search.take()
        code, report = stack.json(*args, **{**self.env, **extra})
        return code, report, {"docker": self.docker.take(), "search": self.search.take(), "mysql": self.log.take()}


@pytest.fixture
def recorders(stack: Stack) -> Iterator[Recorders]:
    folder = Path(tempfile.mkdtemp(prefix="tkp-", dir="/tmp"))  # a unix socket path must stay short
    engine = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    log = GeneralLog(stack.root)
    with (
        RecordingProxy(str(folder / "docker.sock"), engine) as docker,
        RecordingProxy(("127.0.0.1", 0), ("127.0.0.1", int(stack.env["TICKETCTL_PORTS__SEARCH"]))) as search,
    ):
        env = {
            "DOCKER_HOST": f"unix://{folder / 'docker.sock'}",
            "TICKETCTL_SEARCH__URL": f"http://127.0.0.1:{search.address[1]}",
        }
        try:
            yield Recorders(docker, search, log, env)
        finally:
            log.stop()
    (folder / "docker.sock").unlink(missing_ok=True)
    folder.rmdir()


def findings(report: dict[str, Any], section: str, kind: str) -> list[str]:
    return [f["message"] for f in report["findings"] if f["section"] == section and f["kind"] == kind]


def assert_reads_only(command: str, recorded: dict[str, list[Any]], *, shadow: bool = False) -> None:
    """No write reached a server; with ``shadow``, only the throwaway shadow database of schema drift did."""
    assert docker_writes(recorded["docker"]) == [], f"{command}: writes to the Docker Engine"
    assert search_writes(recorded["search"]) == [], f"{command}: writes to the search engine"
    writes = mysql_writes(recorded["mysql"], allow_shadow=shadow, databases=DATABASES)
    assert writes == [], f"{command}: statements that write: " + "; ".join(str(entry) for entry in writes)


def test_plan_drift_index_diff_status_and_doctor_only_read_a_stack_with_every_kind_of_change(
    stack: Stack, recorders: Recorders, docker_client: Any, local_images: LocalImages
) -> None:
    events_index = next(iter(http(stack.search_url, "GET", "/_alias/events")))
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    clash = str(holder.getsockname()[1])
    orphan = docker_client.containers.run(
        local_images.apps,
        ["sleep", "600"],
        name=f"{stack.project}-old-worker-1",
        labels={"com.docker.compose.project": stack.project, "com.docker.compose.service": "old-worker"},
        detach=True,
    )
    try:
        stack.sql("events_db", *SCHEMA_BY_HAND)
        stack.sql("mysql", "DROP DATABASE inventory_db")  # its migrations are pending again
        http(stack.search_url, "PUT", f"/{events_index}/_mapping", {"properties": {"promo_code": {"type": "keyword"}}})
        stack.container("mysql").update(mem_limit="512m", memswap_limit="1g")
        changed = {"TICKETCTL_REDIS__MAXMEMORY": "300mb", "TICKETCTL_PORTS__REDIS": clash}

        code, plan, recorded = recorders.run(stack, "plan", **changed)
        assert_reads_only("plan", recorded)
        assert recorded["docker"] and recorded["search"] and recorded["mysql"]
        assert code == ExitCode.PORT_CONFLICT, plan  # what would stop up comes first
        assert findings(plan, "files", "change") == ["docker-compose.yml would be updated by render"]
        (redis,) = findings(plan, "containers", "change")
        assert redis.startswith("redis: would be recreated: command: … --maxmemory 256mb")
        assert f"ports (ports.redis): 127.0.0.1:{stack.env['TICKETCTL_PORTS__REDIS']}->6379/tcp" in redis
        (port,) = findings(plan, "ports", "blocked")
        assert port.startswith(f"port {clash} (ports.redis) for redis is taken by another process: pid {os.getpid()}")
        assert [m.split(":")[0] for m in findings(plan, "containers", "drift")] == [
            "mysql was changed outside ticketctl"
        ] * 2
        assert f"orphan {stack.project}-old-worker-1: kept (--remove-orphans removes it)" in findings(
            plan, "containers", "note"
        )
        pending = findings(plan, "migrations", "change")
        assert [m.split(" would be applied")[0] for m in pending] == ["inventory_db: V001 initial schema"], pending
        index = findings(plan, "index", "drift")
        assert any("promo_code (removed, needs reindex)" in m and "events_v2" in m for m in index), index
        assert any("mapping promo_code added outside ticketctl" in m for m in index), index
        assert plan["index"]["action"] == "reindex" and plan["index"]["to_index"] == "events_v2"

        code, plan, recorded = recorders.run(stack, "plan", "--schema-drift", **changed)
        assert_reads_only("plan --schema-drift", recorded, shadow=True)
        schema = findings(plan, "schema", "drift")
        assert any("events: column note exists live but not in the applied migrations" in m for m in schema), schema
        assert len(schema) == 4

        code, drift, recorded = recorders.run(stack, "migrate", "drift")
        assert_reads_only("migrate drift", recorded, shadow=True)
        assert code == ExitCode.DRIFT
        assert {d["name"]: len(d["differences"]) for d in drift["databases"]} == {
            "events_db": 4,
            "inventory_db": 0,
            "bookings_db": 0,
        }

        code, diff, recorded = recorders.run(stack, "index", "diff")
        assert_reads_only("index diff", recorded)
        assert code == ExitCode.DRIFT and diff["drift"]["changes"][0]["path"] == "promo_code"

        code, status, recorded = recorders.run(stack, "status")
        assert_reads_only("status", recorded)
        assert code == 0 and recorded["docker"]
        assert {row["service"] for row in status["services"] if row["orphan"]} == {"old-worker"}

        code, doctor, recorded = recorders.run(stack, "doctor")
        assert_reads_only("doctor", recorded, shadow=True)
        checks = {check["name"]: check for check in doctor["checks"]}
        assert code == ExitCode.CHECKS_FAILED
        assert checks["mysql.events.drift"]["status"] == "fail"
        assert (
            checks["containers.mysql"]["status"] == "fail" and "memory limit" in checks["containers.mysql"]["summary"]
        )
        assert checks["search.index"]["status"] == "fail" and "promo_code" in checks["search.index"]["summary"]
    finally:
        holder.close()
        orphan.remove(force=True)
        stack.sql("events_db", *SCHEMA_UNDO)
        http(stack.search_url, "DELETE", f"/{events_index}")
        for command in (("migrate",), ("index", "create"), ("up", "--force-recreate", "mysql")):
            done = stack.ticketctl(*command)
            assert done.returncode == 0, f"{command}: {done.stderr}"

    code, plan = stack.json("plan", "--schema-drift")
    assert code == ExitCode.OK, plan["findings"]
    code, doctor = stack.json("doctor")
    failed = [c["name"] for c in doctor["checks"] if c["status"] == "fail"]
    assert failed == [], doctor


def test_a_container_recreated_by_hand_with_another_environment_value_is_named(
    stack: Stack, docker_client: Any
) -> None:
    assert stack.ticketctl("plan").returncode == ExitCode.OK
    name = f"{stack.project}-redis-1"
    api = docker_client.api
    before = api.inspect_container(name)
    config = dict(before["Config"])
    password = "by-hand-" + secrets.token_hex(8)
    config["Env"] = [e for e in config["Env"] if not e.startswith("REDIS_PASSWORD=")] + [
        f"REDIS_PASSWORD={password}",
        "TZ=Europe/Paris",
    ]
    network = before["HostConfig"]["NetworkMode"]
    body = {
        **config,
        "HostConfig": before["HostConfig"],
        "NetworkingConfig": {"EndpointsConfig": {network: {"Aliases": [name, "redis"]}}},
    }
    api.remove_container(name, force=True)
    api.start(api.create_container_from_config(body, name=name)["Id"])
    try:
        done = stack.ticketctl("plan")
        assert done.returncode == ExitCode.DRIFT, done.stdout
        assert "redis was changed outside ticketctl: environment REDIS_PASSWORD: (secret, not shown)" in done.stdout
        assert "redis was changed outside ticketctl: environment TZ: Europe/Paris → (none)" in done.stdout
        assert password not in done.stdout + done.stderr
        code, report = stack.json("plan")
        (redis,) = [s for s in report["stack"]["services"] if s["service"] == "redis"]
        assert redis["action"] == "unchanged"  # its config hash label was copied: up alone would keep it
        assert {d["field"] for d in redis["drift"]} == {"environment REDIS_PASSWORD", "environment TZ"}
        code, doctor = stack.json("doctor", "containers.redis")
        assert code == ExitCode.CHECKS_FAILED
        (check,) = [c for c in doctor["checks"] if c["name"] == "containers.redis"]
        assert check["status"] == "fail" and "environment TZ" in check["summary"]
        assert check["fix"].startswith("ticketctl up --force-recreate redis")
    finally:
        assert stack.ticketctl("up", "--force-recreate", "redis").returncode == 0
    assert stack.ticketctl("plan").returncode == ExitCode.OK

    changes = stack.ticketctl("plan", TICKETCTL_REDIS__MAXMEMORY="300mb")
    assert changes.returncode == ExitCode.CHANGES, changes.stdout
    assert "redis: would be recreated: command: … --maxmemory 256mb --maxmemory-policy … → … --maxmemory 300mb" in (
        changes.stdout
    )
