"""Find out, before anything is created, whether the host ports a run needs are free.

Two sources answer "who holds this port":

* the Engine's list of running containers (works for a remote Engine too):
  a container of this project, of another Compose project, or a lone one;
* on a local Engine, a probe ``bind()`` on the address, and when it fails the
  kernel's socket tables in ``/proc`` to name the process (pid and command)
  when this user can see it.

The result is a list of :class:`PortConflict`, each of which renders as one
clause of a one-line message: which port, which setting chooses it, who holds
it, and how to free it or change the setting.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ticketctl.compose.file import ServiceSpec
from ticketctl.config.settings import FIELDS
from ticketctl.stack.model import Stack


@dataclass(frozen=True)
class PortNeed:
    """A host port the run will publish, and the setting that chooses it."""

    service: str
    host_ip: str
    host_port: int
    protocol: str
    setting: str


@dataclass(frozen=True)
class PortConflict:
    """A needed port that something else holds."""

    need: PortNeed
    holder: str  # e.g. "container other-mysql-1 of project other", "process 1234 (mysqld)"
    fix: str

    def describe(self) -> str:
        setting = f" ({self.need.setting})" if self.need.setting else ""
        return f"port {self.need.host_port}{setting} for {self.need.service} is taken by {self.holder}"


@dataclass(frozen=True)
class ContainerPort:
    """A host port held by a running container."""

    container: str
    project: str | None
    service: str | None
    host_ip: str
    host_port: int
    protocol: str


ProbeBind = Callable[[str, int, str], int | None]


def addresses_overlap(first: str, second: str) -> bool:
    """Whether two bind addresses collide on the same port (a wildcard collides with all)."""
    wildcards = ("0.0.0.0", "::", "")
    return first in wildcards or second in wildcards or first == second


def probe_bind(host_ip: str, port: int, protocol: str = "tcp") -> int | None:
    """Try to bind ``host_ip:port`` like docker-proxy would; the errno on failure, None when free."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    address = "" if host_ip in ("0.0.0.0", "::") else host_ip
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
            if kind == socket.SOCK_STREAM:
                probe.listen(1)
        except OSError as error:
            return error.errno or errno.EADDRINUSE
    return None


def find_conflicts(
    needs: Iterable[PortNeed],
    container_ports: Iterable[ContainerPort],
    *,
    project: str,
    releasing: set[str],
    local: bool,
    probe: ProbeBind = probe_bind,
    proc: Path = Path("/proc"),
) -> list[PortConflict]:
    """Every needed port that is taken by someone else.

    ``releasing`` names this project's containers that this run removes or
    recreates (so their ports will be free); this project's other containers
    keep theirs, which is only a conflict when the port is wanted by another service.
    """
    held = list(container_ports)
    conflicts: list[PortConflict] = []
    for need in needs:
        holders = [
            c
            for c in held
            if c.host_port == need.host_port
            and c.protocol == need.protocol
            and addresses_overlap(c.host_ip, need.host_ip)
        ]
        ours = [c for c in holders if c.project == project]
        theirs = [c for c in holders if c.project != project]
        blocking_ours = [c for c in ours if c.container not in releasing and c.service != need.service]
        if theirs:
            conflicts.append(_container_conflict(need, theirs[0]))
        elif blocking_ours:
            conflicts.append(_own_container_conflict(need, blocking_ours[0]))
        elif not ours and local:
            failure = probe(need.host_ip, need.host_port, need.protocol)
            if failure == errno.EADDRNOTAVAIL:
                conflicts.append(
                    PortConflict(
                        need,
                        f"nobody: {need.host_ip} is not an address of this host",
                        "set bind_address to an address of this host, such as 127.0.0.1",
                    )
                )
            elif failure is not None and failure != errno.EACCES:
                conflicts.append(_process_conflict(need, proc))
    return conflicts


def _setting_fix(need: PortNeed) -> str:
    if need.setting not in FIELDS:
        return "choose another port in your template"
    spec = FIELDS[need.setting]
    return f"or choose another port: set {need.setting} in ticketctl.yaml or {spec.env_var}"


def _container_conflict(need: PortNeed, holder: ContainerPort) -> PortConflict:
    if holder.project:
        who = f"container {holder.container} of Compose project {holder.project!r}"
        stop = f"stop it (`docker stop {holder.container}` or `docker compose -p {holder.project} down`)"
    else:
        who = f"container {holder.container}"
        stop = f"stop it (`docker stop {holder.container}`)"
    return PortConflict(need, who, f"{stop}, {_setting_fix(need)}")


def _own_container_conflict(need: PortNeed, holder: ContainerPort) -> PortConflict:
    return PortConflict(
        need,
        f"this project's container {holder.container} (service {holder.service or '?'}, no longer in the file)",
        "remove it with `ticketctl up --remove-orphans` or `ticketctl down`",
    )


def _process_conflict(need: PortNeed, proc: Path) -> PortConflict:
    processes = listening_processes(need.host_port, need.protocol, proc)
    if processes:
        described = ", ".join(f"pid {pid} ({name})" for pid, name in processes)
        return PortConflict(
            need, f"another process: {described}", f"stop it (`kill {processes[0][0]}`), {_setting_fix(need)}"
        )
    users = listening_processes(need.host_port, need.protocol, proc, listening=False)
    if users:
        described = ", ".join(f"pid {pid} ({name})" for pid, name in users)
        return PortConflict(
            need,
            f"a connection of {described} using it as its local port",
            f"try again in a moment, {_setting_fix(need)} outside the ephemeral range "
            "(/proc/sys/net/ipv4/ip_local_port_range)",
        )
    return PortConflict(
        need,
        "another process (not visible to this user)",
        f"find it with `sudo ss -tanp 'sport = :{need.host_port}'` and stop it, {_setting_fix(need)}",
    )


def listening_processes(
    port: int, protocol: str = "tcp", proc: Path = Path("/proc"), *, listening: bool = True
) -> list[tuple[int, str]]:
    """(pid, command name) of processes with a socket on local ``port`` (listening ones, or any)."""
    inodes = _socket_inodes(port, protocol, proc, listening=listening)
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found: list[tuple[int, str]] = []
    for entry in _pid_dirs(proc):
        if _open_files(entry) & wanted:
            found.append((int(entry.name), _command_name(entry)))
    return sorted(found)


def _open_files(entry: Path) -> set[str]:
    """Targets of a process's file descriptors; those that vanish while reading are skipped."""
    try:
        descriptors = list((entry / "fd").iterdir())
    except OSError:
        return set()
    targets = set()
    for descriptor in descriptors:
        try:
            targets.add(str(descriptor.readlink()))
        except OSError:
            continue
    return targets


def _pid_dirs(proc: Path) -> list[Path]:
    try:
        return [entry for entry in proc.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _command_name(entry: Path) -> str:
    try:
        return (entry / "comm").read_text(encoding="utf-8", errors="replace").strip() or "?"
    except OSError:
        return "?"


def _socket_inodes(port: int, protocol: str, proc: Path, *, listening: bool = True) -> set[str]:
    """Inodes of sockets on local ``port`` in /proc/net/* (TCP only in LISTEN state unless ``listening`` is off)."""
    tables = ("udp", "udp6") if protocol == "udp" else ("tcp", "tcp6")
    inodes: set[str] = set()
    for table in tables:
        try:
            lines = (proc / "net" / table).read_text(encoding="ascii", errors="replace").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local_port = int(fields[1].rsplit(":", 1)[-1], 16)
            state_matches = not listening or protocol == "udp" or fields[3] == "0A"
            if local_port == port and state_matches and fields[9] != "0":
                inodes.add(fields[9])
    return inodes


def port_needs(stack: Stack, services: Sequence[ServiceSpec]) -> list[PortNeed]:
    """The host ports these services publish, each with the setting that chooses it (named by the model)."""
    settings_of = {
        (service.name, port.container_port): port.setting for service in stack.services for port in service.ports
    }
    return [
        PortNeed(
            service.name,
            port.host_ip,
            port.host_port,
            port.protocol,
            settings_of.get((service.name, port.container_port), ""),
        )
        for service in services
        for port in service.ports
    ]
