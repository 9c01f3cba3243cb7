"""The printed table, ``RESULTS.md``, the chart of the ratios and the README's performance section.

A ratio is *peer ÷ ticketctl*, taken sample by sample within the same round,
then summarised (median, min–max): above 1 ticketctl is faster.

``RESULTS.md`` and the README's section are functions of the results alone
(:func:`results_markdown`, :func:`readme_section`), so ``--report-from results.json``
writes them again byte for byte; ``tests/unit/test_bench_report.py`` holds the
committed files to that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.measure import Stats, format_range, format_seconds, pairwise_ratios

if TYPE_CHECKING:
    from bench.main import Measure, Results, Series

CHART_NAME = "ratios.png"
ANALYSIS = "analysis.md"
README = "README.md"
README_BEGIN = "<!-- begin: written by bench/run from bench/results.json (bench/report.py); edit the code, not this -->"
README_END = "<!-- end: written by bench/run -->"
SEQUENTIAL = "-sequential"  # bench.main.SEQUENTIAL: a peer's three processes one after another
MIGRATE_PEERS = ("flyway", "golang-migrate")


def summary(series: Series) -> str:
    stats = Stats.of([s.seconds for s in series.samples])
    rss = Stats.of([s.rss_kb / 1024 for s in series.samples])
    return (
        f"median {format_seconds(stats.median)} ({format_range(stats)}, n={stats.count}), peak RSS {rss.median:.0f} MB"
    )


def seconds(series: Series) -> Stats:
    return Stats.of([s.seconds for s in series.samples])


def extra(series: Series, name: str) -> Stats:
    return Stats.of([s.extra[name] for s in series.samples if name in s.extra])


def ratio(peer: Series, baseline: Series) -> Stats:
    return Stats.of(pairwise_ratios([s.seconds for s in peer.samples], [s.seconds for s in baseline.samples]))


BEFORE_TOOL = "ticketctl (before)"  # bench.main.BEFORE: an older ticketctl measured beside this one


def before_pair(measure: Measure, series: Series) -> Series | None:
    """The series of this ticketctl that a --before series compares with (``before-noinit`` → ``ticketctl-noinit``)."""
    suffix = series.key.removeprefix(f"{measure.key}.before")
    wanted = measure.baseline if not suffix else f"{measure.key}.ticketctl{suffix}"
    return next((other for other in measure.series if other.key == wanted and other.samples), None)


def baseline_of(measure: Measure) -> Series | None:
    for series in measure.series:
        if series.key == measure.baseline:
            return series
    return None


RATES = ("rows_per_second", "documents_per_second")


def rate(series: Series, unit: str = "") -> str:
    """The median rate of a series that loads rows or documents (``rows/s``), or ""."""
    for name in RATES:
        stats = extra(series, name)
        if stats.count:
            return f"{stats.median:,.0f} {unit or name.split('_')[0]}/s"
    return ""


def _ratio_text(stats: Stats) -> str:
    if stats.count == 0:
        return ""
    if stats.count == 1:
        return f"{stats.median:.2f}×"
    return f"{stats.median:.2f}× ({stats.low:.2f}–{stats.high:.2f})"


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    measure: str
    target: str
    result: str
    met: bool | None  # None: report only


def _find(results: Results, key: str) -> Measure | None:
    for measure in results.measures:
        if measure.key == key:
            return measure
    return None


def _series(measure: Measure | None, key: str) -> Series | None:
    if measure is None:
        return None
    for series in measure.series:
        if series.key == f"{measure.key}.{key}" and series.samples:
            return series
    return None


def verdicts(results: Results) -> list[Verdict]:
    found: list[Verdict] = []

    def limit(measure_key: str, series_key: str, what: str, bound: float) -> None:
        series = _series(_find(results, measure_key), series_key)
        if series is not None:
            median = seconds(series).median
            found.append(Verdict(what, f"≤ {format_seconds(bound)}", format_seconds(median), median <= bound))

    def faster(measure_key: str, peer_key: str, what: str, factor: float = 1.0) -> None:
        measure = _find(results, measure_key)
        peer, base = _series(measure, peer_key), _series(measure, "ticketctl")
        if peer is not None and base is not None:
            stats = ratio(peer, base)
            target = "faster than the peer" if factor == 1.0 else f"≤ {1 / factor:g}× the peer's time"
            found.append(Verdict(what, target, f"peer ÷ ticketctl = {_ratio_text(stats)}", stats.median > factor))

    def faster_than_migrate_peer(measure_key: str, what: str) -> None:
        """The headline: the peer's three processes one after another; side by side is reported beside it."""
        measure = _find(results, measure_key)
        base = _series(measure, "ticketctl")
        for peer_key in MIGRATE_PEERS:
            for variant, headline in _migrate_variants(measure, peer_key):
                if base is not None:
                    stats = ratio(variant, base)
                    found.append(
                        Verdict(
                            f"{what} vs {variant.label}",
                            "faster than the peer" if headline else "report",
                            f"peer ÷ ticketctl = {_ratio_text(stats)}",
                            stats.median > 1.0 if headline else None,
                        )
                    )

    limit("startup.help", "ticketctl", "`ticketctl --help`, cold", 0.150)
    limit("startup.render", "ticketctl", "`ticketctl render`, cold", 0.150)
    limit("up.noop", "ticketctl", "no-op `ticketctl up`", 1.0)
    faster("up.noop", "compose-v1", "no-op `ticketctl up` vs `docker-compose up -d` (1.29)", 2.0)
    noop = _find(results, "up.noop")
    plain, v1 = _series(noop, "ticketctl-noinit"), _series(noop, "compose-v1")
    if plain is not None and v1 is not None:
        stats = ratio(v1, plain)
        found.append(
            Verdict(
                "no-op `ticketctl up --no-init` vs `docker-compose up -d` (1.29)",
                "≤ 0.5× the peer's time",
                f"peer ÷ ticketctl = {_ratio_text(stats)}",
                stats.median > 2.0,
            )
        )
    plan = _find(results, "plan.noop")
    for plan_key, up_key, what in (
        ("ticketctl", "up", "`ticketctl plan` vs no-op `ticketctl up`, same healthy stack"),
        ("ticketctl-noinit", "up-noinit", "`ticketctl plan --no-init` vs no-op `ticketctl up --no-init`"),
    ):
        planned, converged = _series(plan, plan_key), _series(plan, up_key)
        if planned is not None and converged is not None:
            stats = ratio(converged, planned)
            found.append(
                Verdict(what, "≤ 1.0× the no-op up's time", f"up ÷ plan = {_ratio_text(stats)}", stats.median >= 1.0)
            )
    limit("drift.schema", "ticketctl", "`migrate drift`, 3 databases (3 shadow databases)", 1.5)
    cold = _find(results, "up.cold")
    for key, what, target in (
        ("ticketctl", "cold `ticketctl up --no-init`: overhead beyond the slowest service's own ready time", 1.0),
        ("ticketctl-init", "cold `ticketctl up` (with migrations and index): same overhead", None),
        ("compose-v1", "cold docker-compose 1.29 up -d + event-driven wait: same overhead", None),
        ("compose-v2", "cold Compose v2 up -d --wait: same overhead", None),
    ):
        series = _series(cold, key)
        if series is not None:
            over, ready = extra(series, "overhead"), extra(series, "ready")
            found.append(
                Verdict(
                    what,
                    f"≤ {format_seconds(target)}" if target else "report",
                    f"{format_seconds(over.median)} (slowest own ready {format_seconds(ready.median)})",
                    over.median <= target if target else None,
                )
            )
    limit("migrate.noop", "ticketctl", "`migrate` no-op, 3 databases", 0.300)
    faster_than_migrate_peer("migrate.noop", "`migrate` no-op")
    apply_keys = sorted(
        (int(m.key.rsplit(".", 1)[1]) for m in results.measures if m.key.startswith("migrate.apply.")),
    )
    for size in apply_keys:
        measure = _find(results, f"migrate.apply.{size}")
        base = _series(measure, "ticketctl")
        for peer_key in MIGRATE_PEERS:
            for peer, _ in _migrate_variants(measure, peer_key):
                if base is not None:
                    found.append(
                        Verdict(
                            f"`migrate` apply {size}/db vs {peer.label}",
                            "report the ratio",
                            f"peer ÷ ticketctl = {_ratio_text(ratio(peer, base))}",
                            None,
                        )
                    )
    if len(apply_keys) == 2:
        small, large = apply_keys
        for tool_key in ("ticketctl", *(f"{peer}{suffix}" for peer in MIGRATE_PEERS for suffix in (SEQUENTIAL, ""))):
            a = _series(_find(results, f"migrate.apply.{small}"), tool_key)
            b = _series(_find(results, f"migrate.apply.{large}"), tool_key)
            if a is not None and b is not None:
                growth = seconds(b).median / seconds(a).median
                expected = large / small
                found.append(
                    Verdict(
                        f"`migrate` apply scaling {small} → {large} per db ({a.label})",
                        f"linear: ≤ {expected * 1.1:.1f}×",
                        f"{growth:.2f}× ({format_seconds(seconds(a).median)} → {format_seconds(seconds(b).median)})",
                        growth <= expected * 1.1 if tool_key == "ticketctl" else None,
                    )
                )
    for measure_key, peer_key, what, share, unit in (
        ("seed.load", "mariadb", "`ticketctl seed` vs the `mariadb` client's LOAD DATA LOCAL INFILE", 0.7, "rows"),
        (
            "sync.full",
            "curl",
            "`ticketctl index sync --full` vs `curl` of pre-built NDJSON to `_bulk`",
            0.8,
            "documents",
        ),
    ):
        measure = _find(results, measure_key)
        peer, base = _series(measure, peer_key), _series(measure, "ticketctl")
        if peer is not None and base is not None:
            stats = ratio(peer, base)  # peer time ÷ ticketctl time = ticketctl rate ÷ peer rate
            rates = f"{rate(base, unit)} vs {rate(peer, unit)}"
            found.append(
                Verdict(
                    what, f"{unit}/s ≥ {share:g}× the peer's", f"{_ratio_text(stats)} ({rates})", stats.median >= share
                )
            )
        insert = _series(measure, "ticketctl-insert")
        if insert is not None and base is not None:
            found.append(
                Verdict(
                    "`ticketctl seed --method insert` (multi-row INSERT) vs its LOAD DATA LOCAL INFILE",
                    "report",
                    f"{_ratio_text(ratio(base, insert))} ({rate(insert, unit)} vs {rate(base, unit)})",
                    None,
                )
            )
    faster("snapshot.save", "mysqldump", "`snapshot save` vs `mysqldump` of the three databases", 1 / 1.5)
    faster("snapshot.restore", "rebuild", "`snapshot restore` vs the rebuild (down --volumes, up, load)", 4.0)
    limit("doctor.green", "ticketctl", "`doctor`, all green", 1.0)
    down = _find(results, "doctor.down")
    for series in down.series if down else []:
        if series.samples:
            median = seconds(series).median
            found.append(
                Verdict(
                    f"`doctor`, {series.label.split(', ', 1)[-1]}", "≤ 3.5 s", format_seconds(median), median <= 3.5
                )
            )
    return found


def _migrate_variants(measure: Measure | None, peer_key: str) -> list[tuple[Series, bool]]:
    """A migrate peer's series, the headline first: (series, is the headline).

    The headline is the peer's three processes one after another, where the run has it;
    results of runs before that variant existed have only the side-by-side series.
    """
    variants = [_series(measure, peer_key + SEQUENTIAL), _series(measure, peer_key)]
    present = [series for series in variants if series is not None]
    return [(series, index == 0) for index, series in enumerate(present)]


# --------------------------------------------------------------------------- tables


def measure_table(measure: Measure, *, details: bool = True) -> list[str]:
    base = baseline_of(measure)
    cold = measure.key == "up.cold"
    divisors = [base] if base is not None else []
    divisors += [series for series in measure.series if series.key in measure.other_baselines]
    rated = any(name in sample.extra for series in measure.series for sample in series.samples for name in RATES)
    columns = ["command", "median", "min – max", "n", "peak RSS", *(["rate (median)"] if rated else [])]
    columns += [f"peer ÷ {divisor.label}" for divisor in divisors] or ["peer ÷ ticketctl"]
    if cold:
        columns[3:3] = [
            "slowest own ready",
            "overhead (median, min – max)",
            "= before create + create→start (Engine) + notice",
        ]
    header = "| " + " | ".join(columns) + " |"
    rule = "|---|" + "---:|" * (len(columns) - 1)
    lines = [f"### {measure.title}", "", f"Target: {measure.target}.", "", header, rule]
    for series in measure.series:
        if not series.samples:
            continue
        stats = seconds(series)
        rss = Stats.of([s.rss_kb / 1024 for s in series.samples])
        rss_sum = Stats.of([s.rss_sum_kb / 1024 for s in series.samples])
        memory = f"{rss.median:.0f} MB" + (f" (Σ {rss_sum.median:.0f} MB)" if rss_sum.median > rss.median + 1 else "")
        cells = [series.label, format_seconds(stats.median), format_range(stats), str(stats.count), memory]
        if rated:
            cells.append(rate(series))
        peer = series.tool not in ("ticketctl", BEFORE_TOOL)
        if series.tool == BEFORE_TOOL:  # before ÷ after, only against the same command
            pair = before_pair(measure, series)
            cells += [_ratio_text(ratio(series, d)) if d is pair else "" for d in divisors] or [""]
        else:
            cells += [_ratio_text(ratio(series, divisor)) if peer else "" for divisor in divisors] or [""]
        if cold:
            over = extra(series, "overhead")
            over_text = f"{format_seconds(over.median)} ({format_range(over)})"
            parts = " + ".join(
                format_seconds(extra(series, name).median) for name in ("before_create", "create_to_start", "notice")
            )
            cells[3:3] = [format_seconds(extra(series, "ready").median), over_text, parts]
        lines.append("| " + " | ".join(cells) + " |")
    if not details:
        return [*lines, ""]
    if cold:
        lines.append("")
        lines.append(
            "Own ready time per service (median, from the Engine's `start` and `health_status: healthy` events):"
        )
        lines.append("")
        for series in measure.series:
            parts = [
                f"{name.split('.', 1)[1]} {format_seconds(extra(series, name).median)}"
                for name in sorted({k for s in series.samples for k in s.extra if k.startswith("ready.")})
            ]
            lines.append(f"- {series.label}: {', '.join(parts)}")
    lines.extend(["", "Commands:", ""])
    for series in measure.series:
        if series.samples:
            lines.append(f"- {series.label}:")
            lines.extend(f"  - `{command}`" for command in series.commands)
    lines.append("")
    return lines


def verdict_table(found: list[Verdict]) -> list[str]:
    lines = ["| measure | target | result | met |", "|---|---|---|:---:|"]
    for verdict in found:
        mark = "—" if verdict.met is None else ("✅ met" if verdict.met else "❌ missed")
        lines.append(f"| {verdict.measure} | {verdict.target} | {verdict.result} | {mark} |")
    return lines


def memory_table(results: Results) -> list[str]:
    lines = [
        "| command | peak RSS, largest process (median) | sum over side-by-side processes |",
        "|---|---:|---:|",
    ]
    seen: set[str] = set()
    for measure in results.measures:
        for series in measure.series:
            if not series.samples or series.label in seen:
                continue
            seen.add(series.label)
            rss = Stats.of([s.rss_kb / 1024 for s in series.samples])
            total = Stats.of([s.rss_sum_kb / 1024 for s in series.samples])
            lines.append(
                f"| {series.label} ({measure.key}) | {rss.median:.0f} MB | "
                + (f"{total.median:.0f} MB |" if total.median > rss.median + 1 else "— |")
            )
    return lines


# --------------------------------------------------------------------------- chart


def chart_panels(results: Results) -> list[tuple[str, list[tuple[str, Stats]]]]:
    """The chart's panels: (title, bars), one bar per (measure, peer) with its ratios; none without peers."""
    peers: list[tuple[str, Stats]] = []
    fixes: list[tuple[str, Stats]] = []
    for measure in results.measures:
        base = baseline_of(measure)
        if base is None or not base.samples:
            continue
        divisors = [base, *(other for other in measure.series if other.key in measure.other_baselines)]
        for series in measure.series:
            if not series.samples or series.tool == "ticketctl":
                continue
            if series.tool == BEFORE_TOOL:
                pair = before_pair(measure, series)
                if pair is not None:
                    fixes.append((f"{measure.short}: {pair.label}", ratio(series, pair)))
                continue
            for divisor in divisors:
                peers.append((f"{measure.short}: {series.label}  ÷  {divisor.label}", ratio(series, divisor)))
    if not peers:
        return []
    panels = [("peer time ÷ ticketctl time (> 1: ticketctl faster)", peers)]
    if fixes:
        panels.append(("time before the fixes (main) ÷ time after, same command (> 1: faster now)", fixes))
    return panels


def chart(results: Results, path: Path) -> None:
    """A horizontal bar per (measure, peer): median ratio with its min–max, on a log scale."""
    panels = chart_panels(results)
    if not panels:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    except ImportError:
        raise SystemExit("bench: the chart needs matplotlib: pip install -e '.[bench]'") from None
    heights = [max(1, len(bars)) for _, bars in panels]
    figure, all_axes = plt.subplots(
        len(panels),
        1,
        figsize=(12, 0.3 * sum(heights) + 1.6 * len(panels) + 0.6),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for (title, bars), axes in zip(panels, all_axes[:, 0], strict=True):
        _panel(axes, bars, title, FixedLocator, FuncFormatter, NullLocator)
    mode = "bench/run --quick" if results.quick else "bench/run"
    figure.suptitle(
        f"ticketctl vs docker-compose 1.29, Compose v2, Flyway, golang-migrate\n{mode}, {results.started}; "
        "bars: median of same-round ratios, whiskers: min–max",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _panel(axes: Any, bars: list[tuple[str, Stats]], title: str, *ticker: Any) -> None:
    fixed_locator, func_formatter, null_locator = ticker
    positions = list(range(len(bars)))[::-1]
    medians = [stats.median for _, stats in bars]
    axes.barh(
        positions,
        medians,
        xerr=[[s.median - s.low for _, s in bars], [s.high - s.median for _, s in bars]],
        color=["#2a9d8f" if value >= 1 else "#e76f51" for value in medians],
        capsize=3,
    )
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_yticks(positions)
    axes.set_yticklabels([label for label, _ in bars], fontsize=8)
    for position, (_, stats) in zip(positions, bars, strict=True):
        axes.text(stats.high * 1.08, position, f"{stats.median:.2f}×", va="center", fontsize=8)
    values = [v for _, s in bars for v in (s.low, s.high) if math.isfinite(v) and v > 0]
    low, high = min(0.5, min(values) / 1.5), max(2.0, max(values) * 3)
    axes.set_xlim(low, high)
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200) if low <= t <= high]
    axes.xaxis.set_major_locator(fixed_locator(ticks))
    axes.xaxis.set_minor_locator(null_locator())
    axes.xaxis.set_major_formatter(func_formatter(lambda value, _: f"{value:g}×"))
    axes.set_title(title, fontsize=9)


# --------------------------------------------------------------------------- RESULTS.md


def write(results: Results, out: Path, repo: Path) -> str:
    """Write RESULTS.md and the chart into ``out`` (and, for the repository's bench/, the README's section)."""
    out.mkdir(parents=True, exist_ok=True)
    chart(results, out / CHART_NAME)
    (out / "RESULTS.md").write_text(results_markdown(results, repo))
    if out.resolve() == (repo / "bench").resolve():
        readme = repo / README
        readme.write_text(with_readme_section(readme.read_text(), readme_section(results)))
    printed = [""]
    for measure in results.measures:
        if any(series.samples for series in measure.series):
            printed.extend(measure_table(measure, details=False))
    found = verdicts(results)
    printed.extend(["## Targets", "", *verdict_table(found), "", f"RESULTS.md and {CHART_NAME} written to {out}"])
    return "\n".join(printed)


def results_markdown(results: Results, repo: Path) -> str:
    """The text of RESULTS.md: a function of the results (and bench/analysis.md) only."""
    found = verdicts(results)
    charted = bool(chart_panels(results))
    minutes = results.duration_seconds / 60
    mode = "`bench/run --quick`" if results.quick else "`bench/run`"
    lines = [
        "# Benchmarks: ticketctl against docker-compose, Flyway and golang-migrate",
        "",
        f"Written by {mode} on {results.started} in {minutes:.1f} min. Every number below comes from that run"
        + (" (and from the later runs of some sections added to it, named under Machine);" if results.added else ";"),
        "`bench/README.md` says how the measures are taken and `bench/analysis.md` (included at the end)",
        "explains the targets ticketctl misses. Ratios are *peer ÷ ticketctl* of samples taken in the same",
        "round (> 1: ticketctl is faster).",
        "",
        "## Machine",
        "",
        *(f"- {name}: {value}" for name, value in results.machine.items()),
        f"- Load average at the end: {results.load_after}",
        *(
            f"- Sections {run['sections']} were measured later, on {run['started']} ({run['minutes']} min, load "
            f"average {run['load']}, {run['ticketctl']}), and added to this run (`bench/run --only … --add-to`)"
            for run in results.added
        ),
        "",
        "## Versions",
        "",
        *(f"- {name}: {value}" for name, value in results.versions.items()),
        "",
        "## Targets",
        "",
        *verdict_table(found),
        "",
    ]
    if charted:
        lines.extend([f"![peer ÷ ticketctl]({CHART_NAME})", ""])
    lines.extend(["## Measures", ""])
    for measure in results.measures:
        if any(series.samples for series in measure.series):
            lines.extend(measure_table(measure))
    lines.extend(["## Peak memory", "", *memory_table(results), ""])
    lines.extend(["## Files the Compose peers ran on", ""])
    names = {"compose-v1": "docker-compose 1.29", "compose-v2": "Compose v2"}
    for tool, changes in results.derivations.items():
        refusal = results.rejections.get(tool, {})
        lines.append(f"### {names.get(tool, tool)}")
        lines.append("")
        lines.append(
            f"On the file `ticketctl render` writes, `{refusal.get('command', '?')}` gave {refusal.get('outcome')}:"
        )
        lines.extend(["", "```text", refusal.get("output", "").strip(), "```", ""])
        lines.append("The file it ran on is derived mechanically (`bench/stacks.py`):")
        lines.append("")
        lines.extend(f"- {change}" for change in changes)
        lines.append("")
    analysis = repo / "bench" / ANALYSIS
    if analysis.exists():
        lines.extend([analysis.read_text().rstrip(), ""])
    return "\n".join(lines)


# --------------------------------------------------------------------------- README.md


# The measures the README quotes, in its order; RESULTS.md has them all.
README_MEASURES = (
    "startup.help",
    "startup.render",
    "up.noop",
    "up.cold",
    "migrate.noop",
    "migrate.apply.",
    "doctor.green",
    "doctor.down",
    "seed.load",
    "sync.full",
)


def readme_section(results: Results) -> str:
    """The README's performance figures: medians and ratios of the run RESULTS.md reports, variants named."""
    mode = "`bench/run --quick`" if results.quick else "`bench/run`"
    version = results.machine.get("ticketctl", "?").split(" (", 1)[0]
    sequential = any(s.key.endswith(SEQUENTIAL) for m in results.measures for s in m.series if s.samples)
    peers_how = (
        "their three processes ran one after another (the headline ratio) and side by side."
        if sequential
        else "their three processes ran side by side only (this run predates the one-after-another measure)."
    )
    lines = [
        f"From {mode} of {results.started} (ticketctl {version}; {results.machine.get('CPU', '?')}).",
        *(
            f"Sections {run['sections']} are from a later run added to it, on {run['started']} (ticketctl "
            f"{run['ticketctl'].split(' (', 1)[0]}; load average {run['load']})."
            for run in results.added
        ),
        "[bench/RESULTS.md](bench/RESULTS.md) has every sample, the commands and the chart. Medians;",
        "*peer ÷ ticketctl* is the median of the ratios of samples taken in the same round (> 1: ticketctl",
        f"is faster). A Flyway or golang-migrate process migrates one database: {peers_how}",
        "",
        "| measure | ticketctl | peers: median (peer ÷ ticketctl) |",
        "|---|---|---|",
    ]
    for prefix in README_MEASURES:
        for measure in results.measures:
            if measure.key == prefix or (prefix.endswith(".") and measure.key.startswith(prefix)):
                lines.extend(_readme_rows(measure))
    found = verdicts(results)
    missed = [verdict for verdict in found if verdict.met is False]
    met = sum(verdict.met is True for verdict in found)
    lines.extend(["", f"Targets met: {met} of {met + len(missed)}." + (" Missed:" if missed else "")])
    if missed:
        lines.append("")
        lines.extend(f"- {verdict.measure}: {verdict.target}; measured {verdict.result}" for verdict in missed)
    lines.extend(["", "Why each missed target is missed: [bench/analysis.md](bench/analysis.md)."])
    return "\n".join(lines)


def _readme_rows(measure: Measure) -> list[str]:
    ours = [s for s in measure.series if s.tool == "ticketctl" and s.samples]
    peers = [s for s in measure.series if s.tool not in ("ticketctl", BEFORE_TOOL) and s.samples]
    title = measure.title.split(" (", 1)[0] if measure.key.startswith("startup.") else measure.title
    if measure.key == "up.cold":  # wall times differ by the services' own start; the overhead is what compares
        mine, theirs = (
            "; ".join(f"{s.label}: {format_seconds(extra(s, 'overhead').median)}" for s in group)
            for group in (ours, peers)
        )
        ready = format_seconds(extra(ours[0], "ready").median) if ours else "?"
        return [f"| {title}: overhead beyond the slowest service's own ready time ({ready}) | {mine} | {theirs} |"]
    if measure.key == "doctor.down":
        shown = "; ".join(
            f"{s.label.removeprefix('ticketctl doctor, ')} {format_seconds(seconds(s).median)}" for s in ours
        )
        return [f"| {title} | {shown} | |"]
    rows = []
    for own in ours:
        cells = [f"{_timed(peer)} ({ratio(peer, own).median:.2f}×)" for peer in peers]
        rows.append(f"| {title} | {_timed(own)} | {'; '.join(cells)} |")
    return rows


def _timed(series: Series) -> str:
    """A series' label and median time, and its median rate when it loads rows or documents."""
    shown = f"{series.label} {format_seconds(seconds(series).median)}"
    return f"{shown}, {rate(series)}" if rate(series) else shown


def with_readme_section(readme: str, section: str) -> str:
    """The README with the text between its markers replaced by ``section``."""
    head, begin, rest = readme.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not begin or not end:
        raise SystemExit(f"bench: {README} lacks the markers {README_BEGIN!r} … {README_END!r}")
    return f"{head}{README_BEGIN}\n{section}\n{README_END}{tail}"


def readme_section_in(readme: str) -> str:
    """The section between the README's markers, as :func:`readme_section` writes it."""
    return readme.partition(README_BEGIN + "\n")[2].partition("\n" + README_END)[0]
