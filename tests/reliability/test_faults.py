"""Faults: servers that are down, wrong, red or frozen; processes interrupted; a disk that is full.

A server is made "down" by pointing ticketctl at a closed port or a dead
socket, "wrong" by a wrong password, and "frozen" or "killed" on a private
``redis-server`` this test starts and stops itself. The shared test servers are
never stopped. Each case asserts the whole ``error:`` line (or the doctor line),
the exit code, and that nothing was lost.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.reliability import Databases, Transcript, Workdir, closed_port, free_port, write_migration
from tests.support.requirements import REDIS_SERVER
from tests.support.stacks import free_ports
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.reliability

START_DOCKER = "start Docker: `sudo dockerd &` (Linux) or Docker Desktop; if it runs elsewhere, check DOCKER_HOST"
RENDERED = (".env", ".env.example", "docker-compose.yml")


# --------------------------------------------------------------------------- Docker


def test_docker_daemon_down(workdir: Workdir, tmp_path: Path) -> None:
    missing = tmp_path / "docker.sock"
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as listener:  # a socket file that nobody listens on any more
        listener.bind(str(stale))
    port = closed_port()
    cases = [
        (f"unix://{missing}", "the socket does not exist (Docker is not running)"),
        (f"unix://{stale}", "connection refused (Docker is not running there)"),
        (f"tcp://127.0.0.1:{port}", "connection refused (Docker is not running there)"),
    ]
    for host, reason in cases:
        for command in (("up", "--no-init"), ("status",), ("down",)):
            run = workdir.run(*command, env={"DOCKER_HOST": host})
            assert run.code == ExitCode.DOCKER, run.output
            assert (
                run.err == f"error: cannot reach the Docker Engine at {host} (DOCKER_HOST): {reason} — {START_DOCKER}\n"
            )
            assert run.out == ""
        doctor = workdir.run("doctor", "docker", env={"DOCKER_HOST": host})
        assert doctor.code == ExitCode.CHECKS_FAILED
        assert f"✗ docker.daemon         cannot reach the Docker Engine at {host} (DOCKER_HOST): {reason}" in doctor.out
    # up checks the Engine before it renders anything.
    assert [name for name in RENDERED if (workdir.path / name).exists()] == []


# --------------------------------------------------------------------------- MySQL


def test_mysql_down_or_wrong_password(workdir: Workdir, databases: Databases) -> None:
    write_migration(
        workdir, "events", "V001__a.sql", "CREATE TABLE a (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
    )
    workdir.env.update(databases.environment())
    port = closed_port()
    down = workdir.run("migrate", "--schemas-dir", "schemas", env={"TICKETCTL_MYSQL__PORT": str(port)})
    assert down.code == ExitCode.DATABASE
    assert down.err == (
        f"error: cannot connect to MySQL at 127.0.0.1:{port}: Can't connect to MySQL server on '127.0.0.1' "
        "([Errno 111] Connection refused) — start the stack with 'ticketctl up', or check mysql.host and mysql.port\n"
    )

    user = databases.users["events"]
    wrong = workdir.run(
        "migrate", "--db", "events", "--schemas-dir", "schemas", env={"EVENTS_DB_PASSWORD": "not-the-password"}
    )
    assert wrong.code == ExitCode.DATABASE
    server = f"{databases.server.host}:{databases.server.port}"
    assert wrong.err == (
        f"error: MySQL at {server} denied access to user '{user}': Access denied for user '{user}'@'127.0.0.1' "
        "(using password: YES) — check that EVENTS_DB_PASSWORD (in .env or the environment) is this user's "
        "password on the server; an account that requires TLS is denied so too: then set mysql.ssl_ca\n"
    )
    assert not databases.exists("events")  # nothing was created by either run

    doctor = workdir.run("doctor", "mysql.events", env={"TICKETCTL_MYSQL__PORT": str(port)})
    assert doctor.code == ExitCode.CHECKS_FAILED
    assert re.search(rf"✗ mysql\.events +cannot connect to MySQL at 127\.0\.0\.1:{port}: ", doctor.out)
    assert "fix: start the stack with 'ticketctl up', or check mysql.host and mysql.port" in doctor.out
    doctor = workdir.run("doctor", "mysql.events", env={"EVENTS_DB_PASSWORD": "not-the-password"})
    assert doctor.code == ExitCode.CHECKS_FAILED
    assert re.search(rf"✗ mysql\.events +MySQL at {re.escape(server)} denied access to user .{user}.", doctor.out)


def test_mysql_goes_away_in_the_middle_of_a_migration(workdir: Workdir, databases: Databases) -> None:
    """The server drops the connection under a statement (a restart, a KILL): exit 7, the statement is not blamed,
    and the next run resumes where the history says."""
    workdir.env.update(databases.environment())
    write_migration(
        workdir,
        "events",
        "V001__slow.sql",
        "CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, step INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
        "INSERT INTO log (step) VALUES (2);\n"
        "INSERT INTO log (step) SELECT 3 FROM (SELECT SLEEP(3)) AS slow;\n"
        "CREATE TABLE done (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
    )
    process = workdir.start("migrate", "--db", "events", "--schemas-dir", "schemas")
    deadline = time.monotonic() + 30
    victim = None
    while victim is None and time.monotonic() < deadline:
        rows = databases.query(
            None,
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s "
            "AND INFO LIKE 'INSERT INTO log (step) SELECT%%'",
            (databases.users["events"],),
        )
        victim = rows[0][0] if rows else None
        time.sleep(0.05)
    assert victim is not None, "the slow statement never ran"
    databases.query(None, f"KILL CONNECTION {int(victim)}")
    run = process.finish(timeout=60)
    name = databases.names["events"]
    assert run.code == ExitCode.DATABASE, run.output
    assert run.error_line == (
        f"error: schemas/events/V001__slow.sql:3: lost the connection to MySQL at 127.0.0.1:{databases.server.port} "
        f"during statement 3 of 4 of {name} V001 (MySQL error 2013: Lost connection to MySQL server during query) — "
        "nothing is wrong with the statement, but it was rolled back; once MySQL answers, run 'ticketctl migrate' "
        "again: it resumes at statement 3"
    )
    assert "could not record" not in run.output
    assert [(r["status"], r["statements_applied"]) for r in databases.history("events")] == [("running", 2)]

    rerun = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas", "--json", timeout=60)
    assert rerun.code == 0, rerun.err
    (applied,) = rerun.json()["databases"][0]["applied"]
    assert applied["first_statement"] == 3
    assert databases.query("events", "SELECT step, COUNT(*) FROM log GROUP BY step ORDER BY step") == [(2, 1), (3, 1)]


# --------------------------------------------------------------------------- Redis


@dataclass
class PrivateRedis:
    """A ``redis-server`` of one test, on its own port with its own password; killed at the end."""

    port: int
    password: str
    process: subprocess.Popen[bytes]

    def ping(self) -> bool:
        import redis

        client = redis.Redis(port=self.port, password=self.password, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


@pytest.fixture
def private_redis(tmp_path: Path, transcript: Transcript) -> Iterator[PrivateRedis]:
    binary = REDIS_SERVER.require()
    port, password = free_port(), secrets.token_urlsafe(24)
    transcript.secret(password, "the private redis-server's password")
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
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    server = PrivateRedis(port, password, process)
    try:
        deadline = time.monotonic() + 10
        while not server.ping():
            assert time.monotonic() < deadline and process.poll() is None, "the private redis-server did not start"
            time.sleep(0.05)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)


def _redis_env(server: PrivateRedis, password: str | None = None) -> dict[str, str]:
    return {
        "TICKETCTL_REDIS__PORT": str(server.port),
        "REDIS_PASSWORD": password or server.password,
        "TICKETCTL_DOCKER__ENABLED": "false",
    }


def test_redis_killed_frozen_or_wrong_password(workdir: Workdir, private_redis: PrivateRedis) -> None:
    where = f"Redis at 127.0.0.1:{private_redis.port}"
    healthy = workdir.run("doctor", "redis", "--json", env=_redis_env(private_redis))
    assert healthy.code == 0, healthy.out
    assert [c["status"] for c in healthy.json()["checks"]] == ["ok", "ok", "ok"]

    wrong = workdir.run("doctor", "redis", env=_redis_env(private_redis, "Wrong-password-123"))
    assert wrong.code == ExitCode.CHECKS_FAILED
    assert f"✗ redis.ping      {where}: authentication failed\n" in wrong.out
    assert "fix: check REDIS_PASSWORD in .env (or the environment) against the server's requirepass" in wrong.out

    private_redis.process.send_signal(signal.SIGSTOP)  # frozen: the port accepts, nothing answers
    try:
        frozen = workdir.run("doctor", "redis", "--timeout", "1", env=_redis_env(private_redis))
    finally:
        private_redis.process.send_signal(signal.SIGCONT)
    assert frozen.code == ExitCode.CHECKS_FAILED
    assert re.search(rf"✗ redis\.ping +({re.escape(where)}: timed out|no answer within 1s)\n", frozen.out), frozen.out
    assert frozen.seconds < 10

    private_redis.process.kill()
    private_redis.process.wait(timeout=10)
    killed = workdir.run("doctor", "redis", env=_redis_env(private_redis))
    assert killed.code == ExitCode.CHECKS_FAILED
    assert (
        f"✗ redis.ping      {where}: cannot connect (Error 111 connecting to 127.0.0.1:{private_redis.port}. "
        "Connection refused.)\n" in killed.out
    )
    assert "  - redis.lock      skipped: redis.ping did not pass\n" in killed.out


# --------------------------------------------------------------------------- search


def test_search_engine_down(workdir: Workdir) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    for command in ("create", "status", "migrate"):
        run = workdir.run("index", command, "--url", url, "--index", "tkt_down")
        assert run.code == ExitCode.SEARCH
        assert run.err == (
            f"error: search server at {url} (--url) is unreachable: connection refused — start it with "
            "'ticketctl up', or point search.url / TICKETCTL_SEARCH__URL at a running server\n"
        )
    doctor = workdir.run("doctor", "search", env={"TICKETCTL_SEARCH__URL": url, "TICKETCTL_DOCKER__ENABLED": "false"})
    assert doctor.code == ExitCode.CHECKS_FAILED
    assert (
        f"✗ search.health    search server at {url} (TICKETCTL_SEARCH__URL) is unreachable: connection refused\n"
        in doctor.out
    )


def test_search_engine_red(workdir: Workdir, opensearch_scratch: Any) -> None:
    """An index whose primary can never be allocated turns the cluster red for a few seconds."""
    server = opensearch_scratch.server
    alias = opensearch_scratch.index("red")
    other = opensearch_scratch.index("other")
    body = {
        "settings": {
            "index.number_of_shards": 1,
            "index.number_of_replicas": 0,
            "index.routing.allocation.require._name": "no-such-node",
        },
        "aliases": {alias: {"is_write_index": True}},
    }
    env = {
        "TICKETCTL_SEARCH__URL": server.url,
        "TICKETCTL_SEARCH__INDEX": alias,
        "TICKETCTL_SEARCH__TIMEOUT": "1",
        "TICKETCTL_DOCKER__ENABLED": "false",
    }
    server.ok("PUT", f"/{alias}_v1?wait_for_active_shards=0", body)  # it never gets one
    try:
        doctor = workdir.run("doctor", "search", env=env)
        status = workdir.run("index", "status", env=env)
        create_own = workdir.run("index", "create", env=env)
        create_other = workdir.run("index", "create", env={**env, "TICKETCTL_SEARCH__INDEX": other})
        other_health = server.request("GET", f"/_cluster/health/{other}_v1?timeout=5s").body
    finally:
        server.request("DELETE", f"/{alias}_v1")
    label = f"OpenSearch {server.request('GET', '/').body['version']['number']} at {server.url}"

    assert doctor.code == ExitCode.CHECKS_FAILED
    assert re.search(rf"✗ search\.health +{re.escape(label)}: cluster red \(\d+ unassigned shards\)\n", doctor.out)
    assert "fix: look at GET _cluster/allocation/explain" in doctor.out

    assert status.code == ExitCode.SEARCH
    assert status.err == (
        f"error: {label}: index {alias}_v1 (alias {alias}) is red: a primary shard is not allocated, so its "
        "documents cannot be read — 'GET _cluster/allocation/explain' says why (a lost node, a full disk, an "
        f"allocation filter on {alias}_v1); fix that, then run 'ticketctl index status' again\n"
    )
    assert status.seconds < 5  # no retries of a 503 that cannot heal by itself

    assert create_own.code == ExitCode.UNHEALTHY
    cluster = server.request("GET", "/_cluster/health").body["cluster_name"]
    assert create_own.err == (
        f"error: {label}: indices {alias}_v* of cluster {cluster} are red after 3s — check the server's log and "
        "'GET _cluster/allocation/explain'; ticketctl waits for yellow up to 3 × search.timeout\n"
    )
    # Someone else's red index on a shared cluster does not block another alias.
    assert create_other.code == ExitCode.OK, create_other.err
    assert other_health["status"] == "green"


# --------------------------------------------------------------------------- up: interrupted, failing containers


@pytest.fixture
def stack(workdir: Workdir, docker_scratch: Any, local_images: Any) -> Workdir:
    """The workdir as a project on the real Engine: its own name and free ports, the local images."""
    mysql, redis, search, apps = free_ports(4, consecutive=9)  # apps: a block of 9, apart from the others
    workdir.env.update(
        {
            "TICKETCTL_PROJECT": docker_scratch.project,
            "TICKETCTL_PORTS__MYSQL": str(mysql),
            "TICKETCTL_PORTS__REDIS": str(redis),
            "TICKETCTL_PORTS__SEARCH": str(search),
            "TICKETCTL_PORTS__APPS": str(apps),
            "TICKETCTL_SEARCH__NOFILE": "20000",
            **local_images.environment(),
        }
    )
    return workdir


def containers(docker_scratch: Any) -> dict[str, Any]:
    # While a container is being created, the Engine may list it a moment before it can be inspected.
    found = docker_scratch.client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={docker_scratch.project}"}, ignore_removed=True
    )
    return {container.name: container for container in found}


INTERRUPTED = (
    "error: up interrupted: containers already created are left as they are — run `ticketctl up` again; it "
    "converges from where it stopped"
)


@pytest.mark.parametrize("moment", ["created", "health-wait"])
def test_ctrl_c_during_up_then_a_rerun_converges_without_duplicates(
    stack: Workdir, docker_scratch: Any, moment: str
) -> None:
    process = stack.start("up", "--no-init", "redis")
    name = f"{docker_scratch.project}-redis-1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = containers(docker_scratch).get(name)
        if found is not None and (moment == "created" or found.status == "running"):
            break
        time.sleep(0.05)
    process.signal(signal.SIGINT)
    run = process.finish(timeout=60)
    assert run.code == ExitCode.INTERRUPTED, run.output
    assert run.error_line == INTERRUPTED
    assert list(containers(docker_scratch)) == [name]  # left as it was, not removed half-way

    rerun = stack.run("up", "--no-init", "--json", "redis", timeout=180)
    assert rerun.code == 0, rerun.err
    (service,) = rerun.json()["services"]
    assert (service["service"], service["state"], service["health"]) == ("redis", "running", "healthy")
    assert service["action"] in ("created", "recreated", "started", "unchanged")
    assert list(containers(docker_scratch)) == [name]
    assert [
        n.name
        for n in docker_scratch.client.networks.list(
            filters={"label": f"com.docker.compose.project={docker_scratch.project}"}
        )
    ] == [f"{docker_scratch.project}_backend"]


def test_kill_9_during_up_then_a_rerun_converges(stack: Workdir, docker_scratch: Any) -> None:
    """No clean-up runs at all; the project lock dies with the process, and the rerun starts from what is there."""
    process = stack.start("up", "--no-init", "redis")
    name = f"{docker_scratch.project}-redis-1"
    deadline = time.monotonic() + 60
    while name not in containers(docker_scratch) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.popen.poll() is None, process.finish().output  # killed in the middle, not after an end
    process.signal(signal.SIGKILL)
    assert process.killed().ended == "killed by signal 9"
    rerun = stack.run("up", "--no-init", "--json", "redis", "--lock-timeout", "5", timeout=180)
    assert rerun.code == 0, rerun.err
    (service,) = rerun.json()["services"]
    assert (service["state"], service["health"]) == ("running", "healthy")
    assert list(containers(docker_scratch)) == [name]


def test_after_ctrl_c_up_still_waits_for_its_workers() -> None:
    """The exact race behind a line printed after "up interrupted": Ctrl-C landing while the main thread waits.

    On Python 3.11 a KeyboardInterrupt inside ``Thread.join`` marks the running thread as stopped, so a second
    ``join`` returned at once and the process went on while a worker still talked to Docker.
    """
    import threading

    from ticketctl.parallel import Worker, wait_for

    release = threading.Event()
    finished: list[str] = []

    def work() -> None:
        release.wait()
        time.sleep(0.2)
        finished.append("done")

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    worker = Worker(work)
    worker.start()
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            wait_for([worker])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    release.set()
    wait_for([worker])  # as up does after the interrupt: it must not return before the worker has ended
    assert finished == ["done"]


def test_a_container_that_exits_during_the_health_wait(stack: Workdir, docker_scratch: Any) -> None:
    """It prints its password and exits: up fails at once, shows its logs masked, removes what it created."""
    templates = stack.path / "templates"
    templates.mkdir()
    packaged = Path(__file__).resolve().parents[2] / "templates" / "docker-compose.yml.j2"
    text = packaged.read_text(encoding="utf-8")
    loop = "{% for arg in service.command %}"
    assert loop in text
    crash = '["sh", "-c", "echo redis auth is $REDIS_PASSWORD; echo giving up; exit 3"]'
    text = text.replace(loop, f"{{% for arg in ({crash} if service.name == 'redis' else service.command) %}}")
    (templates / "docker-compose.yml.j2").write_text(text, encoding="utf-8")
    stack.write("ticketctl.yaml", "templates_dir: templates\n")

    run = stack.run("up", "--no-init", "redis", timeout=120)
    assert run.code == ExitCode.UNHEALTHY, run.output
    assert run.seconds < 30
    password = stack.env_file()["REDIS_PASSWORD"]
    assert password not in run.output
    # Its logs, masked (twice over when Docker restarted it before they were read).
    assert re.search(r"--- last \d+ log lines of redis ---\n(  redis auth is \*\*\*\n  giving up\n)+", run.err), run.err
    assert re.fullmatch(
        r"error: redis: exited( with code 3)? while starting( and is being restarted)?; last log line: giving up — "
        r"fix the cause shown in its logs and run `ticketctl up` again \(--keep-on-failure keeps the containers "
        r"for `docker logs`\)",
        run.error_line,
    ), run.error_line
    assert containers(docker_scratch) == {}
    volumes = docker_scratch.client.volumes.list(
        filters={"label": f"com.docker.compose.project={docker_scratch.project}"}
    )
    assert [v.name for v in volumes] == [f"{docker_scratch.project}_redis-data"]  # the data volume is kept


# --------------------------------------------------------------------------- .env on a full or read-only disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs of this test; unmounted at the end."""
    from tests.support.servers import server_missing

    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        server_missing("a tmpfs of its own (mount -t tmpfs needs root)", mounted.stderr.strip())
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> None:
    with contextlib.suppress(OSError), (folder / "filler").open("wb") as filler:
        while True:
            filler.write(b"\0" * 4096)
            filler.flush()


def test_disk_full_when_writing_env_keeps_the_old_file(workdir: Workdir, small_disk: Path) -> None:
    """The .env must gain a secret on a full disk: exit 17, the old file byte-identical, no temporary left over."""
    workdir.write("ticketctl.yaml", f"output_dir: {small_disk}\n")
    assert workdir.run("render").code == 0
    env = small_disk / ".env"
    lines = env.read_text(encoding="utf-8").splitlines(keepends=True)
    env.write_text("".join(line for line in lines if not line.startswith("REDIS_PASSWORD=")), encoding="utf-8")
    workdir.transcript.secrets_of_env_file(env)
    before = env.read_bytes()
    _fill(small_disk)

    run = workdir.run("render")
    assert run.code == ExitCode.IO
    assert run.err == (
        f"error: {env}: cannot write: No space left on device; the previous file is unchanged — free disk space or "
        "fix the folder's permissions, then run the command again\n"
    )
    assert env.read_bytes() == before
    assert (env.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in small_disk.iterdir()) == sorted([*RENDERED, "filler", "mysql-init"])

    (small_disk / "filler").unlink()
    again = workdir.run("render")
    assert again.code == 0, again.err
    assert env.read_bytes().startswith(before)  # the old secrets kept as they were; the missing one appended
    added = env.read_bytes()[len(before) :].decode()
    assert re.fullmatch(r"\n# Added by ticketctl [^\n]+\nREDIS_PASSWORD=[A-Za-z0-9_-]{32}\n", added), added


def test_read_only_folder_when_writing_env(workdir: Workdir, small_disk: Path) -> None:
    """As root, permission bits do not stop a write; a read-only mount does."""
    workdir.write("ticketctl.yaml", f"output_dir: {small_disk}\n")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    first = workdir.run("render")
    assert first.code == ExitCode.IO
    assert first.err == (
        f"error: {small_disk}: cannot write: Read-only file system — choose a writable folder with --out or "
        "output_dir, or fix its permissions\n"
    )
    assert list(small_disk.iterdir()) == []

    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert workdir.run("render").code == 0
    before = {name: (small_disk / name).read_bytes() for name in RENDERED}
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    workdir.write("ticketctl.yaml", f"output_dir: {small_disk}\nports:\n  mysql: 3307\n")
    changed = workdir.run("render")
    assert changed.code == ExitCode.IO
    assert changed.err == (
        f"error: {small_disk}: cannot write: Read-only file system — choose a writable folder with --out or "
        "output_dir, or fix its permissions\n"
    )
    assert {name: (small_disk / name).read_bytes() for name in RENDERED} == before


# --------------------------------------------------------------------------- index migrate --reindex killed


def test_kill_9_during_a_reindex_then_a_rerun_unblocks_writes_at_once(
    workdir: Workdir, opensearch_scratch: Any
) -> None:
    """The killed run leaves the live index write-blocked and its lock behind; the rerun on the same machine sees
    the holder is dead, takes the lock over at once (not at expiry, 2 minutes later) and finishes the job."""
    from tests.support.reliability import changed_mapping, index_documents

    server = opensearch_scratch.server
    alias = opensearch_scratch.index("events")
    lock_doc = f"/.ticketctl-locks/_doc/{alias}"
    common = ("--url", server.url, "--index", alias)
    try:
        assert workdir.run("index", "create", *common).code == 0
        index_documents(server, alias, 20000)
        changed_mapping(workdir)
        migrate = ("index", "migrate", "--reindex", "--source", "index", "--mapping", "changed.json", *common)
        process = workdir.start(*migrate)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.popen.poll() is None:
            answer = server.request("GET", f"/{alias}_v1/_settings/index.blocks.write").body or {}
            blocks = answer.get(f"{alias}_v1", {}).get("settings", {}).get("index", {}).get("blocks", {})
            if blocks.get("write") == "true":
                process.signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        killed = process.killed()
        assert killed.code == -signal.SIGKILL, f"the migration ended before it could be killed:\n{killed.output}"
        # The state the kill left: alias still on v1, v1 refusing writes, the dead process's lock.
        assert list(server.ok("GET", f"/_alias/{alias}")) == [f"{alias}_v1"]
        assert server.request("POST", f"/{alias}/_doc", {"eventId": 1, "name": "x"}).status == 403
        assert server.ok("GET", lock_doc)["_source"]["owner"].endswith(f":{process.pid}")
        status = workdir.run("index", "status", *common)
        assert "index     health green, 20000 documents, write-blocked (an interrupted migration? run it again)" in (
            status.out
        )

        rerun = workdir.run(*migrate)
        assert rerun.code == 0, rerun.err
        assert rerun.seconds < 30  # not the lock's 120 s expiry
        assert f"Reindexed {alias}_v1 → {alias}_v3: 20000 documents copied and counted" in rerun.out
        assert list(server.ok("GET", f"/_alias/{alias}")) == [f"{alias}_v3"]
        written = server.request("POST", f"/{alias}/_doc?refresh=true", {"eventId": 20001, "name": "after"})
        assert written.status == 201
        assert server.ok("GET", f"/{alias}/_count")["count"] == 20001
        assert server.request("GET", lock_doc).status == 404
    finally:
        server.request("DELETE", f"{lock_doc}?refresh=true")
