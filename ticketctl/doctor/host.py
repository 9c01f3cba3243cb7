"""Host checks that need no server: the kernel setting the search engine needs."""

from __future__ import annotations

from pathlib import Path

from ticketctl.doctor.core import Check, CheckContext, Outcome

MIN_MAX_MAP_COUNT = 262144
MAX_MAP_COUNT_FILE = Path("/proc/sys/vm/max_map_count")


def check_max_map_count(context: CheckContext) -> Outcome:
    """vm.max_map_count >= 262144, read on this host (the Docker check reads it inside the VM)."""
    try:
        value = int(MAX_MAP_COUNT_FILE.read_text().strip())
    except (OSError, ValueError):
        return Outcome.skip("skipped: /proc/sys/vm/max_map_count is not readable here (not Linux)")
    return judge_max_map_count(value, "this host")


def judge_max_map_count(value: int, where: str) -> Outcome:
    if value >= MIN_MAX_MAP_COUNT:
        return Outcome.ok(f"vm.max_map_count is {value} on {where}", value=value)
    # A single-node search engine skips its bootstrap checks and starts anyway, but may fail
    # later with "max virtual memory areas too low" once indices grow: a warning, not a failure.
    return Outcome.warn(
        f"vm.max_map_count is {value} on {where}; the search engine wants at least {MIN_MAX_MAP_COUNT}",
        f"sudo sysctl -w vm.max_map_count={MIN_MAX_MAP_COUNT} (persist it in /etc/sysctl.d/99-search.conf)",
        value=value,
    )


CHECKS = [
    Check(
        "host.max_map_count",
        "vm.max_map_count is high enough for the search engine",
        check_max_map_count,
        needs_docker=True,
    ),
]
