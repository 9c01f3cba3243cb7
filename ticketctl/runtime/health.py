"""Waiting for a started container to become healthy, shared by ``up`` and ``restart``.

A container is ready when it runs and its healthcheck says ``healthy`` (or it
has none). The wait fails at once, without spending the rest of the budget,
when the container exits, is being restarted by its restart policy, or turns
``unhealthy``; the failure carries the container's last log lines and health
output (secrets masked) so that the CLI can show why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from ticketctl.config.masking import scrub_known
from ticketctl.errors import DockerError, UnhealthyError
from ticketctl.runtime.docker import Container
from ticketctl.stack.types import Healthcheck

# How often a starting container is inspected for its health: a service is seen healthy at most
# this long after the Engine says so. One inspect is about 1 ms of client CPU on a local Engine.
POLL_SECONDS = 0.1
NO_HEALTHCHECK_BUDGET = 30.0
LOG_LINES = 20


class ServiceFailedError(UnhealthyError):
    """A service exited, turned unhealthy or timed out; carries its last logs and health output."""

    def __init__(
        self, service: str, reason: str, *, logs: Sequence[str] = (), health_output: str = "", hint: str | None = None
    ):
        last = next((line for line in reversed(logs) if line.strip()), "")
        message = f"{service}: {reason}" + (f"; last log line: {last.strip()[:200]}" if last else "")
        super().__init__(
            message,
            hint=hint
            or "fix the cause shown in its logs and run `ticketctl up` again "
            "(--keep-on-failure keeps the containers for `docker logs`)",
        )
        self.service = service
        self.reason = reason
        self.logs = tuple(logs)
        self.health_output = health_output


class NotHealthy(Exception):
    """The container will not become healthy (``timed_out`` False) or did not in time."""

    def __init__(self, container: Container, reason: str, *, timed_out: bool = False):
        super().__init__(reason)
        self.container = container
        self.reason = reason
        self.timed_out = timed_out


class WaitCancelled(Exception):
    """The caller asked the wait to stop (another service failed, or Ctrl-C)."""


def health_budget(healthcheck: Healthcheck | None) -> float:
    """Seconds to wait for a service: a little over what Docker needs to call it unhealthy."""
    return healthcheck.budget + 10 if healthcheck is not None else NO_HEALTHCHECK_BUDGET


def wait_healthy(
    container: Container,
    deadline: float,
    *,
    stop: threading.Event | None = None,
    on_change: Callable[[str | None], None] | None = None,
    while_starting: Callable[[Container], None] | None = None,
) -> Container:
    """Poll ``container`` until it is healthy (returned), will not be (NotHealthy), or ``deadline`` passes.

    ``while_starting`` is called at each poll while the container runs but is not healthy yet; what it
    raises ends the wait (``up`` tries a login there that can tell sooner than the healthcheck).
    """
    stop = stop or threading.Event()
    restarts = container.restart_count
    last_health: str | None = "?"
    while True:
        if stop.is_set():
            raise WaitCancelled()
        current = container.reload()
        if current.state in ("exited", "dead"):
            raise NotHealthy(current, f"exited with code {current.exit_code} while starting")
        if current.state == "restarting" or current.restart_count > restarts:
            code = f" with code {current.exit_code}" if current.state == "restarting" else ""
            raise NotHealthy(current, f"exited{code} while starting and is being restarted")
        if current.has_healthcheck and current.health == "unhealthy":
            raise NotHealthy(current, "turned unhealthy")
        if current.state == "running" and (current.health == "healthy" or not current.has_healthcheck):
            return current
        if current.state == "running" and while_starting is not None:
            while_starting(current)
        if current.health != last_health:
            if on_change is not None:
                on_change(current.health)
            last_health = current.health
        now = time.monotonic()
        if now >= deadline:
            raise NotHealthy(current, f"health: {current.health or current.state}", timed_out=True)
        stop.wait(min(POLL_SECONDS, max(0.0, deadline - now)))


def failed(service: str, container: Container, reason: str, *, hint: str | None = None) -> ServiceFailedError:
    """The error for a service that failed, with its last log lines and health output, secrets masked."""
    try:
        logs = [scrub_known(line) for line in container.last_log_lines(LOG_LINES)]
    except DockerError:
        logs = []
    return ServiceFailedError(service, reason, logs=logs, health_output=scrub_known(container.health_output), hint=hint)
