"""``ticketctl doctor``'s Docker checks on the real Engine: a port held by another process,
an unhealthy container, a container that stopped, and leftovers of an older configuration."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import DockerScratch, LocalImages
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.e2e

TICKETCTL = [sys.executable, "-m", "ticketctl"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(scratch: DockerScratch, images: LocalImages, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_") or k.startswith("TICKETCTL_TEST_")}
    base.update(
        {
            "TICKETCTL_PROJECT": scratch.project,
            **images.environment(),
            "TICKETCTL_PORTS__MYSQL": str(free_port()),
            "TICKETCTL_PORTS__REDIS": str(free_port()),
            "TICKETCTL_PORTS__SEARCH": str(free_port()),
        }
    )
    base.update(extra)
    return base


def doctor(folder: Path, env: dict[str, str], *names: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [*TICKETCTL, "doctor", "--json", *names],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == name)


def service_container(scratch: DockerScratch, images: LocalImages, service: str) -> None:
    """A container that ticketctl takes for the project's own ``service`` (as root, sleeping)."""
    scratch.client.containers.run(
        images.apps,
        ["sh", "-c", "sleep 300"],
        name=f"{scratch.project}-{service}-1",
        detach=True,
        labels={
            "com.docker.compose.project": scratch.project,
            "com.docker.compose.service": service,
            "com.docker.compose.container-number": "1",
            "com.docker.compose.oneoff": "False",
        },
    )


def render(folder: Path, env: dict[str, str]) -> None:
    subprocess.run([*TICKETCTL, "render"], cwd=folder, env=env, capture_output=True, check=True, timeout=60)


def test_a_port_held_by_another_process(
    tmp_path: Path, docker_scratch: DockerScratch, local_images: LocalImages
) -> None:
    env = environment(docker_scratch, local_images)
    render(tmp_path, env)
    port = int(env["TICKETCTL_PORTS__REDIS"])
    listen = (
        f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen();"
        " print('ready', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", listen], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        code, report = doctor(tmp_path, env, "ports")
    finally:
        holder.kill()
        holder.wait()
    ports = check(report, "ports.host")
    assert ports["status"] == "fail"
    assert f"port {port}" in ports["summary"] and "ports.redis" in ports["summary"]
    assert f"pid {holder.pid}" in ports["summary"]
    assert f"kill {holder.pid}" in ports["fix"] and "TICKETCTL_PORTS__REDIS" in ports["fix"]
    assert code == ExitCode.CHECKS_FAILED


def test_an_unhealthy_and_a_stopped_container(
    tmp_path: Path, docker_scratch: DockerScratch, local_images: LocalImages
) -> None:
    env = environment(docker_scratch, local_images)
    render(tmp_path, env)
    client = docker_scratch.client
    labels = {
        "com.docker.compose.project": docker_scratch.project,
        "com.docker.compose.service": "redis",
        "com.docker.compose.container-number": "1",
        "com.docker.compose.oneoff": "False",
    }
    client.containers.run(
        local_images.redis,
        ["sh", "-c", "sleep 300"],
        name=f"{docker_scratch.project}-redis-1",
        detach=True,
        labels=labels,
        healthcheck={
            "test": ["CMD-SHELL", "echo 'redis does not answer PING'; exit 1"],
            "interval": 500_000_000,
            "timeout": 1_000_000_000,
            "retries": 1,
        },
    )
    mysql = client.containers.run(
        local_images.apps,
        ["sh", "-c", "echo 'mysqld: fatal: out of disk'; exit 3"],
        name=f"{docker_scratch.project}-mysql-1",
        detach=True,
        labels={**labels, "com.docker.compose.service": "mysql"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        redis = client.containers.get(f"{docker_scratch.project}-redis-1")
        mysql.reload()
        if redis.attrs["State"].get("Health", {}).get("Status") == "unhealthy" and mysql.status == "exited":
            break
        time.sleep(0.3)
    code, report = doctor(tmp_path, env, "containers")
    unhealthy = check(report, "containers.redis")
    assert unhealthy["status"] == "fail"
    assert unhealthy["summary"] == f"{docker_scratch.project}-redis-1 is unhealthy: redis does not answer PING"
    assert unhealthy["fix"].startswith(f"see `docker logs {docker_scratch.project}-redis-1`")
    stopped = check(report, "containers.mysql")
    assert stopped["status"] == "fail"
    assert stopped["summary"] == (
        f"{docker_scratch.project}-mysql-1 is exited (exit code 3); last log line: mysqld: fatal: out of disk"
    )
    missing = check(report, "containers.elasticsearch")
    assert (missing["status"], missing["fix"]) == ("fail", "ticketctl up")
    assert code == ExitCode.CHECKS_FAILED


def test_leftovers_of_an_older_configuration(
    tmp_path: Path, docker_scratch: DockerScratch, local_images: LocalImages
) -> None:
    env = environment(docker_scratch, local_images)
    render(tmp_path, env)
    client = docker_scratch.client
    client.volumes.create(
        f"{docker_scratch.project}_opensearch-data",
        labels={"com.docker.compose.project": docker_scratch.project, "com.docker.compose.volume": "opensearch-data"},
    )
    service_container(docker_scratch, local_images, "opensearch")
    code, report = doctor(tmp_path, env, "containers.leftovers")
    leftovers = check(report, "containers.leftovers")
    assert leftovers["status"] == "warn"
    assert f"{docker_scratch.project}-opensearch-1" in leftovers["summary"]
    assert f"{docker_scratch.project}_opensearch-data" in leftovers["summary"]
    assert leftovers["fix"].startswith("ticketctl up --remove-orphans; check their data")
    assert code == ExitCode.WARNINGS


def test_no_service_runs_as_root(tmp_path: Path, docker_scratch: DockerScratch, local_images: LocalImages) -> None:
    """Redis (started through its entrypoint) and the placeholders run as their own users; a root one fails."""
    env = environment(docker_scratch, local_images, TICKETCTL_PROFILES="apps")
    up = subprocess.run(
        [*TICKETCTL, "up", "redis", "auth-service", "--no-wait"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert up.returncode == 0, up.stderr
    client = docker_scratch.client
    redis = client.containers.get(f"{docker_scratch.project}-redis-1")
    deadline = time.monotonic() + 30
    while "redis-server" not in " ".join(" ".join(p) for p in redis.top(ps_args="-o pid,uid,comm")["Processes"]):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.5)
        redis.reload()
    code, report = doctor(tmp_path, env, "containers.users")
    users = check(report, "containers.users")
    assert users["status"] == "ok", users
    assert users["summary"] == "no service runs as root (2 running checked)"

    # An image of the user's that keeps root is named, with the fix.
    service_container(docker_scratch, local_images, "events-service")
    code, report = doctor(tmp_path, env, "containers.users")
    users = check(report, "containers.users")
    assert users["status"] == "fail"
    assert users["summary"] == f"running as root (uid 0): {docker_scratch.project}-events-service-1"
    assert code == ExitCode.CHECKS_FAILED
