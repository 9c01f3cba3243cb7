"""Port-holder messages, the project lock, and choosing the Docker endpoint."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from ticketctl.errors import DockerError, LockedError
from ticketctl.runtime.docker import DockerRuntime, resolve_endpoint
from ticketctl.runtime.lock import project_lock
from ticketctl.runtime.ports import ContainerPort, PortNeed, find_conflicts, listening_processes, probe_bind

NEED = PortNeed("mysql", "127.0.0.1", 33306, "tcp", "ports.mysql")


def _free(host_ip: str, port: int, protocol: str) -> int | None:
    return None


def _taken(host_ip: str, port: int, protocol: str) -> int | None:
    return errno.EADDRINUSE


def _fake_proc(root: Path, port: int, pid: int, command: str) -> Path:
    """A /proc with one LISTEN socket on ``port`` held by ``pid``."""
    (root / "net").mkdir(parents=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    line = f"   0: 0100007F:{port:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 424242\n"
    (root / "net" / "tcp").write_text(header + line)
    (root / "net" / "tcp6").write_text(header)
    (root / str(pid) / "fd").mkdir(parents=True)
    (root / str(pid) / "comm").write_text(command + "\n")
    os.symlink("socket:[424242]", root / str(pid) / "fd" / "7")
    (root / "77" / "fd").mkdir(parents=True)  # a process holding nothing relevant
    return root


def test_a_process_holding_the_port_is_named_with_pid_setting_and_fix(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path / "proc", 33306, 4321, "mysqld")
    [conflict] = find_conflicts([NEED], [], project="shop", releasing=set(), local=True, probe=_taken, proc=proc)
    assert conflict.describe() == "port 33306 (ports.mysql) for mysql is taken by another process: pid 4321 (mysqld)"
    assert "kill 4321" in conflict.fix
    assert "TICKETCTL_PORTS__MYSQL" in conflict.fix


def test_a_connection_using_the_port_as_its_local_port_is_named(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path / "proc", 33306, 4321, "curl")
    table = (proc / "net" / "tcp").read_text().replace(" 0A ", " 01 ")  # ESTABLISHED, not LISTEN
    (proc / "net" / "tcp").write_text(table)
    [conflict] = find_conflicts([NEED], [], project="shop", releasing=set(), local=True, probe=_taken, proc=proc)
    assert conflict.holder == "a connection of pid 4321 (curl) using it as its local port"
    assert "ip_local_port_range" in conflict.fix


def test_an_invisible_process_still_gets_a_way_to_find_it(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    [conflict] = find_conflicts([NEED], [], project="shop", releasing=set(), local=True, probe=_taken, proc=tmp_path)
    assert "not visible to this user" in conflict.holder
    assert "ss -tanp" in conflict.fix


def test_a_container_of_another_project_is_named_with_how_to_stop_it() -> None:
    held = [ContainerPort("other-mysql-1", "other", "mysql", "0.0.0.0", 33306, "tcp")]
    [conflict] = find_conflicts([NEED], held, project="shop", releasing=set(), local=True, probe=_free)
    assert conflict.holder == "container other-mysql-1 of Compose project 'other'"
    assert "docker compose -p other down" in conflict.fix


def test_a_lone_container_is_named() -> None:
    held = [ContainerPort("db", None, None, "127.0.0.1", 33306, "tcp")]
    [conflict] = find_conflicts([NEED], held, project="shop", releasing=set(), local=False, probe=_free)
    assert conflict.holder == "container db" and "docker stop db" in conflict.fix


def test_our_own_container_of_the_same_service_is_not_a_conflict() -> None:
    held = [ContainerPort("shop-mysql-1", "shop", "mysql", "127.0.0.1", 33306, "tcp")]
    probe_calls: list[int] = []

    def probe(host_ip: str, port: int, protocol: str) -> int | None:
        probe_calls.append(port)
        return errno.EADDRINUSE  # its docker-proxy holds the port

    assert find_conflicts([NEED], held, project="shop", releasing=set(), local=True, probe=probe) == []
    assert probe_calls == []


def test_an_orphan_of_ours_blocks_unless_it_is_being_removed() -> None:
    held = [ContainerPort("shop-old-1", "shop", "old", "127.0.0.1", 33306, "tcp")]
    [conflict] = find_conflicts([NEED], held, project="shop", releasing=set(), local=False, probe=_free)
    assert "--remove-orphans" in conflict.fix
    assert find_conflicts([NEED], held, project="shop", releasing={"shop-old-1"}, local=False, probe=_free) == []


def test_other_addresses_and_protocols_do_not_collide() -> None:
    held = [
        ContainerPort("x", "other", "x", "10.0.0.5", 33306, "tcp"),
        ContainerPort("y", "other", "y", "127.0.0.1", 33306, "udp"),
    ]
    assert find_conflicts([NEED], held, project="shop", releasing=set(), local=False, probe=_free) == []


def test_an_address_that_is_not_ours_says_so() -> None:
    need = PortNeed("mysql", "10.9.8.7", 33306, "tcp", "ports.mysql")

    def probe(host_ip: str, port: int, protocol: str) -> int | None:
        return errno.EADDRNOTAVAIL

    [conflict] = find_conflicts([need], [], project="shop", releasing=set(), local=True, probe=probe)
    assert "10.9.8.7 is not an address of this host" in conflict.holder
    assert "bind_address" in conflict.fix


def test_remote_engines_are_not_probed_locally() -> None:
    assert find_conflicts([NEED], [], project="shop", releasing=set(), local=False, probe=_taken) == []


def test_probe_bind_and_proc_lookup_on_a_real_socket() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert probe_bind("127.0.0.1", port) == errno.EADDRINUSE
        assert (os.getpid(), Path(f"/proc/{os.getpid()}/comm").read_text().strip()) in listening_processes(port)
    assert probe_bind("127.0.0.1", port) is None


# --------------------------------------------------------------------------- the lock


def test_a_second_holder_waits_then_gets_the_lock(tmp_path: Path) -> None:
    released = threading.Event()
    waited: list[str] = []

    def hold() -> None:
        with project_lock("unix:///x", "shop", "up", timeout=1, folder=tmp_path):
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    threading.Timer(0.5, released.set).start()
    with project_lock("unix:///x", "shop", "up", timeout=5, folder=tmp_path, on_wait=waited.append):
        pass
    holder.join()
    assert waited == [f"`ticketctl up`, pid {os.getpid()}"]


def test_a_second_holder_gives_up_after_the_timeout_naming_the_holder(tmp_path: Path) -> None:
    with project_lock("unix:///x", "shop", "down", timeout=1, folder=tmp_path):
        started = time.monotonic()
        with (
            pytest.raises(LockedError) as caught,
            project_lock("unix:///x", "shop", "up", timeout=0.5, folder=tmp_path),
        ):
            pass
        assert 0.4 < time.monotonic() - started < 3
    assert f"`ticketctl down`, pid {os.getpid()}" in caught.value.message
    assert "'shop'" in caught.value.message and caught.value.exit_code == 11


def test_locks_are_per_project_and_endpoint(tmp_path: Path) -> None:
    with (
        project_lock("unix:///x", "shop", "up", timeout=0.1, folder=tmp_path),
        project_lock("unix:///x", "other", "up", timeout=0.1, folder=tmp_path),
        project_lock("tcp://remote:2375", "shop", "up", timeout=0.1, folder=tmp_path),
    ):
        pass


# --------------------------------------------------------------------------- the endpoint


def test_docker_host_wins() -> None:
    endpoint = resolve_endpoint({"DOCKER_HOST": "tcp://127.0.0.1:2375", "DOCKER_CONTEXT": "other"})
    assert (endpoint.url, endpoint.source, endpoint.is_local) == ("tcp://127.0.0.1:2375", "DOCKER_HOST", True)


def test_default_is_the_local_socket(tmp_path: Path) -> None:
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    assert (endpoint.url, endpoint.source, endpoint.is_local) == ("unix:///var/run/docker.sock", "default", True)


def _context(config: Path, name: str, host: str) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))


def test_current_context_of_the_docker_config(tmp_path: Path) -> None:
    _context(tmp_path, "remote", "tcp://build-box:2375")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    assert (endpoint.url, endpoint.source, endpoint.is_local) == ("tcp://build-box:2375", "context remote", False)


def test_docker_context_variable_wins_over_the_config(tmp_path: Path) -> None:
    _context(tmp_path, "desktop", "unix:///home/me/.docker/desktop/docker.sock")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "missing"}))
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "desktop"})
    assert endpoint.url == "unix:///home/me/.docker/desktop/docker.sock"


def test_a_missing_context_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DockerError, match="Docker context 'gone' not found") as caught:
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "gone"})
    assert caught.value.hint is not None and "docker context use" in caught.value.hint


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("unix:///nonexistent/docker.sock", "the socket does not exist (Docker is not running)"),
        ("tcp://127.0.0.1:1", "connection refused"),
    ],
)
def test_an_unreachable_engine_is_one_line_with_the_fix(host: str, reason: str) -> None:
    with pytest.raises(DockerError) as caught:
        DockerRuntime.connect({"DOCKER_HOST": host}, timeout=5)
    assert caught.value.message.startswith(f"cannot reach the Docker Engine at {host} (DOCKER_HOST): {reason}")
    assert caught.value.hint is not None and "sudo dockerd" in caught.value.hint and "DOCKER_HOST" in caught.value.hint
    assert "\n" not in caught.value.message
