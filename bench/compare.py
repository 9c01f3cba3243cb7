"""Before/after of one ticketctl command: two installs, interleaved rounds, medians and same-round ratios.

    .venv/bin/python -m bench.compare --before /var/tmp/ticketctl-bench/ab/venv-before \
        --cwd /var/tmp/ticketctl-bench/work/tkb/stacks/ticketctl --runs 30 -- up --no-init

runs ``<before>/bin/ticketctl ARGS`` and ``<this venv>/bin/ticketctl ARGS``
alternately in ``--cwd`` (the order flips every round), each in a
fresh process with the bench's clean environment, and prints wall time, user +
system CPU and peak RSS of both. ``bench/README.md`` says how to make the
``before`` install from an older commit.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench.measure import Command, Stats, clean_environment, format_range, format_seconds, pairwise_ratios, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="virtualenv with the older ticketctl")
    parser.add_argument("--after", type=Path, default=Path(sys.executable).parent.parent, help="default: this one")
    parser.add_argument("--cwd", type=Path, default=Path(os.getcwd()), help="where to run (default: here)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--expect", type=int, action="append", help="accepted exit codes (default 0)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="-- then ticketctl's arguments")
    options = parser.parse_args(argv)
    args = [a for a in options.args if a != "--"] if options.args[:1] == ["--"] else options.args
    env = clean_environment()
    cwd = options.cwd.resolve()
    commands = {
        "before": Command((str(options.before / "bin" / "ticketctl"), *args), cwd, env, "before"),
        "after": Command((str(options.after / "bin" / "ticketctl"), *args), cwd, env, "after"),
    }
    expect = tuple(options.expect or [0])
    for command in commands.values():  # warm-up: bytecode caches, page cache
        run([command], expect=expect)
    wall: dict[str, list[float]] = {"before": [], "after": []}
    rss: dict[str, list[float]] = {"before": [], "after": []}
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    order = ["before", "after"]
    for _ in range(options.runs):
        for name in order:
            sample, _ = run([commands[name]], expect=expect)
            wall[name].append(sample.seconds)
            rss[name].append(sample.rss_kb / 1024)
            cpu[name].append(sample.cpu_seconds)
        order.reverse()
    print(f"ticketctl {' '.join(args)}  ({options.runs} interleaved rounds, {cwd})")
    for name in ("before", "after"):
        stats = Stats.of(wall[name])
        print(
            f"  {name:<6} median {format_seconds(stats.median):>8}  min–max {format_range(stats):>19}  "
            f"CPU {format_seconds(Stats.of(cpu[name]).median):>8}  peak RSS {Stats.of(rss[name]).median:.0f} MB"
        )
    ratios = Stats.of(pairwise_ratios(wall["before"], wall["after"]))
    print(f"  before ÷ after: median {ratios.median:.2f}× (min–max {ratios.low:.2f}–{ratios.high:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
