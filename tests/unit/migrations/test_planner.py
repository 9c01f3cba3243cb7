"""The planner: files + history rows → steps, states and refusals, without a server."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from ticketctl.migrations.files import MigrationFile, checksum
from ticketctl.migrations.history import HistoryRow
from ticketctl.migrations.lexer import split_statements
from ticketctl.migrations.planner import causes_implicit_commit, plan_database

pytestmark = pytest.mark.unit

THREE = "CREATE TABLE a (x INT);\nINSERT INTO a VALUES (1);\nCREATE TABLE c (x INT);\n"


def migration(version: int, text: str = "CREATE TABLE t (x INT);\n") -> MigrationFile:
    name = f"V{version:03d}__m{version}.sql"
    return MigrationFile(
        "events", version, f"m{version}", Path("schemas/events") / name, f"events/{name}", checksum(text), text
    )


def row(
    file: MigrationFile,
    *,
    status: str = "success",
    applied: int | None = None,
    kind: str = "SQL",
    out_of_order: bool = False,
) -> HistoryRow:
    count = len(file.statements) if applied is None else applied
    return HistoryRow(
        version=file.version,
        description=file.description,
        type=kind,
        script=file.script,
        checksum=file.checksum,
        applied_checksum=file.prefix_checksum(count),
        statements_applied=count,
        statements_total=len(file.statements),
        status=status,
        out_of_order=out_of_order,
        error="MySQL error 1146: Table 'x' doesn't exist" if status == "failed" else None,
        failed_statement=None,
        failed_at=None,
        installed_by="events_app@%",
        host="test",
        tool_version="0.1.0",
        started_at=datetime(2026, 11, 24, 12, 0, 0),
        finished_at=None,
        duration_ms=None,
    )


def test_new_database_plans_every_file_in_order() -> None:
    files = [migration(2), migration(1)]
    result = plan_database(sorted(files, key=lambda m: m.version), None)
    assert [(s.migration.version, s.start, s.resume) for s in result.steps] == [(1, 1, False), (2, 1, False)]
    assert [s.state for s in result.states] == ["pending", "pending"]
    assert not result.problems and not result.up_to_date


def test_applied_versions_are_skipped() -> None:
    files = [migration(1), migration(2)]
    result = plan_database(files, [row(files[0]), row(files[1])])
    assert result.up_to_date
    assert [s.state for s in result.states] == ["applied", "applied"]


def test_changed_applied_file_is_a_problem_naming_file_and_version() -> None:
    original = migration(1)
    edited = migration(1, "CREATE TABLE t (x BIGINT);\n")
    result = plan_database([edited, migration(2)], [row(original)])
    (problem,) = result.problems
    assert problem.kind == "checksum-mismatch"
    assert problem.message.startswith("schemas/events/V001__m1.sql: version 1 was applied on 2026-11-24 12:00:00 UTC")
    assert "repair" in problem.hint
    assert [s.state for s in result.states] == ["changed", "pending"]


def test_failed_version_with_unchanged_file_is_refused() -> None:
    file = migration(1, THREE)
    result = plan_database([file], [row(file, status="failed", applied=1)])
    (problem,) = result.problems
    assert problem.kind == "failed"
    assert problem.message.startswith("schemas/events/V001__m1.sql:2: version 1 failed at statement 2 of 3")
    assert "1146" in problem.message
    assert result.steps == ()


def test_fixed_failed_version_resumes_at_the_failed_statement() -> None:
    failed = migration(1, THREE)
    fixed = migration(1, THREE.replace("VALUES (1)", "VALUES (2)"))
    result = plan_database([fixed], [row(failed, status="failed", applied=1)])
    assert result.problems == ()
    (step,) = result.steps
    assert (step.start, step.resume) == (2, True)
    assert [s.text for s in step.statements] == ["INSERT INTO a VALUES (2)", "CREATE TABLE c (x INT)"]
    assert [(s.state, s.detail) for s in result.states] == [("resume", "resumes at statement 2")]


def test_failed_version_whose_applied_part_changed_is_refused() -> None:
    failed = migration(1, THREE)
    edited = migration(1, THREE.replace("a (x INT)", "a (x BIGINT)"))
    result = plan_database([edited], [row(failed, status="failed", applied=1)])
    (problem,) = result.problems
    assert problem.kind == "applied-part-changed"
    assert "failed after 1 of 3 statements" in problem.message


def test_repaired_failed_version_retries_the_unchanged_file() -> None:
    file = migration(1, THREE)
    repaired = row(file, status="failed", applied=1)
    repaired = replace(repaired, checksum=None)  # what repair records for a failed version
    (step,) = plan_database([file], [repaired]).steps
    assert step.start == 2


def test_interrupted_version_resumes_without_needing_an_edit() -> None:
    file = migration(1, THREE)
    result = plan_database([file], [row(file, status="running", applied=2)])
    (step,) = result.steps
    assert (step.start, step.resume) == (3, True)


def test_out_of_order_is_refused_unless_allowed() -> None:
    one, two, three = migration(1), migration(2), migration(3)
    history = [row(one), row(three)]
    refused = plan_database([one, two, three], history)
    (problem,) = refused.problems
    assert (problem.kind, problem.version) == ("out-of-order", 2)
    assert "--allow-out-of-order" in problem.hint
    allowed = plan_database([one, two, three], history, allow_out_of_order=True)
    assert [(s.migration.version, s.out_of_order) for s in allowed.steps] == [(2, True)]


def test_baseline_covers_older_files() -> None:
    one, two, three = migration(1), migration(2), migration(3)
    result = plan_database([one, two, three], [row(two, kind="BASELINE")])
    assert [s.migration.version for s in result.steps] == [3]
    assert [s.state for s in result.states] == ["below-baseline", "baseline", "pending"]


def test_target_drops_later_versions() -> None:
    files = [migration(1), migration(2), migration(3)]
    result = plan_database(files, [], target=2)
    assert [s.migration.version for s in result.steps] == [1, 2]
    assert [s.state for s in result.states] == ["pending", "pending", "above-target"]


def test_missing_file_is_a_warning_not_a_refusal() -> None:
    one, two = migration(1), migration(2)
    result = plan_database([two], [row(one), row(two)])
    assert result.up_to_date
    assert result.warnings == ("V001 (events/V001__m1.sql) is recorded as success but its file is missing",)
    assert [s.state for s in result.states] == ["missing", "applied"]


@pytest.mark.parametrize(
    ("sql", "commits"),
    [
        ("CREATE TABLE t (x INT)", True),
        ("CREATE TEMPORARY TABLE t (x INT)", False),
        ("DROP TEMPORARY TABLE t", False),
        ("ALTER TABLE t ADD COLUMN y INT", True),
        ("CREATE INDEX i ON t (x)", True),
        ("RENAME TABLE a TO b", True),
        ("TRUNCATE TABLE t", True),
        ("GRANT SELECT ON db.* TO 'u'@'%'", True),
        ("LOCK TABLES t WRITE", True),
        ("START TRANSACTION", True),
        ("ANALYZE TABLE t", True),
        ("CHECK TABLE t", True),
        ("SET PASSWORD = 'x'", True),
        ("INSERT INTO t VALUES (1)", False),
        ("UPDATE t SET x = 1", False),
        ("DELETE FROM t", False),
        ("SET @a = 1", False),
        ("DO SLEEP(1)", False),
        ("/*!40101 SET NAMES utf8mb4 */", False),
    ],
)
def test_implicit_commit_classification(sql: str, commits: bool) -> None:
    (statement,) = split_statements(sql)
    assert causes_implicit_commit(statement) is commits


def test_a_failed_version_whose_file_is_not_read_is_a_problem_and_an_applied_one_a_warning() -> None:
    """Not green: the history holds versions of a schemas folder other than the one read (schemas_dir)."""
    first, second, third = migration(1), migration(2), migration(3, THREE)
    result = plan_database([first], [row(first), row(second), row(third, status="failed", applied=0)])
    (problem,) = result.problems
    assert problem.kind == "unfinished-missing" and problem.version == 3
    assert problem.message.startswith("V003 (events/V003__m3.sql) failed at statement 1 of 3 (MySQL error 1146")
    assert "schemas_dir" in problem.hint
    assert result.warnings == ("V002 (events/V002__m2.sql) is recorded as success but its file is missing",)
    assert not result.up_to_date


def test_the_fix_line_of_a_first_statement_failure_says_none_is_committed() -> None:
    file = migration(1, THREE)
    (problem,) = plan_database([file], [row(file, status="failed", applied=0)]).problems
    assert "none of its statements is committed" in problem.hint and "1-0" not in problem.hint
