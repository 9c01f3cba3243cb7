"""Port-holder messages: who holds a port the run needs, and how to free it."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

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
