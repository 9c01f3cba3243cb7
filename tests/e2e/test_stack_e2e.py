"""``ticketctl up``/``down``/``status`` end to end: the real Docker Engine and the locally built images.

The images come from ``scripts/test-services`` (``TICKETCTL_TEST_IMAGE_MYSQL`` …);
nothing is pulled. Each test runs the CLI as a subprocess in its own folder
with its own Compose project name and free 3xxxx ports, and removes every
container, network and volume of that project afterwards (by the Compose
project label). Without the images or the Engine the tests skip, naming
``scripts/test-services up``; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import time
from typing import Any

import docker.errors
import pytest

from tests.support.stacks import PROJECT_LABEL, VENV_BIN, Project, Run, free_ports

pytestmark = pytest.mark.e2e


def _mysql(project: Project, port: int | None = None) -> Any:
    import pymysql

    env = project.env_file()
    return pymysql.connect(
        host="127.0.0.1",
        port=port or int(project.settings["TICKETCTL_PORTS__MYSQL"]),
        user="events_app",
        password=env["EVENTS_DB_PASSWORD"],
        database="events_db",
        autocommit=True,
        connect_timeout=10,
    )


def _services(run: Run) -> dict[str, dict[str, Any]]:
    return {service["service"]: service for service in run.json()["services"]}


# --------------------------------------------------------------------------- the life of a stack


def test_up_converges_recreates_one_service_and_down_keeps_the_data(project: Project) -> None:
    # 1. From nothing to healthy.
    first = project.ticketctl("up", "--no-init", "--json")
    assert first.code == 0, first.err
    services = _services(first)
    assert {name: (s["action"], s["health"]) for name, s in services.items()} == {
        "mysql": ("created", "healthy"),
        "redis": ("created", "healthy"),
        "elasticsearch": ("created", "healthy"),
    }
    ids = project.ids()
    assert sorted(ids) == sorted(f"{project.name}-{s}-1" for s in ("mysql", "redis", "elasticsearch"))
    assert project.networks() == [f"{project.name}_backend"]

    # A second up recreates nothing and is fast.
    second = project.ticketctl("up", "--no-init", "--json")
    assert second.code == 0, second.err
    assert {s["action"] for s in _services(second).values()} == {"unchanged"}
    assert project.ids() == ids
    assert second.json()["elapsed_seconds"] < 3, second.json()

    # 6. docker compose sees the stack as a Compose project.
    compose = subprocess.run(
        [str(VENV_BIN / "docker-compose"), "-p", project.name, "ps", "--format", "json"],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert compose.returncode == 0, compose.stderr
    listed = [json.loads(line) for line in compose.stdout.splitlines() if line.strip()]
    assert sorted((c["Name"], c["Service"]) for c in listed) == sorted(
        (f"{project.name}-{s}-1", s) for s in ("mysql", "redis", "elasticsearch")
    )

    # 2. Rows written before survive the recreation of MySQL (a changed port), and only MySQL is recreated.
    with _mysql(project) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE survivors (id INT PRIMARY KEY, name VARCHAR(20))")
        cursor.execute("INSERT INTO survivors VALUES (1, 'before recreate')")
    new_port = free_ports(1)[0]
    project.settings["TICKETCTL_PORTS__MYSQL"] = str(new_port)
    third = project.ticketctl("up", "--no-init", "--json")
    assert third.code == 0, third.err
    assert {name: s["action"] for name, s in _services(third).items()} == {
        "mysql": "recreated",
        "redis": "unchanged",
        "elasticsearch": "unchanged",
    }
    after = project.ids()
    assert after[f"{project.name}-redis-1"] == ids[f"{project.name}-redis-1"]
    assert after[f"{project.name}-elasticsearch-1"] == ids[f"{project.name}-elasticsearch-1"]
    assert after[f"{project.name}-mysql-1"] != ids[f"{project.name}-mysql-1"]
    with _mysql(project, new_port) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name FROM survivors WHERE id = 1")
        assert cursor.fetchone() == ("before recreate",)

    # status shows each service with its port, image and uptime.
    status = project.ticketctl("status", "--json")
    assert status.code == 0
    rows = {row["service"]: row for row in status.json()["services"]}
    assert rows["mysql"]["ports"] == [f"127.0.0.1:{new_port}->3306/tcp"]
    assert rows["redis"]["state"] == "running" and rows["redis"]["health"] == "healthy"
    assert rows["elasticsearch"]["uptime_seconds"] is not None

    # 5. down keeps the volumes, and the data is there after the next up.
    down = project.ticketctl("down")
    assert down.code == 0, down.err
    assert f"docker volume ls --filter label={PROJECT_LABEL}={project.name}" in down.out
    assert project.containers() == {} and project.networks() == []
    volumes = [f"{project.name}_{v}" for v in ("elasticsearch-data", "mysql-data", "redis-data")]
    assert project.volumes() == volumes
    again = project.ticketctl("up", "--no-init", "mysql")
    assert again.code == 0, again.err
    with _mysql(project, new_port) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name FROM survivors WHERE id = 1")
        assert cursor.fetchone() == ("before recreate",)

    refused = project.ticketctl("down", "--volumes")
    assert refused.code == 16 and "--yes" in refused.err
    assert project.volumes() == volumes
    gone = project.ticketctl("down", "--volumes", "--yes")
    assert gone.code == 0, gone.err
    assert project.volumes() == [] and project.containers() == {}


# --------------------------------------------------------------------------- failures


def test_a_port_held_by_another_process_stops_up_before_anything_is_created(project: Project) -> None:
    port = int(project.settings["TICKETCTL_PORTS__REDIS"])
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        run = project.ticketctl("up", "--no-init")
    assert run.code == 5, run.err
    last = run.err.strip().splitlines()[-1]
    assert last.startswith(
        f"error: port {port} (ports.redis) for redis is taken by another process: pid {os.getpid()} ("
    )
    assert "TICKETCTL_PORTS__REDIS" in last
    assert project.containers() == {} and project.networks() == [] and project.volumes() == []


def _anonymous_volumes(project: Project) -> set[str]:
    """The volumes Docker named itself (64 hex digits): those it made for an image's VOLUME that nothing mounted."""
    return {volume.name for volume in project.client.volumes.list() if re.fullmatch(r"[0-9a-f]{64}", volume.name)}


def test_a_service_that_never_becomes_healthy_fails_in_time_with_its_logs(
    project: Project, images: dict[str, str]
) -> None:
    # The Redis image in the search engine's place runs fine but never answers on :9200.
    project.settings["TICKETCTL_IMAGES__ELASTICSEARCH"] = images["redis"]
    before = _anonymous_volumes(project)
    run = project.ticketctl("up", "--no-init", "--wait-timeout", "20")
    assert run.code == 6, run.err
    assert run.seconds < 60
    last = run.err.strip().splitlines()[-1]
    assert last.startswith("error: elasticsearch: not healthy after")
    assert "--wait-timeout" in last
    assert "--- last " in run.err and "log lines of elasticsearch ---" in run.err
    assert project.containers() == {} and project.networks() == []
    # The Redis image's VOLUME /data got an anonymous volume; it went with the container this run created.
    assert _anonymous_volumes(project) <= before


def test_an_image_s_own_volume_keeps_its_data_across_a_recreate_and_goes_with_down_volumes(
    project: Project, images: dict[str, str]
) -> None:
    # An image that keeps data in a VOLUME of its own, at a path the stack does not mount (/cache): Docker gives
    # it an anonymous volume. Compose v2 hands that volume to the container that replaces this one; so must up.
    dockerfile = f"FROM {images['redis']}\nVOLUME /cache\n".encode()
    image, _ = project.client.images.build(fileobj=io.BytesIO(dockerfile), tag="ticketctl-e2e/redis-cache:1", rm=True)
    project.settings["TICKETCTL_IMAGES__REDIS"] = "ticketctl-e2e/redis-cache:1"
    kept: list[str] = []
    try:
        assert project.ticketctl("up", "--no-init", "redis").code == 0
        first = project.container("redis")
        assert first.exec_run(["sh", "-c", "echo kept > /cache/marker"]).exit_code == 0
        [volume] = [m["Name"] for m in first.attrs["Mounts"] if m["Destination"] == "/cache"]
        kept.append(volume)

        recreate = project.ticketctl("up", "--no-init", "--force-recreate", "--json", "redis")
        assert recreate.code == 0, recreate.err
        assert _services(recreate)["redis"]["action"] == "recreated"
        second = project.container("redis")
        assert second.id != first.id
        assert [m["Name"] for m in second.attrs["Mounts"] if m["Destination"] == "/cache"] == [volume]
        assert second.exec_run(["cat", "/cache/marker"]).output == b"kept\n"
        # The volume it took over is no change and no drift: a plan of the same stack has nothing to say.
        plan = project.ticketctl("plan", "--no-init", "redis")
        assert plan.code == 0, plan.out + plan.err

        down = project.ticketctl("down", "--volumes", "--yes", "--json")
        assert down.code == 0, down.err
        assert volume in down.json()["removed_volumes"]
        assert volume not in {v.name for v in project.client.volumes.list()}
    finally:
        project.cleanup()
        for name in kept:
            with contextlib.suppress(docker.errors.NotFound):
                project.client.volumes.get(name).remove(force=True)
        project.client.images.remove(image.id, force=True)


def test_a_container_that_exits_during_the_health_wait_fails_at_once(project: Project, images: dict[str, str]) -> None:
    project.settings["TICKETCTL_IMAGES__REDIS"] = images["apps"]  # it has no redis entrypoint: the command exits
    run = project.ticketctl("up", "--no-init", "mysql", "redis")
    assert run.code == 6, run.err
    assert run.seconds < 45
    assert "error: redis: exited" in run.err and "while starting" in run.err
    assert "--- last " in run.err and "docker-entrypoint.sh: not found" in run.err  # its logs, above the error
    assert project.containers() == {}


# --------------------------------------------------------------------------- interruption and concurrency


def test_ctrl_c_during_up_then_up_converges_without_duplicates(project: Project) -> None:
    process = project.start("up", "--no-init", "mysql", "redis")
    deadline = time.monotonic() + 60
    while not project.containers() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "up interrupted" in err
    rerun = project.ticketctl("up", "--no-init", "--json", "mysql", "redis")
    assert rerun.code == 0, rerun.err
    assert {s["health"] for s in _services(rerun).values()} == {"healthy"}
    assert sorted(project.containers()) == [f"{project.name}-mysql-1", f"{project.name}-redis-1"]


def test_two_ups_at_once_never_duplicate_containers(project: Project) -> None:
    first = project.start("up", "--no-init", "--json", "mysql", "redis")
    # Start the second once the first is inside its locked section (its containers exist and
    # MySQL is not healthy yet, which takes at least one 5 s health interval), so the two overlap.
    deadline = time.monotonic() + 60
    while not project.containers() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.1)
    second = project.start("up", "--no-init", "--json", "mysql", "redis")
    results = []
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        results.append((process.returncode, out, err))
    codes = sorted(code for code, _, _ in results)
    assert codes in ([0, 0], [0, 11]), results
    assert any("waiting for `ticketctl up`" in err or "another ticketctl" in err for _, _, err in results)
    actions = [
        {s["service"]: s["action"] for s in json.loads(out)["services"]} for code, out, _ in results if code == 0
    ]
    assert {"mysql": "created", "redis": "created"} in actions
    assert sorted(project.containers()) == [f"{project.name}-mysql-1", f"{project.name}-redis-1"]
