"""The commands people reach for first, on one real stack: shell, exec, env, logs, restart, version, and Compose v2.

One stack serves the whole module: MySQL and Redis in containers from the local
images, and the search engine given by ``search.url`` as a remote one (the test
Elasticsearch of ``scripts/test-services``; a search container of its own would
add minutes of start-up on a loaded machine, and ``tests/e2e/test_stack_e2e.py``
starts one already). The tests that stop or restart a service come last.
Everything runs ``ticketctl`` as a process, the way a user does.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import SearchServer, unique_name
from tests.support.stacks import VENV_BIN, Project, new_project

pytestmark = pytest.mark.e2e


SERVICES = ["mysql", "redis"]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: Any,
    images: dict[str, str],
    elasticsearch_server: SearchServer,
) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("daily")
    project = new_project(folder, docker_client, images, TICKETCTL_SEARCH__URL=elasticsearch_server.url)
    try:
        run = project.ticketctl("up", "--no-init", *SERVICES)
        assert run.code == 0, run.err
        yield project
    finally:
        project.cleanup()


def _secrets(stack: Project) -> dict[str, str]:
    return {name: value for name, value in stack.env_file().items() if name.endswith("PASSWORD")}


# --------------------------------------------------------------------------- shell


def test_shell_mysql_runs_a_query_as_each_database_s_own_user(stack: Project) -> None:
    events = stack.ticketctl("shell", "mysql", "-e", "SELECT CURRENT_USER(), DATABASE()")
    assert events.code == 0, events.err
    assert events.out.splitlines() == ["CURRENT_USER()\tDATABASE()", "events_app@%\tevents_db"]
    inventory = stack.ticketctl("shell", "mysql", "inventory", stdin="SELECT CURRENT_USER(), DATABASE();\n")
    assert inventory.code == 0, inventory.err
    assert inventory.out.splitlines()[-1] == "inventory_app@%\tinventory_db"
    root = stack.ticketctl("shell", "mysql", "--root", "-e", "SELECT CURRENT_USER()", "--", "--skip-column-names")
    assert (root.code, root.out.strip()) == (0, "root@%")
    # The application user has rights on its own database only, and the client's exit code comes back.
    denied = stack.ticketctl("shell", "mysql", "bookings", "-e", "SELECT COUNT(*) FROM events_db.no_such_table")
    assert denied.code == 1 and "denied" in denied.err.lower()
    broken = stack.ticketctl("shell", "mysql", "-e", "SELEC 1")
    assert broken.code == 1 and "ERROR 1064" in broken.err


def test_shell_redis_runs_commands_authenticated(stack: Project) -> None:
    ping = stack.ticketctl("shell", "redis", "PING")
    assert (ping.code, ping.out.strip()) == (0, "PONG")
    script = stack.ticketctl("shell", "redis", stdin="SET daily:key hello\nGET daily:key\nACL WHOAMI\n")
    assert script.code == 0, script.err
    assert script.out.split() == ["OK", "hello", "default"]


def test_shell_search_sends_requests_as_written(stack: Project) -> None:
    health = stack.ticketctl("shell", "search", "GET", "/_cat/health?v")
    assert health.code == 0, health.err
    assert health.out.split()[:4] == ["epoch", "timestamp", "cluster", "status"]  # text, as _cat answers
    index = unique_name("no-such-index")
    missing = stack.ticketctl("shell", "search", "GET", f"/{index}/_search")
    assert missing.code == 9 and json.loads(missing.out)["status"] == 404
    assert f"error: GET /{index}/_search → 404 index_not_found_exception" in missing.err
    script = stack.ticketctl(
        "shell", "search", stdin="GET /_cluster/health\n# a comment\nGET /_cat/indices?format=json\n"
    )
    assert script.code == 0, script.err
    assert '"cluster_name"' in script.out and script.out.rstrip().endswith("]")


def test_an_interactive_session_gets_a_terminal(stack: Project) -> None:
    pid, terminal = pty.fork()
    if pid == 0:  # the child: ticketctl on a terminal of its own
        try:
            os.chdir(stack.folder)
            os.execve(sys.executable, stack.command("shell", "mysql", "bookings"), stack.environment())
        finally:
            os._exit(127)
    output = _converse(terminal, [b"SELECT CONCAT('who:', CURRENT_USER());\r", b"\x04"])
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert "mysql: bookings_db as bookings_app" in output
    assert "| who:bookings_app@% " in output  # the client drew a table: it is on a terminal


def _converse(terminal: int, keys: list[bytes]) -> str:
    """Wait for a prompt, type each line, and return everything the terminal showed."""
    seen = b""
    for line in [b"", *keys]:
        if line:
            os.write(terminal, line)
        deadline = time.monotonic() + 30
        marker = len(seen)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([terminal], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(terminal, 65536)
                except OSError:
                    return seen.decode("utf-8", "replace")
                if not chunk:
                    return seen.decode("utf-8", "replace")
                seen += chunk
            elif b"> " in seen[marker:] and seen[marker:].rstrip().endswith(b">"):
                break
    return seen.decode("utf-8", "replace")


def test_no_password_appears_on_any_command_line_during_a_session(stack: Project) -> None:
    secrets = _secrets(stack)
    sessions = [
        (
            "mysql",
            ["shell", "mysql"],
            "SELECT SLEEP(1);\n",
            "--defaults-extra-file=/dev/fd/3",
            secrets["EVENTS_DB_PASSWORD"],
        ),
        # (the healthcheck runs redis-cli too, as `redis-cli -h 127.0.0.1 ping`: the marker is the session's)
        ("redis", ["shell", "redis"], "PING\n", "redis-cli -h 127.0.0.1 -p 6379 -n 0", secrets["REDIS_PASSWORD"]),
    ]
    for service, args, first, client_marker, password in sessions:
        session = stack.start(*args, stdin=subprocess.PIPE)
        try:
            assert session.stdin is not None
            session.stdin.write(first)
            session.stdin.flush()  # stdin stays open: the client waits for more, alive
            host = _wait_for_cmdline(client_marker, timeout=60)
            inside = _container_cmdlines(stack, service)
            assert any(client_marker in line for line in inside), inside
            leaked = [line for line in [*host, *_host_cmdlines(), *inside] if password in line]
            assert leaked == [], f"{service}: the password is on a command line"
        finally:
            if session.stdin is not None:
                session.stdin.close()
            session.wait(timeout=60)
        assert session.returncode == 0, session.stderr.read() if session.stderr else ""


def _host_cmdlines() -> list[str]:
    """Every process's argv on this machine (containers' processes included), but this test's own."""
    lines = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"))
        except OSError:
            continue
    return lines


def _wait_for_cmdline(marker: str, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = _host_cmdlines()
        if any(marker in line for line in lines):
            return lines
        time.sleep(0.1)
    raise AssertionError(f"no process with {marker!r} in its command line appeared")


def _container_cmdlines(stack: Project, service: str) -> list[str]:
    """What ``ps`` shows inside the container: every process's argv there."""
    container = stack.client.containers.get(f"{stack.name}-{service}-1")
    command = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"
    if service == "mysql":  # the MySQL image has procps: the ps of a person debugging
        command = "ps -eo args"
    result = container.exec_run(["sh", "-c", command])
    assert result.exit_code == 0, result.output
    return [line for line in result.output.decode("utf-8", "replace").splitlines() if line.strip()]


# --------------------------------------------------------------------------- exec and env


def test_exec_runs_in_the_container_with_stdin_and_its_exit_code(stack: Project) -> None:
    run = stack.ticketctl(
        "exec", "redis", "sh", "-c", 'read line; echo "got:$line"; echo oops >&2; exit 7', stdin="hello\n"
    )
    assert (run.code, run.out, run.err) == (7, "got:hello\n", "oops\n")
    missing = stack.ticketctl("exec", "api-gateway", "true")
    assert missing.code == 15 and "ticketctl up api-gateway" in missing.err


PROBE = textwrap.dedent(
    """
    import json, os, urllib.parse, urllib.request
    import pymysql, redis

    found = {}
    for key in ("EVENTS", "INVENTORY", "BOOKINGS"):
        url = urllib.parse.urlsplit(os.environ[key + "_DATABASE_URL"])
        connection = pymysql.connect(
            host=url.hostname, port=url.port, user=urllib.parse.unquote(url.username),
            password=urllib.parse.unquote(url.password), database=url.path.lstrip("/"),
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT CURRENT_USER(), DATABASE()")
            found[key] = list(cursor.fetchone())
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.set("daily:env", "reached")
    found["REDIS"] = client.get("daily:env").decode()
    with urllib.request.urlopen(os.environ["SEARCH_URL"] + "/_cluster/health") as answer:
        found["SEARCH"] = answer.headers["X-Elastic-Product"]
    print(json.dumps(found))
    """
)

APP_PROBE = textwrap.dedent(
    """
    import json, os
    import pymysql, redis

    connection = pymysql.connect(
        host=os.environ["MYSQL_HOST"], port=int(os.environ["MYSQL_PORT"]), user=os.environ["MYSQL_USER"],
        password=os.environ["MYSQL_PASSWORD"], database=os.environ["MYSQL_DATABASE"],
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        user = cursor.fetchone()[0]
    pong = redis.Redis(
        host=os.environ["REDIS_HOST"], port=int(os.environ["REDIS_PORT"]), password=os.environ["REDIS_PASSWORD"]
    ).ping()
    print(json.dumps({"user": user, "redis": pong, "service": os.environ["SERVICE_NAME"]}))
    """
)


def _feed(stack: Project, dotenv: str, probe: str) -> Any:
    """Run ``probe`` in a process whose environment is ``dotenv`` loaded by a shell, as a user would."""
    (stack.folder / "outside.env").write_text(dotenv)
    (stack.folder / "probe.py").write_text(probe)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_") and not k.endswith("_PASSWORD")}
    done = subprocess.run(
        ["bash", "-c", f"set -a; . ./outside.env; set +a; exec {sys.executable} probe.py"],
        cwd=stack.folder,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_env_as_dotenv_feeds_a_process_that_reaches_every_server(stack: Project) -> None:
    masked = stack.ticketctl("env")
    assert masked.code == 0 and "secrets are shown as ***" in masked.err
    assert not any(secret in masked.out for secret in _secrets(stack).values())
    shown = stack.ticketctl("env", "--format", "dotenv", "--show-secrets")
    assert shown.code == 0, shown.err
    assert _feed(stack, shown.out, PROBE) == {
        "EVENTS": ["events_app@%", "events_db"],
        "INVENTORY": ["inventory_app@%", "inventory_db"],
        "BOOKINGS": ["bookings_app@%", "bookings_db"],
        "REDIS": "reached",
        "SEARCH": "Elasticsearch",
    }
    app = stack.ticketctl("env", "booking-service", "--show-secrets")
    assert app.code == 0, app.err
    assert _feed(stack, app.out, APP_PROBE) == {"user": "bookings_app@%", "redis": True, "service": "booking-service"}


# --------------------------------------------------------------------------- version, logs


def test_version_reports_the_engine_and_every_server(stack: Project) -> None:
    run = stack.ticketctl("version", "--json")
    assert run.code == 0, run.err
    servers = {server["name"]: server["version"] for server in run.json()["servers"]}
    assert servers["Docker Engine"] and servers["Redis"].startswith("7.")
    assert servers["MySQL"].startswith("MariaDB 10.11") and servers["search"].startswith("Elasticsearch 8.")
    quick = stack.ticketctl("-V")
    assert quick.code == 0 and quick.out.startswith("ticketctl ") and "Python" in quick.out


def test_logs_interleave_the_services_by_time(stack: Project) -> None:
    run = stack.ticketctl("logs", "--timestamps", "--tail", "20")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    services = {line.split("|", 1)[0].strip() for line in lines}
    assert services == set(SERVICES)
    assert "\x1b[" not in run.out  # no colours into a pipe
    stamps = [line.split("| ", 1)[1].split(" ", 1)[0] for line in lines]
    from ticketctl.runtime.logs import timestamp_nanos

    assert [timestamp_nanos(stamp) for stamp in stamps] == sorted(timestamp_nanos(stamp) for stamp in stamps)
    assert len({line.index("|") for line in lines}) == 1  # one width for every service's prefix
    as_json = stack.ticketctl("logs", "redis", "--tail", "2", "--json")
    assert [json.loads(line)["service"] for line in as_json.out.splitlines()] == ["redis", "redis"]


# --------------------------------------------------------------------------- Compose v2 on the stack


def _compose(stack: Project, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_") and not k.endswith("_PASSWORD")}
    return subprocess.run(
        [str(VENV_BIN / "docker-compose"), *args],
        cwd=stack.folder,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_compose_v2_works_on_the_stack_and_its_up_changes_nothing(stack: Project) -> None:
    ids = stack.ids()
    listed = _compose(stack, "ps", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(json.loads(line)["Service"] for line in listed.stdout.splitlines()) == SERVICES
    logs = _compose(stack, "logs", "--tail", "1", "redis")
    assert logs.returncode == 0 and logs.stdout.startswith("redis-1  | ")
    pong = _compose(stack, "exec", "-T", "redis", "sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping')
    assert (pong.returncode, pong.stdout.strip()) == (0, "PONG"), pong.stderr
    hashes = _compose(stack, "config", "--hash", "*")
    labels = {
        c.labels["com.docker.compose.service"]: c.labels["com.docker.compose.config-hash"]
        for c in stack.containers().values()
    }
    assert {name: h for name, h in (line.split(" ") for line in hashes.stdout.splitlines()) if name in labels} == labels
    up = _compose(stack, "up", "-d", *SERVICES)
    assert up.returncode == 0, up.stderr
    assert "Recreate" not in up.stderr and stack.ids() == ids
    again = stack.ticketctl("up", "--no-init", "--json", *SERVICES)
    assert again.code == 0 and {s["action"] for s in again.json()["services"]} == {"unchanged"}
    restarted = _compose(stack, "restart", "redis")
    assert restarted.returncode == 0, restarted.stderr
    assert stack.ids() == ids


# --------------------------------------------------------------------------- stopping and restarting (last)


def test_a_stopped_service_s_logs_are_shown_and_restart_brings_it_back(stack: Project) -> None:
    redis = stack.client.containers.get(f"{stack.name}-redis-1")
    redis.stop(timeout=10)
    redis.reload()
    assert redis.status == "exited"
    logs = stack.ticketctl("logs", "redis")
    assert logs.code == 0, logs.err
    assert "Ready to accept connections" in logs.out  # what it wrote while it ran
    assert all(line.startswith("redis | ") for line in logs.out.splitlines())
    # Its last words too: the Engine may still be copying them right after the stop returns.
    deadline = time.monotonic() + 15
    while "bye bye" not in logs.out and time.monotonic() < deadline:
        time.sleep(0.5)
        logs = stack.ticketctl("logs", "redis", "--tail", "5")
    assert "bye bye" in logs.out
    restart = stack.ticketctl("restart", "redis", "--json")
    assert restart.code == 0, restart.err
    [result] = restart.json()["services"]
    assert (result["action"], result["state"], result["health"]) == ("restarted", "running", "healthy")
    assert result["id"] == redis.id[:12]


def test_logs_follow_across_a_restart_and_ctrl_c_ends_it(stack: Project) -> None:
    running = stack.ticketctl("up", "--no-init", *SERVICES)  # whatever the test before left
    assert running.code == 0, running.err
    follower = stack.start("logs", "--follow", "--tail", "0", "redis")
    seen: list[str] = []
    assert follower.stdout is not None
    reader = threading.Thread(target=lambda: seen.extend(follower.stdout or []), daemon=True)
    reader.start()
    try:
        time.sleep(2)
        restart = stack.ticketctl("restart", "redis")
        assert restart.code == 0, restart.err
        assert f"{stack.name}: restarted 1 service(s)" in restart.out
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("Ready to accept connections" in line for line in seen):
            time.sleep(0.2)
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
        reader.join(10)
    finally:
        if follower.poll() is None:
            follower.kill()
    err = follower.stderr.read() if follower.stderr else ""
    assert follower.returncode == 0 and err == ""
    text = "".join(seen)
    assert all(line.startswith("redis | ") or " exited with code " in line for line in seen)
    # the old process's last words and the new one's first, through one follow
    assert text.index("ready to exit") < text.index("Ready to accept connections")
