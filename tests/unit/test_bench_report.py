"""bench/: RESULTS.md and the README's figures are exactly what the report code writes from results.json.

They are never edited by hand: ``bench/run`` (or ``bench/run --report-from bench/results.json``) writes
both from the same run, so a figure in the README is a figure of RESULTS.md, variant named.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.main import MEASURE_PREFIXES, SECTIONS, Measure, Results, Series, load_results
from bench.measure import Command, Sample, clean_environment, run
from tests.support.requirements import missing

ROOT = Path(__file__).resolve().parents[2]
RESULTS = load_results(ROOT / "bench" / "results.json")


def test_results_md_is_what_report_from_results_json_writes() -> None:
    written = report.results_markdown(RESULTS, ROOT)
    assert (ROOT / "bench" / "RESULTS.md").read_text() == written, (
        "bench/RESULTS.md is not what `bench/run --report-from bench/results.json` writes: run that, do not edit it"
    )


def test_the_readme_quotes_the_figures_of_that_run_only() -> None:
    readme = (ROOT / "README.md").read_text()
    assert report.README_BEGIN in readme and report.README_END in readme
    assert report.readme_section_in(readme) == report.readme_section(RESULTS), (
        "README.md's performance figures are not what bench/report.py writes from bench/results.json: "
        "run `bench/run --report-from bench/results.json`"
    )
    performance = readme.split("## Performance\n", 1)[1].split("\n## ", 1)[0]
    outside = performance.replace(report.readme_section(RESULTS), "")
    assert not any(unit in outside for unit in (" ms", " s ", "×")), "a figure outside the generated section"


# A duration or a ratio, and the commands bench/run measures, as the README's prose names them.
FIGURE = re.compile(r"\d(?:[.,]\d+)?\s?(?:ms|s|seconds?|×)(?![\w-])")
MEASURED = re.compile(r"`(?:ticketctl )?(?:up|migrate|render|doctor)(?: [^`]*)?`|--help")


def _paragraphs_outside_the_generated_section(readme: str) -> list[str]:
    head, _, rest = readme.partition(report.README_BEGIN)
    tail = rest.partition(report.README_END)[2]
    prose = re.sub(r"^```.*?^```", "", head + tail, flags=re.S | re.M)  # code blocks are commands, not claims
    # Paragraphs, and each item of a list on its own.
    return [paragraph for paragraph in re.split(r"\n\s*\n|\n(?=- )", prose) if paragraph.strip()]


def test_no_figure_of_a_measured_command_is_quoted_outside_the_generated_section() -> None:
    """A timing of `up`, `migrate`, `render`, `doctor` or `--help` in the README comes from results.json."""
    stray = [
        paragraph.strip()
        for paragraph in _paragraphs_outside_the_generated_section((ROOT / "README.md").read_text())
        if MEASURED.search(paragraph) and FIGURE.search(paragraph)
    ]
    assert stray == [], "figures the bench measures, quoted by hand (move them into bench/report.py):\n\n" + (
        "\n\n".join(stray)
    )


def test_the_stray_figure_check_would_see_a_hand_written_timing() -> None:
    planted = (
        f"intro\n\na second `up` returns in about 0.5 s.\n\n{report.README_BEGIN}\n`up` 1 s\n{report.README_END}\n"
    )
    assert [p for p in _paragraphs_outside_the_generated_section(planted) if MEASURED.search(p)] == [
        "a second `up` returns in about 0.5 s."
    ]
    assert FIGURE.search("a second `up` returns in about 0.5 s.")
    assert not FIGURE.search("`scripts/test-services up` builds five images")


def test_the_committed_run_is_a_full_run_of_a_clean_commit_of_this_history() -> None:
    """RESULTS.md names the commit it measured: that commit, unmodified, is in the history of this one."""
    assert not RESULTS.quick, "bench/results.json is from `bench/run --quick`: commit a full run only"
    shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"], capture_output=True)
    if shallow.returncode != 0 or shallow.stdout.strip() != b"false":
        missing("the git history of the repository (a full clone)", "git clone without --depth")
    # The run, and each later run of some sections added to it with --add-to.
    for ticketctl in [RESULTS.machine["ticketctl"], *(added["ticketctl"] for added in RESULTS.added)]:
        described = re.fullmatch(r"\S+ at commit (\S+) \(.*\)", ticketctl)
        assert described, ticketctl
        commit = described.group(1)
        assert not commit.endswith("-dirty"), f"bench/results.json measured {commit}: uncommitted changes"
        revision = commit.rpartition("-g")[2]
        ancestor = subprocess.run(["git", "-C", str(ROOT), "merge-base", "--is-ancestor", revision, "HEAD"])
        assert ancestor.returncode == 0, f"bench/results.json measured {commit}, which is not in the history of HEAD"


def test_the_analysis_explains_the_committed_run() -> None:
    """bench/analysis.md quotes "this run": a new results.json makes it say which, after a reader checked it."""
    analysis = (ROOT / "bench" / report.ANALYSIS).read_text()
    assert f'"This run" is the run of\n{RESULTS.started}' in analysis, (
        f"bench/results.json is the run of {RESULTS.started}, bench/analysis.md explains another: check its figures "
        "against the new RESULTS.md, then put that date in its introduction"
    )


def test_readme_section_is_replaced_between_its_markers_only() -> None:
    text = f"intro\n{report.README_BEGIN}\nold figures\n{report.README_END}\noutro\n"
    replaced = report.with_readme_section(text, "new figures")
    assert replaced == f"intro\n{report.README_BEGIN}\nnew figures\n{report.README_END}\noutro\n"
    assert report.readme_section_in(replaced) == "new figures"
    with pytest.raises(SystemExit, match="lacks the markers"):
        report.with_readme_section("no markers here", "x")


def _series(key: str, tool: str, label: str, times: list[float]) -> Series:
    return Series(key, tool, label, [], [Sample(t, 1000, 1000, 0) for t in times])


def _migrate_results(sequential: bool) -> Results:
    measure = Measure("migrate.noop", "`migrate` no-op", "target", "migrate.noop.ticketctl", "migrate no-op")
    measure.series = [
        _series("migrate.noop.ticketctl", "ticketctl", "ticketctl migrate", [0.20, 0.20, 0.20]),
        _series(
            "migrate.noop.golang-migrate", "golang-migrate", "golang-migrate up, 3 processes side by side", [0.1] * 3
        ),
    ]
    if sequential:
        measure.series.insert(
            1,
            _series(
                "migrate.noop.golang-migrate-sequential",
                "golang-migrate",
                "golang-migrate up, 3 processes one after another",
                [0.3, 0.3, 0.3],
            ),
        )
    return Results("2026-01-01", False, {"ticketctl": "0.1.0 at commit abc"}, {}, measures=[measure])


def test_the_headline_migrate_ratio_is_the_sequential_one_and_side_by_side_is_reported_beside_it() -> None:
    verdicts = {v.measure: v for v in report.verdicts(_migrate_results(sequential=True))}
    headline = verdicts["`migrate` no-op vs golang-migrate up, 3 processes one after another"]
    beside = verdicts["`migrate` no-op vs golang-migrate up, 3 processes side by side"]
    assert (headline.target, headline.met) == ("faster than the peer", True)
    assert headline.result == "peer ÷ ticketctl = 1.50× (1.50–1.50)"
    assert (beside.target, beside.met) == ("report", None)
    section = report.readme_section(_migrate_results(sequential=True))
    assert "ran one after another (the headline ratio) and side by side" in section
    assert "golang-migrate up, 3 processes one after another 300 ms (1.50×)" in section


def test_a_run_without_the_sequential_measure_says_so() -> None:
    verdicts = {v.measure: v for v in report.verdicts(_migrate_results(sequential=False))}
    only = verdicts["`migrate` no-op vs golang-migrate up, 3 processes side by side"]
    assert (only.target, only.met) == ("faster than the peer", False)
    assert "ran side by side only (this run predates the one-after-another measure)" in report.readme_section(
        _migrate_results(sequential=False)
    )


def test_one_after_another_takes_the_sum_and_side_by_side_the_longest(tmp_path: Path) -> None:
    sleep = Command((sys.executable, "-c", "import time; time.sleep(0.4)"), tmp_path, clean_environment(), "sleep")
    together, _ = run([sleep, sleep, sleep])
    in_turn, _ = run([sleep, sleep, sleep], sequential=True)
    assert in_turn.seconds >= 1.2
    assert together.seconds < in_turn.seconds - 0.5
    assert in_turn.rss_sum_kb == in_turn.rss_kb  # never in memory at the same time
    assert together.rss_sum_kb > together.rss_kb


def test_every_section_can_be_added_to_a_run() -> None:
    """``--add-to`` replaces a section's measures by their key prefixes: a section without them cannot be added."""
    assert set(MEASURE_PREFIXES) == set(SECTIONS)
