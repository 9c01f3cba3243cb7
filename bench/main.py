"""``bench/run``: ticketctl and the tools users would pick instead, on the same work, in the same run.

Sections (``--only`` selects some):

- ``startup``: cold processes: ``ticketctl --help``, ``ticketctl render``; the Compose peers' ``--help``
  and ``config -q`` on their file for reference.
- ``migrate``: no-op on the three databases (the repository's schemas), then N and 2N generated
  migrations per database applied to fresh databases, and the no-op on top of them;
  ticketctl vs Flyway vs golang-migrate on the same SQL files, the test MariaDB. The peers
  handle one database per process: their three processes run one after another (the
  headline: on two cores, three side by side contend for the CPUs) and side by side.
- ``stack``: cold ``up`` to all healthy, no-op ``up`` on a healthy stack, ``doctor`` all green
  and with one server paused or stopped; ticketctl vs docker-compose 1.29 vs Compose v2, each on its
  own Compose project built from the same ``ticketctl render`` output.
- ``plan``: ``plan`` on the healthy ticketctl stack beside a no-op ``up`` on the same stack (with
  and without the initialisation), and ``migrate drift`` of its three databases.
- ``seed`` and ``sync``: ``ticketctl seed`` vs the ``mariadb`` client's LOAD DATA LOCAL INFILE of the
  same rows, ``ticketctl index sync --full`` vs ``curl`` posting the same documents to ``_bulk``
  (:mod:`bench.data`).
- ``snapshot``: ``snapshot save`` vs ``mysqldump`` of the three databases, and ``snapshot restore``
  vs the rebuild a user would otherwise do (``down --volumes``, ``up``, load the same data), on a
  stack of its own loaded with 1,000,000 seats and 100,000 indexed events (quick: 20,000 and 2,000).

Measured commands are interleaved round by round (the order rotates), so a
ratio is taken between samples of the same round. Each command runs once
untimed first (bytecode caches, page cache).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import data as data_sections
from bench import migrations as mig
from bench import peers as peers_module
from bench import report, snapshots, stacks
from bench.measure import Command, CommandFailed, Sample, clean_environment, run

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("startup", "migrate", "cold", "noop", "plan", "doctor", "seed", "sync", "snapshot")
STACK_SECTIONS = ("startup", "cold", "noop", "plan", "doctor")  # the sections that need the three Compose stacks
PEER_SECTIONS = ("startup", "migrate", "cold", "noop", "plan", "doctor")  # ... and Compose, Flyway, golang-migrate
BEFORE = "ticketctl (before)"  # the tool of --before series: shown with a ratio before ÷ after
# Databases each: ticketctl, Flyway, golang-migrate, ticketctl --before (migrate); seed (ticketctl, its
# --method insert, the mariadb client) and sync.
TOOLS_DB = ("tc", "fw", "gm", "tb", "sd", "si", "sp", "sy")
DOCTOR_EXIT_FAILED = 18
DOCTOR_TIMEOUT = 3.0  # ticketctl doctor's default --timeout


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- results model


@dataclass
class Series:
    """One command (or group of commands run side by side) measured round after round."""

    key: str
    tool: str
    label: str
    commands: list[str]
    samples: list[Sample] = field(default_factory=list)


@dataclass
class Measure:
    """One thing measured for ticketctl and its peers; ratios are taken against ``baseline``."""

    key: str
    title: str
    target: str
    baseline: str  # key of ticketctl's series
    short: str  # the chart's name for it
    series: list[Series] = field(default_factory=list)
    other_baselines: list[str] = field(default_factory=list)  # more ticketctl series that peers are divided by

    def add(self, key: str, tool: str, label: str, commands: list[str]) -> Series:
        series = Series(f"{self.key}.{key}", tool, label, commands)
        self.series.append(series)
        return series

    def get(self, key: str) -> Series:
        for series in self.series:
            if series.key == f"{self.key}.{key}" or series.key == key:
                return series
        raise KeyError(key)


@dataclass
class Results:
    started: str
    quick: bool
    machine: dict[str, str]
    versions: dict[str, str]
    derivations: dict[str, list[str]] = field(default_factory=dict)
    rejections: dict[str, dict[str, str]] = field(default_factory=dict)  # tool: command, outcome, output
    measures: list[Measure] = field(default_factory=list)
    duration_seconds: float = 0.0
    load_after: str = ""
    # Runs of some sections added to this one with --add-to: when, how long, the load, the commit.
    added: list[dict[str, str]] = field(default_factory=list)

    def measure(self, key: str, title: str, target: str, baseline: str, short: str) -> Measure:
        measure = Measure(key, title, target, f"{key}.{baseline}", short)
        self.measures.append(measure)
        return measure


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    quick: bool
    runs: int  # cheap commands: startup, no-op migrate, no-op up, doctor all green
    runs_cold: int
    runs_apply: int
    runs_down: int
    runs_data: int
    seed_size: tuple[int, int]  # events, seats per event
    sync_events: int
    sizes: tuple[int, int]
    cache: Path
    out: Path
    port_base: int
    prefix: str
    sections: tuple[str, ...]
    keep: bool
    before: Path | None
    before_label: str
    report_from: Path | None
    add_to: Path | None

    @property
    def work(self) -> Path:
        return self.cache / "work" / self.prefix


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few runs and small N (the test's mode)")
    parser.add_argument("--runs", type=int, help="rounds of the cheap measures (default 15, quick 3)")
    parser.add_argument("--cold-runs", type=int, help="rounds of cold up (default 3, quick 1)")
    parser.add_argument("--apply-runs", type=int, help="rounds of each migration apply (default 3, quick 1)")
    parser.add_argument("--data-runs", type=int, help="rounds of seed and sync (default 3, quick 1)")
    parser.add_argument(
        "--seed-size", help="seed: EVENTSxSEATS, events × seats per event (default 1000x1000, quick 100x100)"
    )
    parser.add_argument("--sync-events", type=int, help="sync: events in the index (default 100000, quick 2000)")
    parser.add_argument("--sizes", help="generated migrations per database, two sizes (default 200,400; quick 20,40)")
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("TICKETCTL_BENCH_CACHE", "/var/tmp/ticketctl-bench")),
        help="downloads, builds, generated migrations, stack folders (outside the repository)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench", help="where RESULTS.md, ratios.png go")
    parser.add_argument(
        "--port-base",
        type=int,
        default=62000,
        help="host ports: four blocks of 100 from here (default 62000: above Linux's ephemeral range 32768-60999)",
    )
    parser.add_argument("--prefix", default="tkb", help="prefix of projects, databases and users")
    parser.add_argument("--keep", action="store_true", help="leave the stacks, databases and users in place")
    parser.add_argument(
        "--before", type=Path, help="virtualenv of an older ticketctl: measured beside this one (before/after of fixes)"
    )
    parser.add_argument("--before-label", default="before", help="its name in the tables, e.g. 'main d31129c'")
    parser.add_argument(
        "--add-to",
        type=Path,
        help="an earlier run's results.json: the sections measured now replace theirs in it (the rest is kept), "
        "and RESULTS.md is written from the whole",
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        help="write RESULTS.md and the chart again from a run's results.json, measure nothing",
    )
    args = parser.parse_args(argv)
    default_sizes = (20, 40) if args.quick else (200, 400)
    sizes = tuple(int(part) for part in args.sizes.split(",")) if args.sizes else default_sizes
    if len(sizes) != 2:
        parser.error("--sizes takes two numbers, e.g. 200,400")
    seed_text = args.seed_size or ("100x100" if args.quick else "1000x1000")
    try:
        events, seats = (int(part) for part in seed_text.lower().split("x"))
    except ValueError:
        parser.error(f"--seed-size: {seed_text!r} is not EVENTSxSEATS, e.g. 1000x1000")
    seed_size = (events, seats)
    sections = tuple(args.only.split(",")) if args.only else SECTIONS
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if not 1024 <= args.port_base <= 65535 - 400:
        parser.error("--port-base must leave room for four blocks of 100 ports")
    return Config(
        quick=args.quick,
        runs=args.runs or (3 if args.quick else 15),
        runs_cold=args.cold_runs or (1 if args.quick else 3),
        runs_apply=args.apply_runs or (1 if args.quick else 3),
        runs_down=1 if args.quick else 3,
        runs_data=args.data_runs or (1 if args.quick else 3),
        seed_size=seed_size,
        sync_events=args.sync_events or (2_000 if args.quick else 100_000),
        sizes=(sizes[0], sizes[1]),
        cache=args.cache.resolve(),
        out=args.out.resolve(),
        port_base=args.port_base,
        prefix=args.prefix,
        sections=sections,
        keep=args.keep,
        before=args.before.resolve() if args.before else None,
        before_label=args.before_label,
        report_from=args.report_from.resolve() if args.report_from else None,
        add_to=args.add_to.resolve() if args.add_to else None,
    )


# --------------------------------------------------------------------------- helpers


def rounds(runs: int, entries: list[tuple[Series, Callable[[], Sample]]], *, warmup: bool = True) -> None:
    """Run each entry once per round, rotating the order; one untimed warm-up round first."""
    if warmup:
        for _, measure_once in entries:
            measure_once()
    for round_index in range(runs):
        shift = round_index % len(entries)
        for series, measure_once in entries[shift:] + entries[:shift]:
            series.samples.append(measure_once())
    for series, _ in entries:
        log(f"  {series.label}: {report.summary(series)}")


def machine_info() -> dict[str, str]:
    cpu = "?"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    os_name = "?"
    with suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "CPU": f"{cpu}, {os.cpu_count()} logical CPU(s)",
        "Memory": memory,
        "OS": f"{os_name}, kernel {platform.release()}",
        "Python": f"{platform.python_version()} ({sys.executable})",
        "ticketctl": f"{_ticketctl_version()} at commit {commit or '?'} (editable install in .venv)",
        "Load average at start": load_average(),
    }


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _ticketctl_version() -> str:
    from ticketctl import __version__

    return __version__


def engine_versions() -> dict[str, str]:
    engine = stacks.client()
    version = engine.version()
    return {"Docker Engine": f"{version.get('Version')} (API {version.get('ApiVersion')})"}


# --------------------------------------------------------------------------- section: startup


def section_startup(cfg: Config, results: Results, env: Environment) -> None:
    log("startup: cold processes")
    empty = cfg.work / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    tc, v1, v2 = env.stack("ticketctl"), env.stack("compose-v1"), env.stack("compose-v2")

    measure = results.measure("startup.help", "`ticketctl --help` (cold process)", "≤ 150 ms", "ticketctl", "--help")
    help_command = [env.command([env.ticketctl, "--help"], empty)]
    rounds(
        cfg.runs,
        [
            entry(measure, "ticketctl", "ticketctl", "ticketctl --help", help_command),
            *env.before_entries(measure, "ticketctl --help", [env.before or "", "--help"], empty),
            entry(
                measure,
                "compose-v1",
                "docker-compose 1.29",
                "docker-compose --help (1.29)",
                [env.command([env.peers.compose_v1, "--help"], empty)],
            ),
            entry(
                measure,
                "compose-v2",
                "Compose v2",
                "docker compose --help (v2)",
                [env.command([env.peers.compose_v2, "--help"], empty)],
            ),
        ],
    )

    measure = results.measure(
        "startup.render",
        "`ticketctl render` (cold process, files unchanged; the peers' `config -q` for reference)",
        "≤ 150 ms",
        "ticketctl",
        "render",
    )
    render_command = [env.command([env.ticketctl, "render"], tc.folder)]
    rounds(
        cfg.runs,
        [
            entry(measure, "ticketctl", "ticketctl", "ticketctl render", render_command),
            *env.before_entries(measure, "ticketctl render", [env.before or "", "render"], tc.folder),
            entry(
                measure,
                "compose-v1",
                "docker-compose 1.29",
                "docker-compose config -q (1.29)",
                [env.command(env.compose(v1, "config", "-q"), v1.folder)],
            ),
            entry(
                measure,
                "compose-v2",
                "Compose v2",
                "docker compose config -q (v2)",
                [env.command(env.compose(v2, "config", "-q"), v2.folder)],
            ),
        ],
    )


# --------------------------------------------------------------------------- section: migrate


MIGRATE_TOOLS = {  # key: (tool name, databases)
    "ticketctl": ("ticketctl", "tc"),
    "before": (BEFORE, "tb"),
    "flyway-sequential": ("Flyway", "fw"),
    "flyway": ("Flyway", "fw"),
    "flyway-other-jvm": ("Flyway", "fw"),
    "golang-migrate-sequential": ("golang-migrate", "gm"),
    "golang-migrate": ("golang-migrate", "gm"),
}
# A peer's series whose three processes run one after another; the others run them side by side.
SEQUENTIAL = "-sequential"
MIGRATE_PEERS = ("flyway-sequential", "flyway", "golang-migrate-sequential", "golang-migrate")


def migrate_commands(cfg: Config, env: Environment, migrations: mig.MigrationSet, tool: str) -> list[Command]:
    """One migrate of the three databases by ``tool``: one ticketctl process, or one peer process per database."""
    server = env.server
    folder = cfg.work / "migrate"
    folder.mkdir(parents=True, exist_ok=True)
    dbs = mig.Databases(server, cfg.prefix, MIGRATE_TOOLS[tool][1])
    if tool in ("ticketctl", "before"):
        settings = {"TICKETCTL_MYSQL__HOST": server.host, "TICKETCTL_MYSQL__PORT": str(server.port)}
        for key in mig.DATABASE_KEYS:
            settings[f"TICKETCTL_MYSQL__{key.upper()}__NAME"] = dbs.name(key)
            settings[f"TICKETCTL_MYSQL__{key.upper()}__USER"] = dbs.user(key)
            settings[f"{key.upper()}_DB_PASSWORD"] = dbs.password(key)
        binary = env.before if tool == "before" and env.before else env.ticketctl
        argv = [binary, "migrate", "--schemas-dir", migrations.versioned]
        return [env.command(argv, folder, settings=settings, secrets=[dbs.password(k) for k in mig.DATABASE_KEYS])]
    commands = []
    for key in mig.DATABASE_KEYS:
        if tool.startswith("flyway"):
            java = env.peers.flyway_other_java if tool == "flyway-other-jvm" else None
            argv = [
                *env.peers.flyway_argv(java),
                f"-url=jdbc:mariadb://{server.host}:{server.port}/{dbs.name(key)}",
                f"-user={dbs.user(key)}",
                f"-password={dbs.password(key)}",
                f"-locations=filesystem:{migrations.versioned / key}",
                "migrate",
            ]
        else:
            url = (
                f"mysql://{dbs.user(key)}:{dbs.password(key)}@tcp({server.host}:{server.port})/"
                f"{dbs.name(key)}?multiStatements=true"
            )
            argv = [env.peers.migrate, "-source", f"file://{migrations.golang_migrate / key}", "-database", url, "up"]
        commands.append(env.command(argv, folder, secrets=[dbs.password(key)]))
    return commands


def migrate_label(env: Environment, tool: str) -> str:
    if tool == "ticketctl":
        return "ticketctl migrate"
    if tool == "before":
        return f"ticketctl migrate ({env.before_label})"
    how = "one after another" if tool.endswith(SEQUENTIAL) else "side by side"
    if tool.startswith("flyway"):
        java = env.peers.flyway_other_java if tool == "flyway-other-jvm" else env.peers.flyway_java
        return f"Flyway migrate, 3 processes {how} ({peers_module.jvm_name(java)})"
    return f"golang-migrate up, 3 processes {how}"


def migrate_entry(
    cfg: Config, env: Environment, measure: Measure, migrations: mig.MigrationSet, tool: str
) -> tuple[Series, Callable[[], Sample]]:
    commands = migrate_commands(cfg, env, migrations, tool)
    label = migrate_label(env, tool)
    return entry(measure, tool, MIGRATE_TOOLS[tool][0], label, commands, sequential=tool.endswith(SEQUENTIAL))


def section_migrate(cfg: Config, results: Results, env: Environment) -> None:
    log("migrate: no-op on the repository's schemas")
    schemas = mig.prepare_schemas(cfg.cache, REPO / "schemas")
    tools = ["ticketctl", *MIGRATE_PEERS]
    before = ["before"] if env.before else []
    for tool in ["ticketctl", "flyway", "golang-migrate", *before]:  # each tool brings its databases to V001
        mig.Databases(env.server, cfg.prefix, MIGRATE_TOOLS[tool][1]).recreate()
        run(migrate_commands(cfg, env, schemas, tool))
    measure = results.measure(
        "migrate.noop",
        f"`migrate` no-op, 3 databases ({schemas.versions} applied versions in all)",
        "≤ 300 ms; faster than Flyway and golang-migrate",
        "ticketctl",
        "migrate no-op",
    )
    other_jvm = ["flyway-other-jvm"] if env.peers.flyway_other_java else []
    rounds(cfg.runs, [migrate_entry(cfg, env, measure, schemas, tool) for tool in tools + other_jvm + before])

    for size in cfg.sizes:
        generated = mig.prepare_generated(cfg.cache, size)
        log(f"migrate: apply {size} generated migrations per database on fresh databases")
        measure = results.measure(
            f"migrate.apply.{size}",
            f"`migrate` apply, {size} generated migrations per database (3 databases, fresh)",
            "report the ratio; linear in N",
            "ticketctl",
            f"migrate apply {size}/db",
        )
        entries = []
        for tool in tools + before:
            series, _ = migrate_entry(cfg, env, measure, generated, tool)
            dbs = mig.Databases(env.server, cfg.prefix, MIGRATE_TOOLS[tool][1])
            commands = migrate_commands(cfg, env, generated, tool)
            entries.append((series, apply_once(commands, dbs, size, sequential=tool.endswith(SEQUENTIAL))))
        rounds(cfg.runs_apply, entries, warmup=False)

        measure = results.measure(
            f"migrate.noop.{size}",
            f"`migrate` no-op, 3 databases with {size} applied versions each",
            "report",
            "ticketctl",
            f"migrate no-op at {size}/db",
        )
        rounds(cfg.runs, [migrate_entry(cfg, env, measure, generated, tool) for tool in tools + before])


def apply_once(commands: list[Command], dbs: mig.Databases, size: int, *, sequential: bool) -> Callable[[], Sample]:
    """Fresh (empty) databases, then the timed apply, then a check that every generated table exists."""

    def measure_once() -> Sample:
        dbs.recreate()
        sample, _ = run(commands, sequential=sequential)
        for key in mig.DATABASE_KEYS:
            tables = dbs.table_count(key)
            if tables != size:
                raise RuntimeError(f"{dbs.name(key)}: {tables} generated tables after apply, expected {size}")
        return sample

    return measure_once


# --------------------------------------------------------------------------- section: stack


def ensure_stacks_up(env: Environment, *, peers: bool = True) -> None:
    """The three stacks healthy (a no-op when they already are): what the no-op and doctor measures need.

    Without ``peers`` only ticketctl's (the plan measures compare ticketctl with itself).
    """
    tc, v1, v2 = env.stack("ticketctl"), env.stack("compose-v1"), env.stack("compose-v2")
    log("stack: bringing the three stacks up (untimed)" if peers else "stack: bringing ticketctl's stack up (untimed)")
    run([env.command([env.ticketctl, "up"], tc.folder)])
    if peers:
        run([env.command(env.compose(v1, "up", "-d"), v1.folder)])
        run([env.command(env.compose(v2, "up", "-d", "--wait"), v2.folder)])
    for stack in (tc, v1, v2) if peers else (tc,):
        stacks.wait_healthy(env.engine, stack.project, stacks.SERVICES, timeout=300)


def section_cold(cfg: Config, results: Results, env: Environment) -> None:
    tc, v1, v2 = env.stack("ticketctl"), env.stack("compose-v1"), env.stack("compose-v2")
    log("cold: up to all healthy (every bench project removed, volumes too, before each)")
    cold = results.measure(
        "up.cold",
        "cold `up` to all healthy (local images, no containers or volumes)",
        "overhead ≤ 1 s beyond the slowest service's own ready time",
        "ticketctl",
        "cold up",
    )

    def cold_entry(key: str, tool: str, label: str, stack: stacks.Stack, command: Command, wait: bool) -> Any:
        series = cold.add(key, tool, label, [command.display])
        return (series, lambda: cold_up(env, stack, command, wait_for_events=wait))

    entries = [
        cold_entry(
            "ticketctl", "ticketctl", "ticketctl up --no-init", tc, env.ticketctl_command(tc, "up", "--no-init"), False
        ),
        cold_entry(
            "ticketctl-init",
            "ticketctl",
            "ticketctl up (+ migrations, search index)",
            tc,
            env.ticketctl_command(tc, "up"),
            False,
        ),
        cold_entry(
            "compose-v1",
            "docker-compose 1.29",
            "docker-compose up -d (1.29) + health events",
            v1,
            env.command(env.compose(v1, "up", "-d"), v1.folder),
            True,
        ),
        cold_entry(
            "compose-v2",
            "Compose v2",
            "docker compose up -d --wait (v2)",
            v2,
            env.command(env.compose(v2, "up", "-d", "--wait"), v2.folder),
            False,
        ),
    ]
    if env.before is not None:
        before = env.ticketctl_command(tc, "up", "--no-init", before=True)
        entries.append(cold_entry("before", BEFORE, f"ticketctl up --no-init ({env.before_label})", tc, before, False))
    rounds(cfg.runs_cold, entries, warmup=False)


def section_noop(cfg: Config, results: Results, env: Environment) -> None:
    tc, v1, v2 = env.stack("ticketctl"), env.stack("compose-v1"), env.stack("compose-v2")
    ensure_stacks_up(env)
    log("noop: up on healthy stacks")
    noop = results.measure(
        "up.noop", "no-op `up` on a healthy stack", "≤ 1 s and ≤ 0.5× docker-compose 1.29", "ticketctl", "no-op up"
    )
    noop.other_baselines = ["up.noop.ticketctl-noinit"]
    entries = [
        entry(noop, "ticketctl", "ticketctl", "ticketctl up", [env.ticketctl_command(tc, "up")]),
        entry(
            noop,
            "ticketctl-noinit",
            "ticketctl",
            "ticketctl up --no-init",
            [env.ticketctl_command(tc, "up", "--no-init")],
        ),
        entry(
            noop,
            "compose-v1",
            "docker-compose 1.29",
            "docker-compose up -d (1.29)",
            [env.command(env.compose(v1, "up", "-d"), v1.folder)],
        ),
        entry(
            noop,
            "compose-v2",
            "Compose v2",
            "docker compose up -d (v2)",
            [env.command(env.compose(v2, "up", "-d"), v2.folder)],
        ),
        entry(
            noop,
            "compose-v2-wait",
            "Compose v2",
            "docker compose up -d --wait (v2)",
            [env.command(env.compose(v2, "up", "-d", "--wait"), v2.folder)],
        ),
    ]
    if env.before is not None:
        for key, args in (("before", ("up",)), ("before-noinit", ("up", "--no-init"))):
            label = f"ticketctl {' '.join(args)} ({env.before_label})"
            entries.append(entry(noop, key, BEFORE, label, [env.ticketctl_command(tc, *args, before=True)]))
    rounds(cfg.runs, entries)


def section_plan(cfg: Config, results: Results, env: Environment) -> None:
    tc = env.stack("ticketctl")
    ensure_stacks_up(env, peers=False)
    log("plan: beside a no-op up on the same healthy stack; drift of its three databases")
    plan = results.measure(
        "plan.noop",
        "`plan` on a healthy stack with nothing to do, beside a no-op `up` on the same stack",
        "`plan` ≤ 1.0× the no-op `up`",
        "ticketctl",
        "plan vs no-op up",
    )
    plan.other_baselines = ["plan.noop.ticketctl-noinit"]
    entries = [
        entry(plan, "ticketctl", "ticketctl", "ticketctl plan", [env.ticketctl_command(tc, "plan")]),
        entry(plan, "up", "ticketctl up", "ticketctl up (no-op)", [env.ticketctl_command(tc, "up")]),
        entry(
            plan,
            "ticketctl-noinit",
            "ticketctl",
            "ticketctl plan --no-init",
            [env.ticketctl_command(tc, "plan", "--no-init")],
        ),
        entry(
            plan,
            "up-noinit",
            "ticketctl up",
            "ticketctl up --no-init (no-op)",
            [env.ticketctl_command(tc, "up", "--no-init")],
        ),
    ]
    rounds(cfg.runs, entries)
    drift = results.measure(
        "drift.schema",
        "`migrate drift` of the three databases (three shadow databases created, migrated, compared, dropped)",
        "≤ 1.5 s",
        "ticketctl",
        "migrate drift",
    )
    rounds(
        cfg.runs,
        [
            entry(
                drift,
                "ticketctl",
                "ticketctl",
                "ticketctl migrate drift",
                [env.ticketctl_command(tc, "migrate", "drift")],
            )
        ],
    )


def section_doctor(cfg: Config, results: Results, env: Environment) -> None:
    tc = env.stack("ticketctl")
    ensure_stacks_up(env)
    log("doctor: all green, then one server down")
    doctor = env.ticketctl_command(tc, "doctor")
    settle_until_green(doctor)
    green = results.measure("doctor.green", "`doctor`, all green", "≤ 1 s", "ticketctl", "doctor")
    entries = [entry(green, "ticketctl", "ticketctl", "ticketctl doctor", [doctor])]
    if env.before is not None:
        before = env.ticketctl_command(tc, "doctor", before=True)
        entries.append(entry(green, "before", BEFORE, f"ticketctl doctor ({env.before_label})", [before]))
    rounds(cfg.runs, entries)

    down = results.measure(
        "doctor.down",
        f"`doctor` with one server down (check timeout {DOCTOR_TIMEOUT:g} s)",
        f"≤ check timeout + 0.5 s = {DOCTOR_TIMEOUT + 0.5:g} s",
        "paused-mysql",
        "doctor, one down",
    )
    entries = []
    for service, how in [*((service, "pause") for service in stacks.SERVICES), ("redis", "stop")]:
        state = "paused" if how == "pause" else "stopped"
        shown = [f"docker {how} <{service} container>; {doctor.display}"]
        series = down.add(f"{state}-{service}", "ticketctl", f"ticketctl doctor, {service} {state}", shown)
        entries.append((series, with_server_down(env, tc, service, how, doctor)))
    rounds(cfg.runs_down, entries, warmup=False)


def settle_until_green(doctor: Command, *, budget: float = 120.0) -> None:
    """Untimed ``doctor`` runs until it is green: "all green" is the measure's precondition, not its result.

    Right after ``up`` a search engine's first ``_analyze`` can take longer than
    the check timeout on a loaded machine; that first call is not what the
    measure is about. A stack still red after ``budget`` seconds fails the run.
    """
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        sample, _ = run([doctor], expect=(0, DOCTOR_EXIT_FAILED))
        if sample.code == 0:
            return
        time.sleep(2)
    run([doctor])  # raises CommandFailed with doctor's own lines


def entry(
    measure: Measure,
    key: str,
    tool: str,
    label: str,
    commands: list[Command],
    *,
    expect: tuple[int, ...] = (0,),
    sequential: bool = False,
) -> tuple[Series, Callable[[], Sample]]:
    """A series of ``measure`` whose sample is one run of ``commands`` (side by side when several, or in turn)."""
    series = measure.add(key, tool, label, [command.display for command in commands])

    def measure_once() -> Sample:
        sample, _ = run(commands, expect=expect, sequential=sequential)
        return sample

    return series, measure_once


def cold_up(env: Environment, stack: stacks.Stack, command: Command, *, wait_for_events: bool) -> Sample:
    """From no container and no volume of any bench stack to all of ``stack`` healthy."""
    for other in env.stacks.values():
        stacks.remove_project(env.engine, other.project)
    watch = stacks.HealthWatch(env.engine, stack.project)
    try:
        started_at = time.time()
        sample, _ = run([command])
        if wait_for_events:  # the fastest possible waiter: the Engine's own events
            sample.seconds = watch.wait(stacks.SERVICES, timeout=300) - started_at
        else:  # the tool waited itself; its events are there or on their way
            watch.wait(stacks.SERVICES, timeout=30)
        sample.extra = watch.readiness(stacks.SERVICES, started_at, sample.seconds)
        return sample
    finally:
        watch.close()


def with_server_down(
    env: Environment, stack: stacks.Stack, service: str, how: str, doctor: Command
) -> Callable[[], Sample]:
    """``doctor`` while one container is paused (it accepts connections and never answers) or stopped."""

    def measure_once() -> Sample:
        container = stacks.project_container(env.engine, stack.project, service)
        if how == "pause":
            container.pause()
        else:
            container.stop(timeout=10)
        try:
            sample, finished = run([doctor], expect=(DOCTOR_EXIT_FAILED,))
        finally:
            if how == "pause":
                container.unpause()
            else:
                container.start()
                stacks.wait_healthy(env.engine, stack.project, (service,), timeout=120)
        failed = [line for line in finished[0].output.splitlines() if line.strip().startswith("✗")]
        sample.extra["failed_checks"] = float(len(failed))
        return sample

    return measure_once


# --------------------------------------------------------------------------- section: snapshot

SNAPSHOT_BASE = "bench-base"


def snapshot_port_base(cfg: Config) -> int:
    """The snapshot stack's block of 100 ports: after the three stacks' blocks when they run, else the first."""
    return cfg.port_base + (100 * len(STACK_TOOLS) if set(cfg.sections) & set(STACK_SECTIONS) else 0)


def section_snapshot(cfg: Config, results: Results, env: Environment) -> None:
    """save vs mysqldump, restore vs the rebuild, on a stack of its own holding the same data every round."""
    data = snapshots.Data(2_000, 20_000, 1_000) if cfg.quick else snapshots.Data(100_000, 1_000_000, 10_000)
    project = project_name(cfg.prefix, "snapshot")
    folder = cfg.work / "stacks" / "snapshot"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    stack = stacks.Stack("ticketctl", project, folder, stacks.Ports.block(snapshot_port_base(cfg)))
    # Elasticsearch (its local image carries the analysis plugin the mapping needs) starts faster than
    # OpenSearch here; a search engine starting on a loaded machine may need more than up's default 300 s.
    document = yaml.safe_load(stacks.settings_yaml(project, stack.ports, env.images))
    document["search"]["engine"] = "elasticsearch"
    document["wait_timeout"] = 900
    (folder / "ticketctl.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    ticketctl = env.ticketctl
    log(f"snapshot: up and load {data.describe()} (untimed)")
    loader = f"PYTHONPATH={REPO} {sys.executable} -m bench.snapshots load {folder} {' '.join(data.argv)}"
    run([env.command(["sh", "-c", f"{ticketctl} up && {loader}"], folder)], timeout=3600)
    run([env.command([ticketctl, "snapshot", "save", SNAPSHOT_BASE], folder)], timeout=1800)

    def without_extra_snapshots(measure_once: Callable[[], Sample]) -> Callable[[], Sample]:
        def measured() -> Sample:
            try:
                return measure_once()
            finally:
                for extra_folder in (folder / "snapshots").iterdir():
                    if extra_folder.name != SNAPSHOT_BASE:
                        shutil.rmtree(extra_folder, ignore_errors=True)

        return measured

    root_password = stacks.env_value(folder, "MYSQL_ROOT_PASSWORD")
    dump = (
        f"docker exec -e MYSQL_PWD {project}-mysql-1 mysqldump -uroot --single-transaction --quick --routines "
        f"--triggers --hex-blob --databases events_db inventory_db bookings_db > {cfg.work}/mysqldump.sql"
    )
    save = results.measure(
        "snapshot.save",
        f"`snapshot save` of the stack ({data.describe()}) vs `mysqldump` of the three databases alone",
        "≤ 1.5× mysqldump's time",
        "ticketctl",
        "snapshot save",
    )
    series, save_once = entry(
        save,
        "ticketctl",
        "ticketctl",
        "ticketctl snapshot save",
        [env.command([ticketctl, "snapshot", "save"], folder)],
    )
    dump_entry = entry(
        save,
        "mysqldump",
        "mysqldump",
        "mysqldump --single-transaction of the 3 databases (docker exec)",
        [env.command(["sh", "-c", dump], folder, settings={"MYSQL_PWD": root_password}, secrets=[root_password])],
    )
    rounds(cfg.runs_cold, [(series, without_extra_snapshots(save_once)), dump_entry])

    restore = results.measure(
        "snapshot.restore",
        f"`snapshot restore` ({data.describe()}) vs the rebuild: `down --volumes --yes`, `up`, load the same data",
        "≤ 0.25× the rebuild's time",
        "ticketctl",
        "snapshot restore",
    )
    series, restore_once = entry(
        restore,
        "ticketctl",
        "ticketctl",
        "ticketctl snapshot restore --yes (safety snapshot first)",
        [env.command([ticketctl, "snapshot", "restore", SNAPSHOT_BASE, "--yes"], folder)],
    )
    fast, fast_once = entry(
        restore,
        "ticketctl-no-backup",
        "ticketctl",
        "ticketctl snapshot restore --yes --no-backup",
        [env.command([ticketctl, "snapshot", "restore", SNAPSHOT_BASE, "--yes", "--no-backup"], folder)],
    )
    rebuild = f"{ticketctl} down --volumes --yes && {ticketctl} up && {loader}"
    rebuild_entry = entry(
        restore,
        "rebuild",
        "rebuild",
        "down --volumes --yes; up; load the same data",
        [env.command(["sh", "-c", rebuild], folder)],
    )
    rounds(
        cfg.runs_cold,
        [(series, without_extra_snapshots(restore_once)), (fast, fast_once), rebuild_entry],
        warmup=False,
    )


# --------------------------------------------------------------------------- environment


@dataclass
class Environment:
    """Everything the sections share: peers, servers, stacks, the ticketctl binary."""

    cfg: Config
    peers: peers_module.Peers
    server: mig.Server
    images: dict[str, str]
    ticketctl: str
    before: str | None = None  # --before: an older ticketctl measured beside this one
    before_label: str = "before"
    stacks: dict[str, stacks.Stack] = field(default_factory=dict)
    _engine: Any = None

    def before_entries(
        self, measure: Measure, label: str, argv: list[str | Path], cwd: Path
    ) -> list[tuple[Series, Callable[[], Sample]]]:
        """The --before series of a measure (none without --before)."""
        if self.before is None:
            return []
        return [entry(measure, "before", BEFORE, f"{label} ({self.before_label})", [self.command(argv, cwd)])]

    def ticketctl_command(self, stack: stacks.Stack, *args: str, before: bool = False) -> Command:
        binary = self.before if before and self.before else self.ticketctl
        return self.command([binary, *args], stack.folder)

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self._engine = stacks.client()
        return self._engine

    def stack(self, tool: str) -> stacks.Stack:
        return self.stacks[tool]

    def compose(self, stack: stacks.Stack, *args: str) -> list[str | Path]:
        binary = self.peers.compose_v1 if stack.tool == "compose-v1" else self.peers.compose_v2
        return [binary, "-f", stack.compose_file, "-p", stack.project, *args]

    def command(
        self,
        argv: list[str | Path],
        cwd: Path,
        *,
        settings: dict[str, str] | None = None,
        secrets: list[str] | None = None,
    ) -> Command:
        """A measured command; its display (for RESULTS.md) has short paths and masked secrets."""
        text = " ".join(str(part) for part in argv)
        for secret in secrets or []:
            text = text.replace(secret, "***")
        names = [
            (str(self.peers.compose_v1), "docker-compose"),
            (str(self.peers.compose_v2), "docker-compose-v2"),
            (self.ticketctl, "ticketctl"),
            *([(self.before, f"ticketctl[{self.before_label}]")] if self.before else []),
            (str(self.peers.migrate), "migrate"),
            (self.peers.flyway_classpath, "$FLYWAY/lib/*"),
        ]
        for long, name in names:
            if long:  # a peer not fetched for this run (Peers.none()) has no path to shorten
                text = text.replace(long, name)
        text = self.short(text)
        where = self.short(str(cwd))
        if settings:
            shown = " ".join(f"{k}={'***' if v in (secrets or []) else v}" for k, v in settings.items())
            text = f"{shown} {text}"
        return Command(tuple(str(part) for part in argv), cwd, clean_environment(settings), f"(cd {where}) {text}")

    def short(self, text: str) -> str:
        for long, abbreviation in ((str(self.cfg.work), "$WORK"), (str(self.cfg.cache), "$CACHE"), (str(REPO), ".")):
            text = text.replace(long, abbreviation)
        return text


def required_environment() -> tuple[mig.Server, dict[str, str]]:
    names = [
        "TICKETCTL_TEST_MYSQL_HOST",
        "TICKETCTL_TEST_MYSQL_PORT",
        "TICKETCTL_TEST_MYSQL_ROOT_USER",
        "TICKETCTL_TEST_MYSQL_ROOT_PASSWORD",
        *(f"TICKETCTL_TEST_IMAGE_{name.upper()}" for name in IMAGE_KEYS),
    ]
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise SystemExit(
            f"bench: {', '.join(missing)} not set: run `scripts/test-services up`, then bench/run "
            "(it loads `scripts/test-services env` itself)"
        )
    server = mig.Server(
        host=os.environ["TICKETCTL_TEST_MYSQL_HOST"],
        port=int(os.environ["TICKETCTL_TEST_MYSQL_PORT"]),
        root_user=os.environ["TICKETCTL_TEST_MYSQL_ROOT_USER"],
        root_password=os.environ["TICKETCTL_TEST_MYSQL_ROOT_PASSWORD"],
    )
    return server, {name: os.environ[f"TICKETCTL_TEST_IMAGE_{name.upper()}"] for name in IMAGE_KEYS}


STACK_TOOLS = ("ticketctl", "compose-v1", "compose-v2")
IMAGE_KEYS = ("mysql", "redis", "elasticsearch", "opensearch", "apps")


def project_name(prefix: str, tool: str) -> str:
    """tkb-tc, tkb-dc1, tkb-dc2: the Compose project of each tool's stack."""
    return f"{prefix}-" + {"ticketctl": "tc", "compose-v1": "dc1", "compose-v2": "dc2", "snapshot": "snap"}[tool]


def prepare_stacks(cfg: Config, results: Results, env: Environment) -> None:
    """Render each stack's files with ticketctl, derive the peers' files, and record what the peers refused."""
    for index, tool in enumerate(STACK_TOOLS):
        project = project_name(cfg.prefix, tool)
        folder = cfg.work / "stacks" / tool
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        ports = stacks.Ports.block(cfg.port_base + 100 * index)
        (folder / "ticketctl.yaml").write_text(stacks.settings_yaml(project, ports, env.images))
        run([env.command([env.ticketctl, "render"], folder)])
        stack = stacks.Stack(tool, project, folder, ports)
        if tool != "ticketctl":
            # Compose v2 accepts the file in `config`; it refuses it only when it creates the containers.
            probe = ("config", "-q") if tool == "compose-v1" else ("up", "--no-start")
            refused = _refusal(env.compose(stack, *probe), folder, "" if tool == "compose-v1" else "start_interval")
            created = len(stacks.project_health(env.engine, project))
            stacks.remove_project(env.engine, project)
            refused["command"] = env.command(env.compose(stack, *probe), folder).display
            refused["outcome"] = f"exit {refused.pop('code')}, {created} container(s) created"
            results.rejections[tool] = refused
            derived = f"docker-compose.{tool.removeprefix('compose-')}.yml"
            derive = stacks.derive_for_compose_v1 if tool == "compose-v1" else stacks.derive_for_compose_v2
            results.derivations[tool] = derive(folder / stack.compose_file, folder / derived)
            stack = stacks.Stack(tool, project, folder, ports, derived)
        env.stacks[tool] = stack


def _refusal(argv: list[str | Path], folder: Path, keep: str) -> dict[str, str]:
    """What a peer said about the file ``ticketctl render`` wrote: its exit code and (error) lines."""
    done = subprocess.run(
        [str(part) for part in argv],
        cwd=folder,
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    lines = [line.rstrip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    if keep:
        lines = sorted({line.strip() for line in lines if keep in line})
    return {"code": str(done.returncode), "output": "\n".join(lines)[-3000:]}


@contextmanager
def databases(cfg: Config, env: Environment) -> Iterator[None]:
    mig.create_users(env.server, cfg.prefix, TOOLS_DB)
    try:
        yield
    finally:
        if not cfg.keep:
            for tool in TOOLS_DB:
                mig.Databases(env.server, cfg.prefix, tool).drop()
            mig.drop_users(env.server, cfg.prefix)


def load_results(path: Path) -> Results:
    """A run's results.json read back (to write RESULTS.md and the chart again without measuring)."""
    raw = json.loads(path.read_text())
    measures = []
    for measure in raw.pop("measures"):
        series = [
            Series(**{**item, "samples": [Sample(**sample) for sample in item["samples"]]})
            for item in measure.pop("series")
        ]
        measures.append(Measure(**measure, series=series))
    return Results(**raw, measures=measures)


MEASURE_PREFIXES = {  # section → the keys of the measures it writes
    "startup": ("startup.",),
    "migrate": ("migrate.",),
    "cold": ("up.cold",),
    "noop": ("up.noop",),
    "doctor": ("doctor.",),
    "seed": ("seed.",),
    "sync": ("sync.",),
    "snapshot": ("snapshot.",),
    "plan": ("plan.", "drift."),
}


def add_to(earlier: Results, now: Results, sections: tuple[str, ...]) -> Results:
    """``earlier`` with the measures of ``sections`` taken from ``now``, and a record of when they were measured."""
    prefixes = tuple(prefix for section in sections for prefix in MEASURE_PREFIXES[section])
    kept = [measure for measure in earlier.measures if not measure.key.startswith(prefixes)]
    earlier.measures = kept + [measure for measure in now.measures if measure.key.startswith(prefixes)]
    earlier.versions.update(now.versions)
    earlier.added.append(
        {
            "sections": ", ".join(sections),
            "started": now.started,
            "minutes": f"{now.duration_seconds / 60:.1f}",
            "load": f"{now.machine.get('Load average at start', '?')} → {now.load_after}",
            "ticketctl": now.machine.get("ticketctl", "?"),
        }
    )
    return earlier


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if cfg.report_from is not None:
        print(report.write(load_results(cfg.report_from), cfg.out, REPO))
        return 0
    began = time.monotonic()
    server, images = required_environment()
    venv_bin = Path(sys.executable).parent
    ticketctl = venv_bin / "ticketctl"
    if not ticketctl.exists():
        raise SystemExit(f"bench: {ticketctl} is missing: pip install -e '.[bench]' in the virtualenv")
    log(f"peers: cache {cfg.cache}")
    needs_peers = bool(set(cfg.sections) & set(PEER_SECTIONS))
    peers = peers_module.ensure_all(cfg.cache, venv_bin) if needs_peers else peers_module.Peers.none()
    results = Results(
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        quick=cfg.quick,
        machine=machine_info(),
        versions={**engine_versions(), **peers.versions},
    )
    env = Environment(cfg=cfg, peers=peers, server=server, images=images, ticketctl=str(ticketctl))
    if cfg.before is not None:
        before = cfg.before / "bin" / "ticketctl"
        if not before.exists():
            raise SystemExit(f"bench: --before {cfg.before}: no bin/ticketctl there")
        env.before, env.before_label = str(before), cfg.before_label
        results.versions["ticketctl (before)"] = f"{cfg.before_label} ({before})"
    cfg.work.mkdir(parents=True, exist_ok=True)
    project_names = [project_name(cfg.prefix, tool) for tool in (*STACK_TOOLS, "snapshot")]
    for project in project_names:  # leftovers of a killed run
        stacks.remove_project(env.engine, project)
    bases = (
        [cfg.port_base + 100 * i for i in range(len(STACK_TOOLS))] if set(cfg.sections) & set(STACK_SECTIONS) else []
    )
    bases += [snapshot_port_base(cfg)] if "snapshot" in cfg.sections else []
    wanted = set().union(set(), *(stacks.Ports.block(base).host_ports() for base in bases))
    held = stacks.port_holders(env.engine, wanted, set(project_names))
    if held:
        taken = ", ".join(f"{port} by {name}" for port, name in sorted(held.items()))
        raise SystemExit(
            f"bench: ports of --port-base {cfg.port_base} are taken ({taken}): "
            "remove those containers or pick another --port-base"
        )
    failure: BaseException | None = None
    try:
        if set(cfg.sections) & set(STACK_SECTIONS):
            prepare_stacks(cfg, results, env)
        with databases(cfg, env):
            if "startup" in cfg.sections:
                section_startup(cfg, results, env)
            if "migrate" in cfg.sections:
                section_migrate(cfg, results, env)
            if "cold" in cfg.sections:
                section_cold(cfg, results, env)
            if "noop" in cfg.sections:
                section_noop(cfg, results, env)
            if "plan" in cfg.sections:
                section_plan(cfg, results, env)
            if "doctor" in cfg.sections:
                section_doctor(cfg, results, env)
            if "seed" in cfg.sections:
                data_sections.section_seed(cfg, results, env)
            if "sync" in cfg.sections:
                data_sections.section_sync(cfg, results, env)
            if "snapshot" in cfg.sections:
                section_snapshot(cfg, results, env)
    except (CommandFailed, RuntimeError) as error:
        failure = error
        log(f"FAILED: {error}")
        traceback.print_exc()
    finally:
        if not cfg.keep:
            log("removing the bench's stacks")
            for project in project_names:
                stacks.remove_project(env.engine, project)
    results.duration_seconds = time.monotonic() - began
    results.load_after = load_average()
    if cfg.add_to is not None and failure is None:
        results = add_to(load_results(cfg.add_to), results, cfg.sections)
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / "results.json").write_text(json.dumps(asdict(results), indent=1, default=str))
    text = report.write(results, cfg.out, REPO)
    print(text)
    if failure is not None:
        return 1
    return 0
