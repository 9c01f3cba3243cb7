"""Loopback ports for servers and stacks that a test starts itself."""

from __future__ import annotations

import socket
from collections.abc import Callable

from ticketctl.stack.model import APPLICATIONS


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_ports(pick: Callable[[], int] = free_port) -> dict[str, str]:
    """``TICKETCTL_PORTS__*`` for a stack a test starts: three free ports, then an application range
    (``ports.apps`` and the ports after it) that holds none of them, so ticketctl never refuses them
    as overlapping (independent random picks did, now and then)."""
    ports: dict[str, int] = {}
    for name in ("MYSQL", "REDIS", "SEARCH"):
        port = pick()
        while port in ports.values():
            port = pick()
        ports[name] = port
    apps = pick() - 10
    while any(apps <= port < apps + len(APPLICATIONS) for port in ports.values()):
        apps = pick() - 10
    return {f"TICKETCTL_PORTS__{name}": str(port) for name, port in {**ports, "APPS": apps}.items()}
