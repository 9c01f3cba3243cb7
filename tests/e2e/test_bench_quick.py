"""``bench/run --quick`` keeps working: every section runs against the real servers and writes its report.

Benchmarks are not tests: nothing here looks at a timing or a target. The test
runs the script as a user would (it loads ``scripts/test-services env`` itself)
with its own ports, project names, databases and output folder, so that a full
``bench/run`` may run beside it, and checks that every measure has its rows,
that the chart is a PNG, and that nothing of the run is left on the Engine or
the MariaDB server.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.requirements import missing

REPO = Path(__file__).resolve().parents[2]
# Projects <prefix>-tc, -dc1, -dc2, -snap; databases and users <prefix>_*. One prefix per checkout: two
# checkouts running this test on one Engine never remove each other's stacks, and a run killed in
# this checkout has its leftovers removed by the next one here.
PREFIX = "tkbq" + hashlib.sha1(str(REPO).encode()).hexdigest()[:4]
# 62500-62899 first: clear of bench/run's default 62000-62399, of the e2e tests' 30000-32699 and of Linux's
# ephemeral range (32768-60999), where a closing client connection can hold a port for a minute. When
# something else holds one of those ports (another run's stack), the next block of 400 that is free.
PORT_BASES = (62500, 64100, 64500, 64900)
BLOCK = 400  # four stacks of 100 ports each


def _free_port_base() -> int:
    """The first candidate whose four blocks of ports nothing listens on (the bench refuses taken ports)."""
    for base in PORT_BASES:
        try:
            for port in range(base, base + BLOCK):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    pytest.fail(f"no free block of {BLOCK} ports at {PORT_BASES}", pytrace=False)


def _missing(what: str) -> None:
    missing(what, "start the servers with `scripts/test-services up`")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    status = subprocess.run(
        [str(REPO / "scripts" / "test-services"), "status"], capture_output=True, text=True, check=False
    )
    states = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines() if len(line.split()) >= 2}
    if any(states.get(server) != "up" for server in ("docker", "mariadb", "opensearch")):
        _missing(
            "the Docker Engine, MariaDB or OpenSearch is not running "
            f"({status.stdout.strip() or status.stderr.strip()})"
        )
    out = tmp_path_factory.mktemp("bench-quick")
    env = {key: value for key, value in os.environ.items() if not key.startswith("TICKETCTL_BENCH_")}
    env["TICKETCTL_BENCH_PYTHON"] = sys.executable  # the virtualenv running the tests
    done = subprocess.run(
        [
            str(REPO / "bench" / "run"),
            "--quick",
            "--out",
            str(out),
            "--prefix",
            PREFIX,
            "--port-base",
            str(_free_port_base()),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return done, out


def test_quick_run_succeeds_and_prints_the_targets(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, _ = quick_run
    assert done.returncode == 0, done.stderr[-4000:]
    assert "## Targets" in done.stdout
    assert "| measure | target | result | met |" in done.stdout


def test_results_have_every_measure_with_its_peers(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-4000:]
    text = (out / "RESULTS.md").read_text()
    assert "Written by `bench/run --quick`" in text
    for heading in (
        "### `ticketctl --help` (cold process)",
        f"### `migrate` no-op, 3 databases ({len(list((REPO / 'schemas').glob('*/V*.sql')))} applied versions in all)",
        "### `migrate` apply, 20 generated migrations per database (3 databases, fresh)",
        "### `migrate` apply, 40 generated migrations per database (3 databases, fresh)",
        "### cold `up` to all healthy (local images, no containers or volumes)",
        "### no-op `up` on a healthy stack",
        "### `plan` on a healthy stack with nothing to do, beside a no-op `up` on the same stack",
        "### `migrate drift` of the three databases (three shadow databases created, migrated, compared, dropped)",
        "### `doctor`, all green",
        "### `doctor` with one server down (check timeout 3 s)",
        "### `ticketctl seed`, 100 events × 100 seats = 10,000 seats",
        "### `ticketctl index sync --full`, 2,000 events into an empty index (OpenSearch, 1 shard)",
        "### `snapshot save` of the stack (20,000 seats, 2,000 events",
        "### `snapshot restore` (20,000 seats, 2,000 events",
    ):
        assert heading in text
    for row in (
        "| docker-compose up -d (1.29) |",
        "| docker compose up -d (v2) |",
        "| golang-migrate up, 3 processes side by side |",
        "| golang-migrate up, 3 processes one after another |",
        "| ticketctl doctor, opensearch paused |",
        "| ticketctl plan --no-init |",
        "| ticketctl up --no-init (no-op) |",
        "| ticketctl seed --method insert |",
        "| mariadb --local-infile=1 -e 'LOAD DATA LOCAL INFILE …', 3 processes side by side |",
        "| ticketctl index sync --full |",
        "| mysqldump --single-transaction of the 3 databases (docker exec) |",
        "| down --volumes --yes; up; load the same data |",
    ):
        assert row in text
    assert "Flyway migrate, 3 processes side by side" in text
    assert "| `migrate` no-op vs Flyway migrate, 3 processes one after another (" in text  # the headline target
    assert "'name' does not match any of the regexes" in text  # docker-compose 1.29's refusal, quoted
    assert "### Compose v2\n\nOn the file `ticketctl render` writes" in text
    # render writes the Compose file for the Engine at hand: before Engine 25 without healthcheck.start_interval,
    # so Compose v2 creates the containers from it unchanged.
    assert "up --no-start` gave exit 0, " in text
    assert "start_interval" not in text


def test_the_chart_is_a_png(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-4000:]
    assert (out / "ratios.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nothing_of_the_run_is_left(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    import docker
    import pymysql

    done, _ = quick_run
    assert done.returncode == 0, done.stderr[-4000:]
    engine = docker.from_env()
    for project in (f"{PREFIX}-tc", f"{PREFIX}-dc1", f"{PREFIX}-dc2", f"{PREFIX}-snap"):
        label = {"label": f"com.docker.compose.project={project}"}
        assert engine.containers.list(all=True, filters=label) == []
        assert engine.volumes.list(filters=label) == []
        assert engine.networks.list(filters=label) == []
    server = pymysql.connect(
        host=os.environ.get("TICKETCTL_TEST_MYSQL_HOST", "127.0.0.1"),
        port=int(os.environ.get("TICKETCTL_TEST_MYSQL_PORT", "13306")),
        user=os.environ.get("TICKETCTL_TEST_MYSQL_ROOT_USER", "root"),
        password=os.environ.get("TICKETCTL_TEST_MYSQL_ROOT_PASSWORD", "ticketctl-test-root"),
    )
    url = os.environ.get("TICKETCTL_TEST_OPENSEARCH_URL", "http://127.0.0.1:19201").rstrip("/")
    with urllib.request.urlopen(f"{url}/_cat/indices/{PREFIX}-*?format=json&h=index") as answer:
        assert json.loads(answer.read()) == []
    with server, server.cursor() as cursor:
        cursor.execute("SHOW DATABASES LIKE %s", (f"{PREFIX}\\_%",))
        assert cursor.fetchall() == ()
        cursor.execute("SELECT user FROM mysql.user WHERE user LIKE %s", (f"{PREFIX}\\_%",))
        assert cursor.fetchall() == ()


def test_the_report_is_what_report_from_writes_and_the_readme_is_left_alone(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    from bench import report
    from bench.main import load_results

    done, out = quick_run
    assert done.returncode == 0, done.stderr[-4000:]
    results = load_results(out / "results.json")
    assert (out / "RESULTS.md").read_text() == report.results_markdown(results, REPO)
    assert "ran one after another (the headline ratio) and side by side" in report.readme_section(results)
    readme = (REPO / "README.md").read_text()
    assert report.readme_section_in(readme) == report.readme_section(load_results(REPO / "bench" / "results.json"))


def test_raw_results_are_written_beside_the_report(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-4000:]
    raw = json.loads((out / "results.json").read_text())
    keys = {measure["key"] for measure in raw["measures"]}
    assert {
        "startup.help",
        "startup.render",
        "migrate.noop",
        "up.cold",
        "up.noop",
        "plan.noop",
        "drift.schema",
        "doctor.green",
    } <= keys
    assert {"seed.load", "sync.full", "snapshot.save", "snapshot.restore"} <= keys
    for measure in raw["measures"]:
        for series in measure["series"]:
            assert series["samples"], f"{series['key']} has no sample"
