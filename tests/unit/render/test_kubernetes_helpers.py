"""The small pieces of the Kubernetes target: escaping, probes, quantities, the wait script, settings."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ticketctl.config.settings import Settings, load_settings
from ticketctl.errors import ConfigError
from ticketctl.render.kubernetes import WAIT_SCRIPT, cpu_millis, is_block_scalar, kubelet_escape, memory_bytes, probes
from ticketctl.stack.types import Healthcheck

pytestmark = pytest.mark.unit


def kubelet_expand(text: str, env: dict[str, str]) -> str:
    """What the kubelet does to a command, argument, probe or env value (third_party/forked/golang/expansion)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text) and text[i + 1] == "$":
            out.append("$")
            i += 2
        elif text[i] == "$" and i + 1 < len(text) and text[i + 1] == "(" and ")" in text[i + 2 :]:
            end = text.index(")", i + 2)
            name = text[i + 2 : end]
            out.append(env.get(name, text[i : end + 1]))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize(
    "text",
    [
        'mysql -p"$MYSQL_ROOT_PASSWORD" -e "SELECT 1"',
        "echo $(date) $$ $(X) $$(X) $$$ $",
        "while true; do sleep 3600 & wait $!; done",
        "a$(X",
        "",
    ],
)
def test_escaped_text_reaches_the_shell_unchanged(text: str) -> None:
    escaped = kubelet_escape(text)
    assert kubelet_expand(escaped, {"X": "expanded", "MYSQL_ROOT_PASSWORD": "leak"}) == text


def test_escaping_leaves_plain_shell_variables_readable() -> None:
    assert kubelet_escape('-p"$MYSQL_ROOT_PASSWORD"') == '-p"$MYSQL_ROOT_PASSWORD"'
    assert kubelet_escape("$(X)") == "$$(X)"


def test_probes_map_interval_timeout_retries_and_start_period() -> None:
    check = Healthcheck(
        test=("CMD", "redis-cli", "ping"),
        interval=10,
        timeout=2.5,
        retries=3,
        start_period=30,
    )
    startup, readiness, liveness = probes(check, ("CMD-SHELL", "redis-cli ping | grep -q ."))
    assert startup == {
        "field": "startupProbe",
        "command": ["redis-cli", "ping"],
        "period": 10,
        "timeout": 3,
        "failures": 6,
    }
    assert (readiness["command"], readiness["period"], readiness["timeout"], readiness["failures"]) == (
        ["redis-cli", "ping"],
        10,
        3,
        3,
    )
    # Liveness only proves the process alive: its own command, never the readiness test.
    assert liveness == {
        "field": "livenessProbe",
        "command": ["/bin/sh", "-c", "redis-cli ping | grep -q ."],
        "period": 10,
        "timeout": 3,
        "failures": 3,
    }
    assert [probe["field"] for probe in probes(check)] == ["startupProbe", "readinessProbe"]
    assert probes(None) == []
    assert probes(Healthcheck(test=("NONE",), interval=1, timeout=1, retries=1, start_period=0)) == []


@pytest.mark.parametrize(
    "quantity, expected", [("512Mi", 512 * 2**20), ("1Gi", 2**30), ("1G", 10**9), ("100", 100), ("64k", 64000)]
)
def test_memory_quantities(quantity: str, expected: int) -> None:
    assert memory_bytes(quantity) == expected


@pytest.mark.parametrize("quantity, expected", [("250m", 250), ("1", 1000), ("1.5", 1500), ("0.25", 250)])
def test_cpu_quantities(quantity: str, expected: int) -> None:
    assert cpu_millis(quantity) == expected


@pytest.mark.parametrize(
    "text, block",
    [("#!/bin/sh\necho\n", True), ("no newline", False), ("two\n\n", False), (" lead\n", False), ("tab\t\n", False)],
)
def test_literal_blocks_only_where_they_round_trip(text: str, block: bool) -> None:
    assert is_block_scalar(text) is block


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_wait_script_returns_once_the_port_accepts() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-c", WAIT_SCRIPT, "10", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"127.0.0.1:{port} is ready\n"


def test_wait_script_fails_after_its_deadline() -> None:
    port = _free_port()
    done = subprocess.run(
        [sys.executable, "-c", WAIT_SCRIPT, "1", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"127.0.0.1:{port} is not ready after 1 s: ")


# --------------------------------------------------------------------------- settings


def _settings(folder: Path, **environ: str) -> Settings:
    """Settings from these variables only, in a folder without ticketctl.yaml."""
    return load_settings(environ={f"TICKETCTL_{k}": v for k, v in environ.items()}, cwd=folder)


def test_resources_are_normalised(tmp_path: Path) -> None:
    settings = _settings(tmp_path, KUBERNETES__RESOURCES__APPS__LIMITS=" memory=128Mi , cpu=500m ")
    assert settings.kubernetes.resources["apps"].limits == (("cpu", "500m"), ("memory", "128Mi"))
    assert _settings(tmp_path, KUBERNETES__RESOURCES__APPS__LIMITS="").kubernetes.resources["apps"].limits == ()


@pytest.mark.parametrize(
    "name, value",
    [
        ("KUBERNETES__RESOURCES__MYSQL__LIMITS", "gpu=1"),
        ("KUBERNETES__RESOURCES__MYSQL__LIMITS", "cpu=1,cpu=2"),
        ("KUBERNETES__RESOURCES__MYSQL__LIMITS", "memory=1.5Gi"),
        ("KUBERNETES__RESOURCES__MYSQL__REQUESTS", "cpu=-1"),
        ("KUBERNETES__STORAGE__MYSQL", "10GB"),
        ("KUBERNETES__NAMESPACE", "Shop"),
        ("KUBERNETES__NAMESPACE", "-shop"),
        ("KUBERNETES__EXISTING_SECRET", "my_secret"),
        ("KUBERNETES__STORAGE_CLASS", "Fast SSD"),
        ("KUBERNETES__SYSCTL_INIT", "maybe"),
        ("IMAGES__TICKETCTL", "my image"),
    ],
)
def test_invalid_kubernetes_settings_name_their_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, **{name: value})
    assert caught.value.message.startswith(f"TICKETCTL_{name}: ")


def test_optional_kubernetes_settings_accept_empty(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, KUBERNETES__EXISTING_SECRET="", KUBERNETES__STORAGE_CLASS="", KUBERNETES__NAMESPACE=""
    )
    assert (settings.kubernetes.existing_secret, settings.kubernetes.storage_class) == (None, None)
    assert settings.kubernetes.namespace is None
