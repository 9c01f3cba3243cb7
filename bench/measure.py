"""Timing and peak memory of real processes, and the statistics the report prints.

Every measured command is a fresh process. Its wall time is taken around
``fork``/``exec`` and ``wait``; its peak memory is the ``%M`` (maximum resident
set) of GNU time (Debian's ``time`` package), which starts it. The command is
not forked from this Python process directly because Linux keeps the parent's
high-water mark across ``exec``: ``ru_maxrss`` of a child of a 100 MB process
is never below 100 MB. Commands that run side by side (one peer process per
database) are timed until the last one ends; their memory is reported both as
the largest single process and as the sum.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CommandFailed(RuntimeError):
    """A measured command exited with an unexpected code; the message carries its output's tail."""


@dataclass
class Sample:
    """One measured execution."""

    seconds: float
    rss_kb: int  # peak resident set of the largest process
    rss_sum_kb: int  # sum of the peaks of processes that ran side by side
    code: int
    cpu_seconds: float = 0.0  # user + system time of every process (less sensitive to a busy machine)
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """A command line with its working directory and environment."""

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    display: str  # what RESULTS.md shows (secrets masked, paths shortened)


@dataclass
class Finished:
    code: int
    rss_kb: int
    cpu_seconds: float
    output: str


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of measured commands: this one without ticketctl settings or bytecode suppression.

    ``PYTHONDONTWRITEBYTECODE`` (set in some shells) would make every Python
    start recompile its own sources, which no installed tool does.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not (key.startswith("TICKETCTL_") and not key.startswith("TICKETCTL_TEST_"))
        and key not in ("PYTHONDONTWRITEBYTECODE", "DOCKER_DEFAULT_PLATFORM", "COMPOSE_PROJECT_NAME", "COMPOSE_FILE")
    }
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


GNU_TIME = "/usr/bin/time"


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    output: Any  # a NamedTemporaryFile: stdout and stderr
    memory: Path  # GNU time's -o file: peak RSS (KiB), user and system seconds


def _spawn(command: Command) -> _Running:
    output = tempfile.NamedTemporaryFile(prefix="tkb-out-")  # noqa: SIM115 - closed by _reap
    memory = Path(tempfile.mkstemp(prefix="tkb-rss-")[1])
    process = subprocess.Popen(
        (GNU_TIME, "--quiet", "--format=%M %U %S", f"--output={memory}", "--", *command.argv),
        cwd=command.cwd,
        env=dict(command.env),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return _Running(process, output, memory)


def _reap(running: _Running, timeout: float) -> Finished:
    process, output = running.process, running.output

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    try:
        process.wait()
    finally:
        watchdog.cancel()
    output.seek(0)
    text = output.read().decode("utf-8", "replace")
    output.close()
    fields = running.memory.read_text().split()
    running.memory.unlink()
    try:
        rss_kb, user, system = int(fields[-3]), float(fields[-2]), float(fields[-1])
    except (IndexError, ValueError):  # killed before GNU time could write
        rss_kb, user, system = 0, 0.0, 0.0
    return Finished(process.returncode, rss_kb, user + system, text)


def run(
    commands: Sequence[Command],
    *,
    expect: Sequence[int] = (0,),
    timeout: float = 900.0,
    sequential: bool = False,
) -> tuple[Sample, list[Finished]]:
    """Run ``commands`` side by side (or one after another) and return the wall time until the last one ended."""
    started = time.perf_counter()
    if sequential:
        finished = [_reap(_spawn(command), timeout) for command in commands]
    else:
        spawned = [_spawn(command) for command in commands]
        finished = [_reap(running, timeout) for running in spawned]
    seconds = time.perf_counter() - started
    for command, result in zip(commands, finished, strict=True):
        if result.code not in expect:
            tail = "\n".join(result.output.strip().splitlines()[-25:])
            raise CommandFailed(f"`{command.display}` exited {result.code} (expected {list(expect)}):\n{tail}")
    sample = Sample(
        seconds=seconds,
        rss_kb=max(result.rss_kb for result in finished),
        # One after another, the processes never hold their memory at the same time.
        rss_sum_kb=max(result.rss_kb for result in finished) if sequential else sum(r.rss_kb for r in finished),
        code=max(result.code for result in finished),
        cpu_seconds=sum(result.cpu_seconds for result in finished),
    )
    return sample, finished


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Stats:
    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            return cls(float("nan"), float("nan"), float("nan"), 0)
        return cls(statistics.median(values), min(values), max(values), len(values))


def pairwise_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Ratios of samples taken in the same round (the i-th of each), so that a noisy moment hits both."""
    return [a / b for a, b in zip(numerators, denominators, strict=False) if b > 0]


def format_seconds(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def format_range(stats: Stats) -> str:
    if stats.count == 0:
        return "n/a"
    return f"{format_seconds(stats.low)} – {format_seconds(stats.high)}"
