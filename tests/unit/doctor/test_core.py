"""The doctor engine: parallel checks, per-check timeouts, needs, exit codes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.cli import invoke
from ticketctl.config.masking import remember
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import load_settings
from ticketctl.doctor.core import Check, CheckContext, Outcome, Status, run_checks, select_checks
from ticketctl.errors import ConfigError, ExitCode, RedisError


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings(None, environ={}, cwd=tmp_path)


def sleeper(seconds: float, outcome: Outcome):  # type: ignore[no-untyped-def]
    def run(context: CheckContext) -> Outcome:
        time.sleep(seconds)
        return outcome

    return run


def test_checks_run_in_parallel_and_a_hung_check_costs_only_its_timeout(settings) -> None:  # type: ignore[no-untyped-def]
    checks = [Check(f"demo.c{i}", "sleeps", sleeper(0.4, Outcome.ok("fine"))) for i in range(5)]
    checks.append(Check("demo.hung", "never answers", sleeper(30, Outcome.ok("late"))))
    started = time.monotonic()
    report = run_checks(settings, Secrets({}), checks=checks, timeout=1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, elapsed  # 5 × 0.4 s sequentially would be 2 s, plus the hung one
    statuses = {r.name: r.status for r in report.results}
    assert statuses["demo.hung"] == Status.FAIL
    assert [r.name for r in report.results] == [c.name for c in checks]
    hung = report.results[-1]
    assert hung.summary == "no answer within 1s"
    assert report.exit_code == ExitCode.CHECKS_FAILED


def test_a_failed_need_skips_its_dependents(settings) -> None:  # type: ignore[no-untyped-def]
    def down(context: CheckContext) -> Outcome:
        raise RedisError("Redis at x: cannot connect", hint="start it")

    checks = [
        Check("redis.ping", "ping", down),
        Check("redis.lock", "lock", sleeper(0, Outcome.ok("x")), needs=("redis.ping",)),
    ]
    report = run_checks(settings, Secrets({}), checks=checks, timeout=1.0)
    ping, lock = report.results
    assert (ping.status, ping.summary, ping.fix) == (Status.FAIL, "Redis at x: cannot connect", "start it")
    assert (lock.status, lock.summary) == (Status.SKIP, "skipped: redis.ping did not pass")
    assert report.problems == 1


def test_exit_codes_distinguish_warnings_from_failures(settings) -> None:  # type: ignore[no-untyped-def]
    ok = Check("a.ok", "ok", sleeper(0, Outcome.ok("fine")))
    warn = Check("a.warn", "warn", sleeper(0, Outcome.warn("meh", "do x")))
    fail = Check("a.fail", "fail", sleeper(0, Outcome.fail("bad", "do y")))
    assert run_checks(settings, Secrets({}), checks=[ok]).exit_code == ExitCode.OK
    assert run_checks(settings, Secrets({}), checks=[ok, warn]).exit_code == ExitCode.WARNINGS
    assert run_checks(settings, Secrets({}), checks=[ok, warn, fail]).exit_code == ExitCode.CHECKS_FAILED


def test_selecting_a_check_brings_what_it_needs(settings) -> None:  # type: ignore[no-untyped-def]
    checks = [
        Check("redis.ping", "p", sleeper(0, Outcome.ok("x"))),
        Check("redis.lock", "l", sleeper(0, Outcome.ok("x")), needs=("redis.ping",)),
        Check("mysql.events", "m", sleeper(0, Outcome.ok("x"))),
    ]
    assert [c.name for c in select_checks(checks, ["redis.lock"])] == ["redis.ping", "redis.lock"]
    assert [c.name for c in select_checks(checks, ["mysql"])] == ["mysql.events"]
    with pytest.raises(ConfigError, match="unknown check 'postgres'"):
        select_checks(checks, ["postgres"])


def test_docker_checks_are_skipped_without_docker(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"TICKETCTL_DOCKER__ENABLED": "false"}, cwd=tmp_path)
    check = Check("docker.daemon", "d", sleeper(0, Outcome.ok("x")), needs_docker=True)
    result = run_checks(settings, Secrets({}), checks=[check]).results[0]
    assert (result.status, result.summary) == (Status.SKIP, "skipped: docker.enabled is false (remote endpoints)")


def test_secrets_never_reach_the_report(settings) -> None:  # type: ignore[no-untyped-def]
    remember(["hunter2-secret-value"])
    check = Check(
        "a.leak", "leaks", sleeper(0, Outcome.fail("auth hunter2-secret-value failed", "hunter2-secret-value"))
    )
    result = run_checks(settings, Secrets({}), checks=[check]).results[0]
    assert "hunter2-secret-value" not in result.summary + (result.fix or "")


def test_an_unexpected_exception_is_a_failed_check(settings) -> None:  # type: ignore[no-untyped-def]
    def boom(context: CheckContext) -> Outcome:
        raise ValueError("bad")

    result = run_checks(settings, Secrets({}), checks=[Check("a.boom", "b", boom)]).results[0]
    assert (result.status, result.summary) == (Status.FAIL, "ValueError: bad")


def test_doctor_list_and_unknown_check(capsys: pytest.CaptureFixture[str]) -> None:
    listed = invoke(capsys, ["doctor", "--list"])
    assert listed.exit_code == 0
    assert "redis.lock" in listed.stdout and "host.max_map_count" in listed.stdout
    unknown = invoke(capsys, ["doctor", "nosuch"])
    assert unknown.exit_code == ExitCode.CONFIG
    assert "unknown check 'nosuch'" in unknown.stderr
