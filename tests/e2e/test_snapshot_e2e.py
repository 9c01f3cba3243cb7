"""``snapshot`` and ``secrets rotate`` on a real stack: the local images on the Docker Engine, OpenSearch as the engine.

One stack serves the module (bringing one up costs a minute here): the tests run
in order and each leaves it healthy. Every output is scanned for the stack's
secrets at the end.
"""

from __future__ import annotations

import json
import secrets as random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.reliability import Transcript, Workdir, free_port
from tests.support.servers import DockerScratch, LocalImages
from tests.support.snapshots import newest_versions
from ticketctl.runtime.translate import HELPER_OF_LABEL

pytestmark = pytest.mark.e2e

DATABASES = ("events", "inventory", "bookings")
MYSQL_SECRETS = ("MYSQL_ROOT_PASSWORD", "EVENTS_DB_PASSWORD", "INVENTORY_DB_PASSWORD", "BOOKINGS_DB_PASSWORD")


@pytest.fixture(scope="module")
def transcript() -> Iterator[Transcript]:
    scan = Transcript()
    yield scan
    leaks = scan.leaks()
    assert not leaks, "secrets in captured output:\n" + "\n".join(leaks[:20])


@pytest.fixture(scope="module")
def stack(
    docker_client: Any, local_images: LocalImages, tmp_path_factory: pytest.TempPathFactory, transcript: Transcript
) -> Iterator[Workdir]:
    scratch = DockerScratch(docker_client, f"tkt-snap-{random.token_hex(3)}")
    folder = tmp_path_factory.mktemp("snapshot-stack")
    work = Workdir(folder, transcript)
    work.env = {
        "TICKETCTL_PROJECT": scratch.project,
        "TICKETCTL_PORTS__MYSQL": str(free_port()),
        "TICKETCTL_PORTS__REDIS": str(free_port()),
        "TICKETCTL_PORTS__SEARCH": str(free_port()),
        "TICKETCTL_PORTS__APPS": "32600",
        "TICKETCTL_SEARCH__ENGINE": "opensearch",
        "TICKETCTL_SEARCH__HEAP": "512m",
        "TICKETCTL_SEARCH__NOFILE": "20000",
        "TICKETCTL_WAIT_TIMEOUT": "900",
        **{f"TICKETCTL_IMAGES__{key.upper()}": getattr(local_images, key) for key in ("mysql", "redis", "opensearch")},
    }
    try:
        up = work.run("up", "--keep-on-failure", timeout=1000)
        if up.code == 6:  # on a loaded machine the search engine may miss its health budget: give it more
            _wait_healthy(docker_client, scratch.project, deadline=time.monotonic() + 900)
            up = work.run("up", timeout=1000)
        assert up.code == 0, up.output
        yield work
    finally:
        work.stop_all()
        scratch.cleanup()


def _wait_healthy(client: Any, project: str, *, deadline: float) -> None:
    while time.monotonic() < deadline:
        containers = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
        if all((c.attrs["State"].get("Health") or {}).get("Status") == "healthy" for c in containers):
            return
        time.sleep(2)


# --------------------------------------------------------------------------- the stack's data, as a test sees it


def _port(stack: Workdir, name: str) -> int:
    return int(stack.env[f"TICKETCTL_PORTS__{name.upper()}"])


def _mysql(stack: Workdir, key: str, password: str | None = None) -> Any:
    import pymysql

    return pymysql.connect(
        host="127.0.0.1",
        port=_port(stack, "mysql"),
        user=f"{key}_app",
        password=password or stack.env_file()[f"{key.upper()}_DB_PASSWORD"],
        database=f"{key}_db",
        autocommit=True,
        connect_timeout=10,
    )


def _root(stack: Workdir, password: str | None = None) -> Any:
    import pymysql

    password = password or stack.env_file()["MYSQL_ROOT_PASSWORD"]
    return pymysql.connect(
        host="127.0.0.1", port=_port(stack, "mysql"), user="root", password=password, autocommit=True
    )


def _redis(stack: Workdir, password: str | None = None) -> Any:
    import redis

    return redis.Redis(port=_port(stack, "redis"), password=password or stack.env_file()["REDIS_PASSWORD"])


def _search(stack: Workdir, method: str, path: str, body: Any = None) -> Any:
    import urllib.request

    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(
        f"http://127.0.0.1:{_port(stack, 'search')}{path}",
        data=data,
        method=method,
        headers={"content-type": "application/x-ndjson" if isinstance(body, bytes) else "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


def _write_data(stack: Workdir) -> None:
    with _mysql(stack, "events") as connection, connection.cursor() as cursor:
        rows = [(f"Évènement {n} São Paulo", f"2027-0{1 + n % 9}-1{n % 10} 20:00:00", 100, 100) for n in range(200)]
        cursor.executemany(
            "INSERT INTO events (event_name, event_date, total_seats, available_seats) VALUES (%s, %s, %s, %s)", rows
        )
        cursor.execute("CREATE TABLE notes (id INT PRIMARY KEY, body LONGBLOB)")
        cursor.execute("INSERT INTO notes VALUES (1, %s)", (bytes(range(256)) * 40,))
    with _mysql(stack, "inventory") as connection, connection.cursor() as cursor:
        seats = [(1 + n // 100, f"S{n}", "A", str(n % 30), "REGULAR", "55.50") for n in range(5000)]
        cursor.executemany(
            "INSERT INTO seats (event_id, seat_number, section, `row_number`, seat_type, price) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            seats,
        )
    with _mysql(stack, "bookings") as connection, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO idempotency_keys (idempotency_key, booking_id, expires_at) VALUES ('k-1', 7, '2027-01-01')"
        )
    client = _redis(stack)
    client.set("seat:1:A1", "reservation-1", px=3_600_000)
    client.hset("event:1", mapping={"name": "Évènement", "seats": "100"})
    client.rpush("queue", *[f"item-{n}" for n in range(100)])
    client.set(b"binary\x00key", bytes(range(256)))
    lines = []
    for n in range(1, 301):
        lines += [
            json.dumps({"index": {"_id": str(n)}}),
            json.dumps({"eventId": n, "name": f"Fête {n}", "city": "Zürich"}),
        ]
    answer = _search(stack, "POST", "/events/_bulk?refresh=true", ("\n".join(lines) + "\n").encode())
    assert not answer["errors"]


def _fingerprint(stack: Workdir) -> dict[str, Any]:
    """Every row of every table, every Redis key with its value and TTL class, every document: what must come back."""
    state: dict[str, Any] = {}
    for key in DATABASES:
        with _mysql(stack, key) as connection, connection.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            for (table,) in sorted(cursor.fetchall()):
                cursor.execute(f"SELECT * FROM `{table}` ORDER BY 1")
                state[f"{key}.{table}"] = [tuple(row) for row in cursor.fetchall()]
    client = _redis(stack)
    state["redis"] = {key: (client.dump(key), client.pttl(key) > 0) for key in sorted(client.keys("*"))}
    hits = _search(stack, "GET", "/events/_search?size=1000&sort=eventId")["hits"]["hits"]
    state["search"] = [(hit["_index"], hit["_id"], hit["_source"]) for hit in hits]
    state["alias"] = _search(stack, "GET", "/_alias/events")
    return state


def _our_notes_table(check: dict[str, Any]) -> bool:
    """The drift check sees the table ``notes`` this module made outside the migrations (for its binary rows)."""
    return check["name"] == "mysql.events.drift" and "table notes exists live but not in" in check["summary"]


def _doctor_green(stack: Workdir) -> None:
    doctor = stack.run("doctor", "--json", "docker", "mysql", "redis", "search.index", "snapshots", timeout=120)
    failed = [r for r in doctor.json()["checks"] if r["status"] in ("fail", "warn") and not _our_notes_table(r)]
    assert not failed, doctor.output


# --------------------------------------------------------------------------- snapshot


def test_a_restore_brings_back_every_row_key_and_document(stack: Workdir) -> None:
    _write_data(stack)
    before = _fingerprint(stack)
    assert len(before["inventory.seats"]) == 5000 and len(before["search"]) == 300

    saved = stack.run("snapshot", "save", "known-good", "--json", timeout=300)
    assert saved.code == 0, saved.output
    manifest = saved.json()
    assert manifest["project"] == stack.env["TICKETCTL_PROJECT"]
    assert manifest["schema_versions"] == {f"{key}_db": version for key, version in newest_versions().items()}
    assert manifest["index"]["documents"] == 300 and manifest["index"]["target"] == "events_v1"
    assert manifest["redis"]["keys"] == 4
    folder = Path(manifest["path"])
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all((folder / entry["path"]).stat().st_mode & 0o777 == 0o600 for entry in manifest["files"])
    env_values = [v for k, v in stack.env_file().items() if k.endswith("PASSWORD")]
    for entry in manifest["files"]:  # no secret of .env in clear in any file of the snapshot
        content = (folder / entry["path"]).read_bytes()
        assert not any(value.encode() in content for value in env_values), entry["path"]

    # Change everything: drop a table, flush Redis, delete the index.
    with _mysql(stack, "inventory") as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE seats")
    with _mysql(stack, "events") as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE events SET event_name = 'changed'")
    _redis(stack).flushall()
    index = _search(stack, "GET", "/_alias/events")
    _search(stack, "DELETE", "/" + ",".join(index))

    refused = stack.run("snapshot", "restore", "known-good")
    assert refused.code == 16 and "--yes" in refused.error_line, refused.output
    restored = stack.run("snapshot", "restore", "known-good", "--yes", "--json", timeout=600)
    assert restored.code == 0, restored.output
    assert restored.json()["safety_snapshot"].startswith("before-restore-")
    assert _fingerprint(stack) == before
    _doctor_green(stack)

    listed = stack.run("snapshot", "list", "--json").json()["snapshots"]
    assert (listed[0]["name"], listed[0]["state"]) == ("known-good", "complete")
    assert listed[1]["safety_for"] == "known-good" and listed[1]["size_bytes"] > 0


def test_a_damaged_file_and_another_project_are_refused_by_name(stack: Workdir, tmp_path: Path) -> None:
    snapshots = Path(stack.path / "snapshots")
    copy = snapshots / "damaged"
    import shutil

    shutil.copytree(snapshots / "known-good", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["name"] = "damaged"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with (copy / "redis-keys.bin").open("r+b") as handle:
        handle.seek(30)
        handle.write(b"X")
    refused = stack.run("snapshot", "restore", "damaged", "--yes")
    assert refused.code == 3, refused.output
    assert refused.error_line.startswith("error: snapshot damaged: redis-keys.bin is damaged"), refused.error_line

    other = stack.run("snapshot", "restore", "known-good", "--yes", env={"TICKETCTL_PROJECT": "someone-else"})
    assert other.code == 3
    assert (
        f"was taken from project '{stack.env['TICKETCTL_PROJECT']}'; this stack is 'someone-else'" in other.error_line
    )
    assert stack.run("snapshot", "rm", "damaged").code == 0


def test_an_interrupted_save_is_never_listed_as_good(stack: Workdir) -> None:
    process = stack.start("snapshot", "save", "cut-short")
    snapshots = stack.path / "snapshots"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(snapshots.glob(".partial-cut-short-*/mysql-data.tar")):
        time.sleep(0.05)
    process.signal(signal.SIGKILL)
    process.popen.wait(timeout=30)
    rows = {row["name"]: row for row in stack.run("snapshot", "list", "--json").json()["snapshots"]}
    assert "cut-short" not in rows
    assert [row["state"] for name, row in rows.items() if name.startswith(".partial-cut-short")] == ["incomplete"]
    # MySQL was stopped by the killed save: the next command that needs it gets it back with `up`.
    assert stack.run("up", "--no-init", timeout=300).code == 0
    again = stack.run("snapshot", "save", "cut-short", timeout=300)
    assert again.code == 0, again.output
    names = [row["name"] for row in stack.run("snapshot", "list", "--json").json()["snapshots"]]
    assert "cut-short" in names and not any(name.startswith(".partial-") for name in names)


# --------------------------------------------------------------------------- rotation


def _works(stack: Workdir, values: dict[str, str]) -> dict[str, bool]:
    import pymysql
    import redis

    result = {}
    for key in DATABASES:
        try:
            _mysql(stack, key, values[f"{key.upper()}_DB_PASSWORD"]).close()
            result[key] = True
        except pymysql.err.OperationalError:
            result[key] = False
    try:
        result["redis"] = bool(_redis(stack, values["REDIS_PASSWORD"]).ping())
    except redis.AuthenticationError:
        result["redis"] = False
    try:
        _root(stack, values["MYSQL_ROOT_PASSWORD"]).close()
        result["root"] = True
    except pymysql.err.OperationalError:
        result["root"] = False
    return result


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("T")
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("step", ["apply", "env", "recreate", "finalize"])
def test_kill_9_before_each_rotation_step_then_a_rerun_converges(stack: Workdir, step: str) -> None:
    old = stack.env_file()
    process = stack.start("secrets", "rotate", env={"TICKETCTL_TEST_PAUSE_BEFORE_STEP": step})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not _stopped(process.pid) and process.popen.poll() is None:
        time.sleep(0.02)
    assert _stopped(process.pid), process.finish().output
    process.signal(signal.SIGKILL)
    process.popen.wait(timeout=30)
    journal = json.loads((stack.path / ".rotation-journal.json").read_text())
    assert journal["step"] == step and (stack.path / ".rotation-journal.json").stat().st_mode & 0o777 == 0o600
    new = {name: pair["new"] for name, pair in journal["secrets"].items()}
    for value in new.values():
        stack.transcript.secret(value, "a rotation journal")
    # Nobody is locked out meanwhile: .env or the journal's values open every door.
    now = _works(stack, stack.env_file())
    pending = _works(stack, new)
    assert all(now[k] or pending[k] for k in now), (now, pending)
    assert stack.run("doctor", "snapshots.unfinished").code == 18

    rerun = stack.run("secrets", "rotate", "--json", timeout=600)
    assert rerun.code == 0, rerun.output
    assert rerun.json()["resumed"] is True
    assert stack.env_file() == {**old, **new}
    assert not (stack.path / ".rotation-journal.json").exists()
    assert _works(stack, new) == {key: True for key in (*DATABASES, "redis", "root")}
    assert _works(stack, old) == {key: False for key in (*DATABASES, "redis", "root")}
    _doctor_green(stack)


def test_a_snapshot_from_before_a_rotation_restores_with_the_passwords_of_today(stack: Workdir) -> None:
    """known-good was taken with older passwords; the restored accounts get the current .env's."""
    restored = stack.run("snapshot", "restore", "known-good", "--yes", "--no-backup", "--json", timeout=600)
    assert restored.code == 0, restored.output
    assert set(restored.json()["passwords_reapplied"]) == set(MYSQL_SECRETS)
    assert _works(stack, stack.env_file()) == {key: True for key in (*DATABASES, "redis", "root")}
    _doctor_green(stack)


def test_a_restore_killed_midway_is_finished_by_running_it_again(stack: Workdir, docker_client: Any) -> None:
    expected = _fingerprint(stack)  # the previous test restored known-good
    _redis(stack).flushall()
    with _mysql(stack, "inventory") as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM seats WHERE seat_id % 2 = 0")
    journal = stack.path / "snapshots" / ".restore-journal.json"
    mysql = docker_client.containers.get(f"{stack.env['TICKETCTL_PROJECT']}-mysql-1")
    process = stack.start("snapshot", "restore", "known-good", "--yes", "--no-backup")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.popen.poll() is None:
        if _phase(journal) == "apply" and not _running(mysql):
            break  # MySQL is stopped and its volume is being replaced
        time.sleep(0.02)
    assert process.popen.poll() is None, process.finish().output
    process.signal(signal.SIGKILL)
    process.popen.wait(timeout=30)

    assert journal.exists()
    assert stack.run("doctor", "snapshots.unfinished").code == 18
    refused = stack.run("snapshot", "save", "while-half-restored")
    assert refused.code == 3 and "was interrupted" in refused.error_line, refused.output
    # What kill -9 leaves when it lands between the helper's create and its removal: a helper holding the volume.
    project = stack.env["TICKETCTL_PROJECT"]
    helpers = {"label": f"{HELPER_OF_LABEL}={project}"}
    docker_client.containers.create(
        mysql.image.id,
        "true",
        labels={HELPER_OF_LABEL: project},
        volumes={f"{project}_mysql-data": {"bind": "/var/lib/mysql", "mode": "rw"}},
    )
    rerun = stack.run("snapshot", "restore", "known-good", "--yes", "--json", timeout=600)
    assert rerun.code == 0, rerun.output
    assert rerun.json()["resumed"] is True and not journal.exists()
    assert docker_client.containers.list(all=True, filters=helpers) == []  # else `down -v` could not remove the volume
    assert _fingerprint(stack) == expected
    _doctor_green(stack)


def _phase(journal: Path) -> str | None:
    try:
        return str(json.loads(journal.read_text()).get("phase"))
    except (FileNotFoundError, ValueError):
        return None


def _running(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Running"])


def test_no_password_reaches_mysqls_log_in_a_rotation(stack: Workdir) -> None:
    """MariaDB logs a statement's text as sent (a bound value included): only hashes may be in it."""
    old = stack.env_file()
    with _root(stack) as connection, connection.cursor() as cursor:
        cursor.execute("TRUNCATE mysql.general_log")
        cursor.execute("SET GLOBAL log_output = 'TABLE'")
        cursor.execute("SET GLOBAL general_log = 'ON'")
    try:
        rotated = stack.run("secrets", "rotate", timeout=600)
        assert rotated.code == 0, rotated.output
    finally:
        with _root(stack) as connection, connection.cursor() as cursor:
            cursor.execute("SET GLOBAL general_log = 'OFF'")  # the recreated server starts with it off anyway
            cursor.execute("SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log")
            logged = "\n".join(str(row[0]) for row in cursor.fetchall())
            cursor.execute("TRUNCATE mysql.general_log")
    new = stack.env_file()
    assert "SET PASSWORD FOR 'root'@'%' = '*" in logged  # the log did record the rotation's statements
    leaked = [name for name in MYSQL_SECRETS for values in (old, new) if values[name] in logged]
    assert leaked == []
    assert _works(stack, new) == {key: True for key in (*DATABASES, "redis", "root")}


def test_after_rotations_down_and_up_find_the_data_agreeing_with_env(stack: Workdir) -> None:
    """The MySQL volume's label still holds the first secrets' digests; the rotations' record wins over it."""
    assert stack.run("down", timeout=300).code == 0
    again = stack.run("up", "--no-init", timeout=1000)
    assert again.code == 0, again.output
    assert _works(stack, stack.env_file()) == {key: True for key in (*DATABASES, "redis", "root")}


def test_rotate_dry_run_changes_nothing_and_unknown_names_are_refused(stack: Workdir) -> None:
    before = (stack.path / ".env").read_bytes()
    dry = stack.run("secrets", "rotate", "--dry-run", "--json")
    assert dry.code == 0 and dry.json()["dry_run"] is True
    assert (stack.path / ".env").read_bytes() == before
    unknown = stack.run("secrets", "rotate", "SEARCH_PASSWORD")
    assert unknown.code == 3 and "cannot rotate SEARCH_PASSWORD" in unknown.error_line
