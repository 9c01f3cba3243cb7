"""Security: secrets stay secret, ports stay local, each application user stays in its own database.

The suite-wide check (conftest.py) fails the run if any captured output of any
test contains a secret (tests/unit/test_leak_scan.py proves that it would); the
tests here add the targeted cases: an unexpected
exception holding a password, ``--debug``, ``--json``, the ``.env`` file itself,
host port bindings, database rights on the real server, and settings that try
to smuggle SQL.
"""

from __future__ import annotations

import math
import os
import re
import socket
import string
import sys
from collections import Counter
from typing import Any

import pytest

from tests.support.reliability import KEYS, Databases, Transcript, Workdir, closed_port, free_port
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.reliability

SECRET_NAMES = (
    "MYSQL_ROOT_PASSWORD",
    "EVENTS_DB_PASSWORD",
    "INVENTORY_DB_PASSWORD",
    "BOOKINGS_DB_PASSWORD",
    "REDIS_PASSWORD",
)
URLSAFE = set(string.ascii_letters + string.digits + "-_")


# --------------------------------------------------------------------------- tracebacks and internal errors

DRIVER = """
import sys
import ticketctl.config.secrets as secrets_module
from ticketctl.cli.main import run

original = secrets_module.load_secrets

def load_then_fail(output_dir, environ):
    loaded = original(output_dir, environ)
    password = loaded["MYSQL_ROOT_PASSWORD"]  # a local that a traceback with locals would show
    raise RuntimeError("unexpected failure while holding " + password)

secrets_module.load_secrets = load_then_fail
run(sys.argv[1:])
"""


def test_an_unexpected_exception_shows_no_traceback_no_locals_and_no_secret(
    workdir: Workdir, transcript: Transcript
) -> None:
    from ticketctl.cli.main import app

    assert app.pretty_exceptions_show_locals is False
    password = "Root-pw-" + os.urandom(8).hex()
    transcript.secret(password, "the root password given to the crashing driver")
    command = [sys.executable, "-c", DRIVER]
    env = {"MYSQL_ROOT_PASSWORD": password, "TICKETCTL_DOCKER__ENABLED": "false"}

    plain = workdir.run("migrate", "status", command=[*command, "migrate", "status"], env=env)
    assert plain.code == ExitCode.FAILURE
    assert plain.err == (
        "error: internal error: RuntimeError: unexpected failure while holding *** — run again with --debug for "
        "the traceback and report it\n"
    )

    debug = workdir.run(
        "--debug",
        "migrate",
        "status",
        command=[*command, "--debug", "migrate", "status"],
        env=env,
        allow_traceback=True,
    )
    assert debug.code == ExitCode.FAILURE
    assert debug.err.startswith("Traceback (most recent call last):\n")
    assert 'File "<string>", line 11, in load_then_fail' in debug.err
    assert "RuntimeError: unexpected failure while holding ***\n" in debug.err
    assert password not in debug.output
    assert "password =" not in debug.err and "locals" not in debug.err.lower()


def test_errors_and_json_output_never_show_a_secret(workdir: Workdir, databases: Databases) -> None:
    """Wrong passwords, --json reports and the config listing: the values are known to ticketctl, never shown."""
    assert workdir.run("render").code == 0
    env = workdir.env_file()
    workdir.env.update(databases.environment())
    workdir.env["TICKETCTL_REDIS__PORT"] = str(free_port())  # nobody there: the check fails without a secret
    outputs = [
        workdir.run("config", "--json"),
        workdir.run("migrate", "status", "--json"),
        workdir.run("migrate", "--json"),
        workdir.run("doctor", "mysql", "redis", "--json", "--timeout", "2"),
        workdir.run("migrate", "--json", env={"EVENTS_DB_PASSWORD": env["EVENTS_DB_PASSWORD"]}),
    ]
    known = [*databases.passwords.values(), databases.server.root_password, *(env[name] for name in SECRET_NAMES)]
    for run in outputs:
        for value in known:
            assert value not in run.output, run.args
    denied = outputs[-1]
    assert denied.code == ExitCode.DATABASE
    assert "denied access to user" in denied.err and "EVENTS_DB_PASSWORD" in denied.err


# --------------------------------------------------------------------------- a password inside a URL setting


def test_the_password_of_a_url_setting_is_never_shown(
    workdir: Workdir, transcript: Transcript, opensearch_server: Any
) -> None:
    """``search.url`` with userinfo: every command that shows the URL, or fails on it, shows ``elastic:***@``."""
    password = "Url-pw-" + os.urandom(8).hex()
    unreachable = f"http://elastic:{password}@127.0.0.1:{closed_port()}"
    workdir.env.update({"TICKETCTL_SEARCH__URL": unreachable, "TICKETCTL_DOCKER__ENABLED": "false"})
    runs = [
        workdir.run("index", "status"),
        workdir.run("index", "status", "--json"),
        workdir.run("config"),
        workdir.run("config", "--json"),
        workdir.run("doctor", "--timeout", "2"),
        workdir.run("doctor", "--json", "--timeout", "2"),
        workdir.run("--debug", "index", "status", allow_traceback=True),
    ]
    assert password in transcript.secrets  # learned from TICKETCTL_SEARCH__URL: the session's scan hunts it too
    for run in runs:
        assert password not in run.output and password[:8] not in run.output, run.args
    assert runs[0].code == ExitCode.SEARCH
    assert runs[0].error_line.startswith(f"error: search server at {unreachable.replace(password, '***')} ")
    assert "Traceback (most recent call last):" in runs[-1].err and "elastic:***@127.0.0.1" in runs[-1].err
    config = {row["setting"]: row for row in runs[3].json()["settings"]}
    assert config["search.url"]["value"] == unreachable.replace(password, "***")
    assert "http://elastic:***@" in runs[2].out  # the table shows the masked value, even where it is cut

    # A URL the settings refuse is quoted in the error, masked; one that works is used, masked in what is shown.
    refused = workdir.run("config", env={"TICKETCTL_SEARCH__URL": unreachable.replace("http:", "htp:")})
    assert refused.code == ExitCode.CONFIG and "'htp://elastic:***@127.0.0.1:" in refused.error_line
    live = opensearch_server.url.replace("http://", f"http://elastic:{password}@")
    answered = workdir.run(
        "index",
        "status",
        "--index",
        "tkt-none",
        env={"TICKETCTL_SEARCH__URL": live, "TICKETCTL_SEARCH__ENGINE": "opensearch"},
    )
    assert answered.code == ExitCode.MISSING, answered.err
    assert answered.out.startswith(f"server    OpenSearch 3.6.0 at {live.replace(password, '***')} ")
    assert password not in refused.output + answered.output


# --------------------------------------------------------------------------- .env


def _entropy_bits(value: str) -> float:
    """Bits of the generator: token_urlsafe draws 6 bits per character from a 64-symbol alphabet."""
    return len(value) * math.log2(64)


def test_env_is_0600_random_and_never_overwritten(workdir: Workdir) -> None:
    first = workdir.run("render", command=None)
    assert first.code == 0, first.err
    env_path = workdir.path / ".env"
    assert env_path.stat().st_mode & 0o777 == 0o600
    values = workdir.env_file()
    secrets = [values[name] for name in SECRET_NAMES]
    assert len(set(secrets)) == len(SECRET_NAMES)  # all distinct
    for value in secrets:
        assert set(value) <= URLSAFE, value
        assert _entropy_bits(value) >= 128
        assert len(value) >= 22
    # Not a constant or a counter: characters spread over the alphabet across the five secrets.
    assert len(Counter("".join(secrets))) > 40

    other = workdir.path / "other"
    other.mkdir()
    second_project = workdir.run("render", "--out", str(other))
    assert second_project.code == 0
    others = Workdir(other, workdir.transcript).env_file()
    assert sorted(others) == sorted(SECRET_NAMES) and all(len(value) >= 22 for value in others.values())
    assert set(others.values()).isdisjoint(secrets)

    before = env_path.read_bytes()
    again = workdir.run("render")
    assert again.code == 0
    assert "  unchanged .env (mode 0600; secrets kept)" in again.out
    assert env_path.read_bytes() == before
    workdir.write("ticketctl.yaml", "ports:\n  mysql: 3307\n")
    changed = workdir.run("render")
    assert "  updated   docker-compose.yml" in changed.out
    assert env_path.read_bytes() == before


def test_env_is_private_whatever_the_umask(workdir: Workdir) -> None:
    run = workdir.run("render", command=["sh", "-c", f"umask 000 && exec {sys.executable} -m ticketctl render"])
    assert run.code == 0, run.err
    assert (workdir.path / ".env").stat().st_mode & 0o777 == 0o600
    assert (workdir.path / "docker-compose.yml").stat().st_mode & 0o777 == 0o644


def test_an_env_readable_by_others_is_made_private_again(workdir: Workdir) -> None:
    assert workdir.run("render").code == 0
    env_path = workdir.path / ".env"
    before = env_path.read_bytes()
    env_path.chmod(0o644)  # e.g. copied with cp or checked out
    run = workdir.run("render")
    assert run.code == 0, run.err
    assert env_path.stat().st_mode & 0o777 == 0o600
    assert env_path.read_bytes() == before
    assert f"warning: {env_path} was readable by other users (mode 0644); it is 0600 now\n" in run.err


# --------------------------------------------------------------------------- host ports


def test_ports_bind_to_loopback_by_default(workdir: Workdir) -> None:
    run = workdir.run("render", env={"TICKETCTL_PROFILES": "apps"})
    assert run.code == 0
    assert "warning" not in run.err
    compose = (workdir.path / "docker-compose.yml").read_text()
    ports = re.findall(r'^\s+- "([^"]*:\d+/tcp)"$', compose, flags=re.MULTILINE)
    assert len(ports) == 3 + 9  # mysql, redis, search and the nine application placeholders
    assert all(port.startswith("127.0.0.1:") for port in ports), ports


def test_binding_elsewhere_needs_the_setting_and_warns(
    workdir: Workdir, docker_scratch: Any, local_images: Any
) -> None:
    workdir.write("ticketctl.yaml", "bind_address: 0.0.0.0\n")
    warning = (
        "warning: ports bind to 0.0.0.0 (ticketctl.yaml:1): MySQL, Redis and the search engine are reachable "
        "from other hosts\n"
    )
    run = workdir.run("render")
    assert run.code == 0
    assert run.err == warning
    compose = (workdir.path / "docker-compose.yml").read_text()
    assert re.findall(r'^\s+- "(\d+\.\d+\.\d+\.\d+):', compose, flags=re.MULTILINE) == ["0.0.0.0"] * 12

    json_run = workdir.run("render", "--json")
    assert json_run.json()["warnings"] == [warning.removeprefix("warning: ").strip()]

    # up says it too, before it does anything; here a taken port then stops it, so nothing is exposed.
    port = free_port()
    workdir.env.update(
        {
            "TICKETCTL_PROJECT": docker_scratch.project,
            "TICKETCTL_PORTS__REDIS": str(port),
            "TICKETCTL_IMAGES__REDIS": local_images.redis,
        }
    )
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        up = workdir.run("up", "--no-init", "redis")
    assert up.code == ExitCode.PORT_CONFLICT
    assert warning in up.err
    assert up.error_line.startswith(f"error: port {port} (ports.redis) for redis is taken by another process")
    assert (
        docker_scratch.client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={docker_scratch.project}"}
        )
        == []
    )


def test_a_started_container_publishes_on_loopback_only(
    workdir: Workdir, docker_scratch: Any, local_images: Any
) -> None:
    port = free_port()
    workdir.env.update(
        {
            "TICKETCTL_PROJECT": docker_scratch.project,
            "TICKETCTL_PORTS__REDIS": str(port),
            "TICKETCTL_IMAGES__REDIS": local_images.redis,
        }
    )
    run = workdir.run("up", "--no-init", "redis", timeout=180)
    assert run.code == 0, run.err
    (container,) = docker_scratch.client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={docker_scratch.project}"}
    )
    bindings = container.attrs["HostConfig"]["PortBindings"]
    assert bindings == {"6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    # Redis answers only with the password from .env.
    import redis

    password = workdir.env_file()["REDIS_PASSWORD"]
    assert redis.Redis(port=port, password=password, socket_timeout=5).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, socket_timeout=5).ping()


# --------------------------------------------------------------------------- database rights


def _init_sql(workdir: Workdir) -> list[str]:
    """The statements of the rendered MySQL init script: plain SQL that holds no secret."""
    script = (workdir.path / "mysql-init" / "01-create-databases.sql").read_text()
    assert all(workdir.env_file()[name] not in script for name in workdir.env_file())
    lines = [line for line in script.splitlines() if not line.startswith("--")]
    return [statement for statement in "\n".join(lines).split(";\n") if statement.strip()]


def test_each_application_user_reaches_its_own_database_only(
    workdir: Workdir, mysql_scratch: Any, transcript: Transcript
) -> None:
    import pymysql

    server = mysql_scratch.server
    names = {key: mysql_scratch.database_name() for key in KEYS}
    users = {key: f"{names[key][:20]}_u" for key in KEYS}
    mysql_scratch.users.extend(users.values())
    workdir.env.update(
        {
            "TICKETCTL_MYSQL__HOST": server.host,
            "TICKETCTL_MYSQL__PORT": str(server.port),
            "TICKETCTL_DOCKER__ENABLED": "false",
            **{f"TICKETCTL_MYSQL__{key.upper()}__NAME": names[key] for key in KEYS},
            **{f"TICKETCTL_MYSQL__{key.upper()}__USER": users[key] for key in KEYS},
        }
    )
    assert workdir.run("render").code == 0
    with server.connect() as connection, connection.cursor() as cursor:
        for statement in _init_sql(workdir):
            cursor.execute(statement)
    passwords = {key: workdir.env_file()[f"{key.upper()}_DB_PASSWORD"] for key in KEYS}

    # The users do not exist yet: migrate makes them as the root user, then works as each of them.
    root = {"TICKETCTL_MYSQL__ROOT_USER": server.root_user, "MYSQL_ROOT_PASSWORD": server.root_password}
    migrated = workdir.run("migrate", "--json", env=root)
    assert migrated.code == 0, migrated.err
    assert migrated.json()["applied"] == 4  # V001 of each database, V002 of events
    assert [database["account"] for database in migrated.json()["databases"]] == ["created"] * 3
    again = workdir.run("migrate", "--json")  # as the application users alone: no root password anywhere
    assert again.code == 0, again.err
    assert [database["account"] for database in again.json()["databases"]] == [None] * 3
    doctor = workdir.run("doctor", "mysql", "--json")
    # Drift needs a shadow database: the application users may not create one and the .env's root
    # password is not this server's, so those three checks warn (named privilege) and nothing fails.
    assert doctor.code == ExitCode.WARNINGS, doctor.out
    not_ok = {c["name"]: (c["status"], c["summary"]) for c in doctor.json()["checks"] if c["status"] != "ok"}
    assert set(not_ok) == {f"mysql.{key}.drift" for key in KEYS}, not_ok
    assert all(status == "warn" and "CREATE privilege" in summary for status, summary in not_ok.values()), not_ok
    rights = {c["name"]: c["status"] for c in doctor.json()["checks"] if c["name"].endswith(".rights")}
    assert rights == {f"mysql.{key}.rights": "ok" for key in KEYS}

    for key in KEYS:
        own = server.connect(user=users[key], password=passwords[key], database=names[key])
        with own, own.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            tables = [row[0] for row in cursor.fetchall()]
            assert "ticketctl_schema_history" in tables
            cursor.execute("CREATE TABLE rights_probe (id INT)")
            cursor.execute("DROP TABLE rights_probe")
            for other in KEYS:
                if other == key:
                    continue
                with pytest.raises(pymysql.err.OperationalError) as denied:
                    cursor.execute(f"SELECT COUNT(*) FROM `{names[other]}`.ticketctl_schema_history")
                assert denied.value.args[0] == 1142  # SELECT command denied
                with pytest.raises(pymysql.err.OperationalError) as denied:
                    cursor.execute(f"CREATE TABLE `{names[other]}`.intruder (id INT)")
                assert denied.value.args[0] == 1142
        for other in KEYS:
            if other != key:
                with pytest.raises(pymysql.err.OperationalError) as denied:
                    server.connect(user=users[key], password=passwords[key], database=names[other])
                assert denied.value.args[0] == 1044  # access denied to database
        with pytest.raises(pymysql.err.OperationalError) as denied:
            server.connect(user=users[key], password=passwords[key], database="mysql")
        assert denied.value.args[0] == 1044


# --------------------------------------------------------------------------- SQL from settings


@pytest.mark.parametrize(
    ("setting", "env", "value", "expected"),
    [
        (
            "mysql.events.name",
            "TICKETCTL_MYSQL__EVENTS__NAME",
            "events_db; DROP DATABASE {sentinel}",
            "a database name",
        ),
        (
            "mysql.events.name",
            "TICKETCTL_MYSQL__EVENTS__NAME",
            "events_db`; DROP DATABASE `{sentinel}",
            "a database name",
        ),
        (
            "mysql.inventory.user",
            "TICKETCTL_MYSQL__INVENTORY__USER",
            "x'@'%'; DROP DATABASE {sentinel}; --",
            "a MySQL user name",
        ),
        ("mysql.root_user", "TICKETCTL_MYSQL__ROOT_USER", "root' OR '1'='1", "a MySQL user name"),
    ],
)
def test_sql_in_a_setting_is_refused_and_nothing_is_dropped(
    workdir: Workdir, databases: Databases, mysql_scratch: Any, setting: str, env: str, value: str, expected: str
) -> None:
    sentinel = mysql_scratch.database()
    value = value.format(sentinel=sentinel)
    workdir.env.update(databases.environment())
    for command in (("config",), ("render",), ("migrate",), ("doctor", "mysql")):
        run = workdir.run(*command, env={env: value})
        assert run.code == ExitCode.CONFIG, (command, run.output)
        assert run.error_line.startswith(f"error: {env}: {setting}: expected {expected} of letters, digits and _, got ")
        assert run.out == ""
    rows = databases.query(None, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (sentinel,))
    assert rows == [(1,)]
    assert not (workdir.path / "mysql-init").exists()
    for key in KEYS:
        assert not databases.exists(key)


def test_a_password_that_would_break_out_of_sql_or_shell_is_refused(workdir: Workdir, databases: Databases) -> None:
    workdir.env.update(databases.environment())
    bad = "x'; DROP DATABASE mysql; --"
    run = workdir.run("migrate", env={"EVENTS_DB_PASSWORD": bad})
    assert run.code == ExitCode.CONFIG
    assert run.err == (
        "error: environment: EVENTS_DB_PASSWORD: must be 12-128 characters of letters, digits and ._~+=@%^- — "
        "delete the EVENTS_DB_PASSWORD line to have ticketctl generate one, or choose another value\n"
    )
    assert not databases.exists("events")


def test_search_index_names_from_settings_are_validated(workdir: Workdir) -> None:
    for value in ("events/../_all", "_all", "Events", "events,other"):
        run = workdir.run("config", env={"TICKETCTL_SEARCH__INDEX": value})
        assert run.code == ExitCode.CONFIG
        assert run.error_line.startswith(
            f"error: TICKETCTL_SEARCH__INDEX: search.index: expected a lowercase index name, got {value!r} — "
        )


def test_doctor_text_output_masks_secrets(workdir: Workdir, transcript: Transcript) -> None:
    """doctor prints check summaries as they come; a summary quoting a secret must come out masked."""
    assert workdir.run("render").code == 0
    password = workdir.env_file()["REDIS_PASSWORD"]
    driver = (
        "import sys\n"
        "from ticketctl.doctor import redis as redis_checks\n"
        "from ticketctl.doctor.core import Outcome\n"
        "def leaky(context):\n"
        "    return Outcome.fail('server said: bad auth ' + context.secrets['REDIS_PASSWORD'], 'fix it')\n"
        "redis_checks.CHECKS[0] = redis_checks.CHECKS[0].__class__('redis.ping', 'ping', leaky)\n"
        "from ticketctl.cli.main import run\n"
        "run(sys.argv[1:])\n"
    )
    run = workdir.run(
        "doctor",
        "redis.ping",
        command=[sys.executable, "-c", driver, "doctor", "redis.ping"],
        env={"TICKETCTL_DOCKER__ENABLED": "false"},
    )
    assert run.code == ExitCode.CHECKS_FAILED
    assert password not in run.output
    assert "server said: bad auth ***" in run.out
