"""ticketctl tried as a new user would (issue 14), on the real Docker Engine with the local images.

Each test is one defect that the afternoon of use found: a lost ``.env``, the
wrong folder, a profile's containers called orphans, a Compose file that
Compose refuses, a port clash that rewrote the file, a paused container, a
``--debug`` after the command and ``config`` cut when piped.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests.support.stacks import PROJECT_LABEL, VENV_BIN, Project, free_ports
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(project: Project) -> Project:
    """The test's Compose project (tests/e2e/conftest.py), in a folder of its own."""
    return project


def _mysql_login(stack: Project, user: str, password: str) -> Any:
    return pymysql.connect(
        host="127.0.0.1",
        port=int(stack.settings["TICKETCTL_PORTS__MYSQL"]),
        user=user,
        password=password,
        connect_timeout=10,
        autocommit=True,
    )


def _ids(stack: Project) -> dict[str, str]:
    return {name: container.id for name, container in stack.containers().items()}


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- a lost .env


def test_a_lost_env_is_refused_in_seconds_and_the_healthy_stack_is_left_alone(stack: Project) -> None:
    first = stack.ticketctl("up", "mysql", "redis")  # migrated: the data volume holds the three databases
    assert first.code == 0, first.err
    before = _ids(stack)
    saved = (stack.folder / ".env").read_text()
    (stack.folder / ".env").unlink()

    for args in (("up",), ("render",)):
        refused = stack.ticketctl(*args)
        assert refused.code == ExitCode.CONFIG, (args, refused.err)
        assert refused.seconds < 20, refused.seconds  # not the 3.5 minutes of the health budget
        line = _one_line_error(refused.err)
        assert f"{stack.folder}/.env is missing" in line and f"{stack.name}_mysql-data" in line, line
        assert "bring the old .env back" in line and "ticketctl down --volumes" in line, line
        assert not (stack.folder / ".env").exists(), "no new secrets were written"

    assert _ids(stack) == before  # nothing recreated, nothing removed
    assert {c.attrs["State"]["Health"]["Status"] for c in stack.containers().values()} == {"healthy"}

    doctor = stack.ticketctl("doctor", "containers", "--json")
    checks = {check["name"]: check for check in doctor.json()["checks"]}
    assert checks["containers.secrets"]["status"] == "fail"
    assert "bring the old .env back" in checks["containers.secrets"]["fix"]
    assert checks["containers.mysql"]["status"] == "skip"
    assert all((check["fix"] or "") != "ticketctl up" for check in checks.values()), checks

    (stack.folder / ".env").write_text(saved)
    again = stack.ticketctl("up", "--json", "mysql", "redis")
    assert again.code == 0, again.err
    assert {s["action"] for s in again.json()["services"]} == {"unchanged"}


def test_an_edited_password_is_refused_by_a_real_login_and_a_rotated_one_accepted(stack: Project) -> None:
    assert stack.ticketctl("up", "--no-init", "mysql").code == 0
    before = _ids(stack)
    root = stack.env_file()["MYSQL_ROOT_PASSWORD"]
    stack.set_secret("MYSQL_ROOT_PASSWORD", "edited-by-hand-0123456789")

    refused = stack.ticketctl("up", "--no-init", "mysql")
    assert refused.code == ExitCode.CONFIG, refused.err
    line = _one_line_error(refused.err)
    assert "MySQL refuses the login with MYSQL_ROOT_PASSWORD" in line, line
    assert _ids(stack) == before

    # The same change made inside MySQL first (a password rotation) is a change that works: up goes on.
    with _mysql_login(stack, "root", root) as connection, connection.cursor() as cursor:
        cursor.execute("ALTER USER 'root'@'%' IDENTIFIED BY 'edited-by-hand-0123456789'")
    rotated = stack.ticketctl("up", "--no-init", "--json", "mysql")
    assert rotated.code == 0, rotated.err
    assert {s["service"]: s["action"] for s in rotated.json()["services"]} == {"mysql": "recreated"}


def test_data_from_before_the_record_of_secrets_fails_at_the_first_login_not_after_the_health_budget(
    stack: Project,
) -> None:
    """A volume created by an older ticketctl has no label; with no container left, the login decides."""
    assert stack.ticketctl("render").code == 0  # .env first: a volume that exists is never given new secrets
    client = stack.client
    client.volumes.create(
        f"{stack.name}_mysql-data",
        labels={PROJECT_LABEL: stack.name, "com.docker.compose.volume": "mysql-data"},
    )
    assert stack.ticketctl("up", "--no-init", "mysql").code == 0
    assert stack.ticketctl("down").code == 0
    stack.set_secret("MYSQL_ROOT_PASSWORD", "a-new-root-password-0123")

    doctor = stack.ticketctl("doctor", "containers.secrets", "--json")
    check = {c["name"]: c for c in doctor.json()["checks"]}["containers.secrets"]
    assert check["status"] == "ok" and "up checks the login once it runs" in check["summary"], check

    refused = stack.ticketctl("up", "--no-init", "mysql")
    assert refused.code == ExitCode.CONFIG, refused.err
    assert refused.seconds < 60, refused.seconds
    assert "MySQL refuses the login with MYSQL_ROOT_PASSWORD" in _one_line_error(refused.err)
    assert stack.containers() == {}  # what this run created is removed; the data volume is kept
    assert stack.volumes() == [f"{stack.name}_mysql-data"]


# --------------------------------------------------------------------------- the wrong folder


def test_a_subfolder_finds_the_project_file_above_and_says_so(
    stack: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    del stack.settings["TICKETCTL_PROJECT"]  # the project is named in the file only, as a user writes it
    (stack.folder / "ticketctl.yaml").write_text(f"project: {stack.name}\n")
    assert stack.ticketctl("up", "--no-init", "redis").code == 0
    sub = stack.folder / "sub" / "deeper"
    sub.mkdir(parents=True)

    status = stack.ticketctl("status", "--json", cwd=sub)
    assert status.code == 0, status.err
    assert status.json()["project"] == stack.name  # not the default project 'ticketing'
    assert "note: settings from ../../ticketctl.yaml" in status.err
    assert {row["service"]: row["state"] for row in status.json()["services"]}["redis"] == "running"

    rendered = stack.ticketctl("render", cwd=sub)
    assert rendered.code == 0, rendered.err
    assert not (sub / "docker-compose.yml").exists()  # output_dir is relative to the settings file
    assert f"Rendered project {stack.name!r} into {stack.folder}" in rendered.out

    home = tmp_path_factory.mktemp("home")  # beside the stack's folder, not under it
    elsewhere = home / "no-project-here"
    elsewhere.mkdir()
    # No Engine there (a dead socket): the default project's data, if this Engine has any, is none of this test's.
    lonely = stack.ticketctl("render", cwd=elsewhere, DOCKER_HOST=f"unix://{home}/no.sock", HOME=str(home))
    assert lonely.code == 0, lonely.err
    assert f"note: no ticketctl.yaml in {elsewhere} or a parent folder: project 'ticketing' (default)" in lonely.err

    (elsewhere / "ticketctl.yaml").write_text("# settings come later\n")
    empty = stack.ticketctl("config", cwd=elsewhere)
    assert empty.code == 0, empty.err
    assert "note: ticketctl.yaml sets nothing (it is empty or holds only comments): project 'ticketing'" in empty.err


# --------------------------------------------------------------------------- profiles, ports, Compose


def test_containers_started_with_a_profile_are_no_orphans_afterwards(stack: Project) -> None:
    started = stack.ticketctl("up", "--no-init", "--profile", "apps", "events-service")
    assert started.code == 0, started.err
    status = stack.ticketctl("status", "--json")
    rows = {row["service"]: row for row in status.json()["services"]}
    assert rows["events-service"]["orphan"] is False and rows["events-service"]["inactive_profiles"] == ["apps"]
    again = stack.ticketctl("up", "--no-init", "--json", "mysql")
    assert again.code == 0, again.err
    assert again.json()["orphans"] == [] and "orphan" not in again.err
    assert f"{stack.name}-events-service-1" in stack.containers()


def test_a_port_clash_stops_up_before_it_rewrites_the_compose_file(stack: Project) -> None:
    assert stack.ticketctl("up", "--no-init", "redis").code == 0
    compose = (stack.folder / "docker-compose.yml").read_text()
    env = (stack.folder / ".env").read_text()
    (taken,) = free_ports(1)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen(1)
        clash = stack.ticketctl("up", "--no-init", "redis", TICKETCTL_PORTS__REDIS=str(taken))
    assert clash.code == ExitCode.PORT_CONFLICT, clash.err
    assert (stack.folder / "docker-compose.yml").read_text() == compose  # still the file of what runs
    assert (stack.folder / ".env").read_text() == env


def test_compose_v2_runs_the_file_render_writes_for_this_engine(stack: Project) -> None:
    rendered = stack.ticketctl("render")
    assert rendered.code == 0, rendered.err
    text = (stack.folder / "docker-compose.yml").read_text()
    version = stack.client.version()["ApiVersion"]
    assert ("start_interval" in text) == (tuple(map(int, version.split("."))) >= (1, 44)), version
    created = subprocess.run(
        [str(VENV_BIN / "docker-compose"), "-p", stack.name, "up", "--no-start", "redis"],
        cwd=stack.folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert f"{stack.name}-redis-1" in stack.containers(), created.stderr


# --------------------------------------------------------------------------- small ones


def test_a_paused_container_is_called_paused(stack: Project) -> None:
    assert stack.ticketctl("up", "--no-init", "redis").code == 0
    stack.container("redis").pause()
    doctor = stack.ticketctl("doctor", "containers.redis", "--json")
    check = {c["name"]: c for c in doctor.json()["checks"]}["containers.redis"]
    assert check["status"] == "fail" and check["summary"] == f"{stack.name}-redis-1 is paused", check
    assert "docker unpause" in check["fix"]


def test_debug_after_the_command_and_config_uncut_when_piped(stack: Project, tmp_path: Path) -> None:
    status = stack.ticketctl("status", "--debug", "--json")
    assert status.code == 0, status.err
    long_folder = tmp_path / ("a-rather-long-folder-name-" * 4) / "stack"
    config = stack.ticketctl("config", TICKETCTL_OUTPUT_DIR=str(long_folder))
    assert config.code == 0, config.err
    (row,) = [line for line in config.out.splitlines() if line.startswith("output_dir ")]
    assert str(long_folder) in row and "…" not in row, row
