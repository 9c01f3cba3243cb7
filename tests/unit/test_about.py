"""``version``: the client side from package metadata; a server that does not answer is a reason, not a failure."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from ticketctl import __version__
from ticketctl.about import versions
from ticketctl.compose.hash import COMPOSE_VERSION
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import load_settings


def _closed_ports(count: int) -> list[int]:
    """Distinct ports nothing listens on (bound together, so the kernel gives different ones, then released)."""
    probes = [socket.socket() for _ in range(count)]
    for probe in probes:
        probe.bind(("127.0.0.1", 0))
    ports = [int(probe.getsockname()[1]) for probe in probes]
    for probe in probes:
        probe.close()
    return ports


def test_the_client_side_asks_no_server() -> None:
    found = versions(None, None)
    assert found.ticketctl == __version__ and found.compose == COMPOSE_VERSION and found.servers is None
    libraries = {library.name: library.version for library in found.libraries}
    assert libraries["docker"] and libraries["PyMySQL"] and libraries["typer"]
    assert found.as_dict()["servers"] is None


def test_servers_that_do_not_answer_are_reported_with_the_reason(tmp_path: Path) -> None:
    mysql, redis, search = _closed_ports(3)
    (tmp_path / "ticketctl.yaml").write_text(
        f"docker:\n  enabled: false\nports: {{mysql: {mysql}, redis: {redis}, search: {search}}}\n"
    )
    settings = load_settings(None, environ={}, cwd=tmp_path)
    secrets = Secrets({"EVENTS_DB_PASSWORD": "events-secret-123456", "REDIS_PASSWORD": "redis-secret-1234567"})
    started = time.monotonic()
    servers = versions(settings, secrets, timeout=1.0).servers
    assert servers is not None and time.monotonic() - started < 10
    assert [server.name for server in servers] == ["MySQL", "Redis", "search"]
    assert all(server.version is None and server.detail for server in servers)
    assert "refused" in servers[2].detail or "unreachable" in servers[2].detail
    assert not any("secret" in server.detail for server in servers)
