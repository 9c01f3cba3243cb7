"""``ticketctl up``, ``down`` and ``status`` through the CLI's error boundary: exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.cli.conftest import ENVIRONMENT
from ticketctl.cli import stack
from ticketctl.cli.main import run

REAL_CONNECT = stack.connect


@pytest.mark.parametrize("command", ["up", "down", "status"])
def test_every_command_has_help(cli: Any, command: str) -> None:
    code, out, _ = cli(command, "--help")
    assert code == 0
    assert len(out.split("Usage:", 1)[1].split("\n\n", 2)[1].strip()) > 30


def test_up_then_status_json(cli: Any) -> None:
    code, out, err = cli("up", "--no-init", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [(s["service"], s["action"], s["health"]) for s in report["services"]] == [
        ("mysql", "created", "healthy"),
        ("redis", "created", "healthy"),
        ("elasticsearch", "created", "healthy"),
    ]
    assert Path(".env").stat().st_mode & 0o777 == 0o600
    code, out, _ = cli("status", "--json")
    assert code == 0
    rows = json.loads(out)["services"]
    assert (rows[0]["service"], rows[0]["state"], rows[0]["ports"]) == (
        "mysql",
        "running",
        ["127.0.0.1:33306->3306/tcp"],
    )


def test_up_prints_a_summary_and_a_second_up_says_already_up(cli: Any) -> None:
    code, out, _ = cli("up", "--no-init")
    assert code == 0 and "unit is up: 3 service(s) ready, 0 unchanged" in out
    code, out, _ = cli("up", "--no-init")
    assert code == 0 and "unit was already up: 3 service(s) ready, 3 unchanged" in out


def test_no_secret_reaches_any_output(cli: Any, fake_api: Any) -> None:
    fake_api.behaviour["redis"] = "exit"
    outputs = [cli("up", "--no-init"), cli("up", "--no-init", "--json"), cli("status", "--json")]
    env = dict(line.split("=", 1) for line in Path(".env").read_text().splitlines() if "=" in line and line[0] != "#")
    for _, out, err in outputs:
        for secret in env.values():
            assert secret not in out and secret not in err


def test_a_failed_service_exits_6_with_its_logs_then_one_error_line(cli: Any, fake_api: Any) -> None:
    fake_api.behaviour["redis"] = "exit"
    code, _, err = cli("up", "--no-init")
    assert code == 6
    lines = err.strip().splitlines()
    assert "--- last 2 log lines of redis ---" in lines
    assert "  FATAL: cannot start, password=***" in lines
    assert lines[-1].startswith("error: redis: exited with code 1 while starting")
    assert "Traceback" not in err
    assert fake_api.containers_by_id == {}


def test_a_port_conflict_exits_5(cli: Any, fake_api: Any) -> None:
    fake_api.foreign_ports.append(
        {"Id": "x", "Names": ["/db"], "Labels": {}, "Ports": [{"IP": "", "PublicPort": 33306, "Type": "tcp"}]}
    )
    code, _, err = cli("up", "--no-init")
    assert code == 5
    assert err.strip().splitlines()[-1].startswith("error: port 33306 (ports.mysql) for mysql is taken by container db")


def test_down_volumes_without_yes_and_without_a_terminal_refuses(cli: Any, fake_api: Any) -> None:
    assert cli("up", "--no-init")[0] == 0
    code, _, err = cli("down", "--volumes")
    assert code == 16
    assert "refusing without confirmation" in err and "--yes" in err
    assert len(fake_api.containers_by_id) == 3 and len(fake_api.volumes_by_name) == 3


def test_the_question_of_down_volumes_names_the_anonymous_volumes_it_would_delete_too(cli: Any, fake_api: Any) -> None:
    fake_api.image_volumes["test/redis:1"] = ["/data", "/cache"]  # /cache: a VOLUME the stack does not mount
    assert cli("up", "--no-init")[0] == 0
    [anonymous] = [name for name, volume in fake_api.volumes_by_name.items() if not volume["Labels"]]
    code, _, err = cli("down", "--volumes")
    assert code == 16
    assert "Delete 4 volume(s)" in err and anonymous in err
    code, out, _ = cli("down", "--volumes", "--yes")
    assert code == 0 and anonymous in out and fake_api.volumes_by_name == {}


def test_down_keeps_volumes_and_says_how_to_list_them(cli: Any, fake_api: Any) -> None:
    cli("up", "--no-init")
    code, out, _ = cli("down")
    assert code == 0
    assert "removed 3 container(s) and 1 network(s)" in out
    assert "docker volume ls --filter label=com.docker.compose.project=unit" in out
    assert len(fake_api.volumes_by_name) == 3
    code, out, _ = cli("down", "--volumes", "--yes")
    assert code == 0 and "deleted volumes: unit_elasticsearch-data, unit_mysql-data, unit_redis-data" in out
    assert fake_api.volumes_by_name == {}


def test_a_port_out_of_range_is_a_config_error_before_docker_is_touched(
    cli: Any, fake_api: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("TICKETCTL_PORTS__MYSQL", "70000")
    code, _, err = cli("up")
    assert code == 3
    assert err.startswith("error: TICKETCTL_PORTS__MYSQL: ports.mysql: expected an integer 1-65535, got 70000")
    assert fake_api.calls == []


def test_docker_disabled_is_a_config_error(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ticketctl.cli.stack.connect", REAL_CONNECT)
    monkeypatch.setenv("TICKETCTL_DOCKER__ENABLED", "false")
    code, _, err = cli("status")
    assert code == 3 and "docker.enabled is false" in err


def test_an_unreachable_engine_exits_4_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        run(["up"])
    err = capsys.readouterr().err
    assert exited.value.code == 4
    assert err.count("\n") == 1 and err.startswith("error: cannot reach the Docker Engine")
