"""The reliability suite's secret scan (tests/support/reliability.py) would catch a leak.

Each form a secret takes on the way out is planted in a fake output, and the scan must report
it; clean outputs, masked ones included, must not be reported. The scan also learns every
secret ticketctl knows, and keeps the output of runs that were killed or never waited for.
"""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.support.reliability import Process, Transcript, Workdir, find_leaks

SECRET = "S3cretPassw0rd-Zq9/x+y@z"
WHERE = {SECRET: "the planted secret"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


PLANTED = {
    "as it is": f"error: connection string root:{SECRET}@db refused",
    "percent-encoded in a URL": f"GET http://elastic:{urllib.parse.quote(SECRET, safe='')}@127.0.0.1:9200/",
    "form-encoded in a query": f"POST /login?password={urllib.parse.quote_plus(SECRET)}",
    "base64 alone, as in a Kubernetes Secret": f"data:\n  REDIS_PASSWORD: {_b64(SECRET)}\n",
    "URL-safe base64": f"token={base64.urlsafe_b64encode(SECRET.encode()).decode()}",
    "base64 with a user, as in Basic auth": f"Authorization: Basic {_b64('elastic:' + SECRET)}",
    "base64 glued to other text": f"x=ab{_b64('..' + SECRET)}",
    "a prefix of 8 characters": f"password starts with {SECRET[:8]} (shown for debugging)",
    "a prefix cut by a table": f"search.url  http://elastic:{SECRET[:11]}…  TICKETCTL_SEARCH__URL",
}


@pytest.mark.parametrize("form", sorted(PLANTED))
def test_the_scan_finds_each_form_of_a_secret(form: str) -> None:
    leaks = find_leaks([(form, PLANTED[form])], WHERE)
    assert len(leaks) == 1, leaks
    assert leaks[0].startswith(f"{form}: contains ") and leaks[0].endswith("from the planted secret")


def test_the_scan_names_the_form_it_found() -> None:
    assert find_leaks([("raw", PLANTED["as it is"])], WHERE) == ["raw: contains the secret from the planted secret"]
    assert find_leaks([("k8s", PLANTED["base64 alone, as in a Kubernetes Secret"])], WHERE) == [
        "k8s: contains the secret, base64-encoded, from the planted secret"
    ]
    assert find_leaks([("url", PLANTED["percent-encoded in a URL"])], WHERE) == [
        "url: contains the secret, percent-encoded, from the planted secret"
    ]
    assert find_leaks([("cut", PLANTED["a prefix of 8 characters"])], WHERE) == [
        "cut: contains a prefix of the secret from the planted secret"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "error: access denied for user 'x' — check EVENTS_DB_PASSWORD",
        "search.url  http://elastic:***@127.0.0.1:9200  TICKETCTL_SEARCH__URL",
        f"seven characters of it are fine: {SECRET[:7]}",
        f"Authorization: Basic {_b64('elastic:***')}",
        "",
    ],
)
def test_clean_outputs_are_not_reported(text: str) -> None:
    assert find_leaks([("clean", text)], WHERE) == []


def test_a_fixed_harness_password_is_hunted_whole_but_not_by_its_prefix() -> None:
    """``ticketctl-test-root`` starts with the program's name: its prefix is no evidence of a leak."""
    fixed = {"ticketctl-test-root": "the test server's root password"}
    outputs = [("help", "ticketctl-test-services env"), ("leak", "password ticketctl-test-root")]
    assert find_leaks(outputs, fixed, whole_only=fixed) == [
        "leak: contains the secret from the test server's root password"
    ]
    assert len(find_leaks(outputs, fixed)) == 2  # without the exemption, the name alone would count


def test_the_transcript_learns_every_secret_ticketctl_knows(tmp_path: Path) -> None:
    transcript = Transcript()
    transcript.secrets_of_environment(
        {
            "REDIS_PASSWORD": "redis-password-1234",
            "SEARCH_PASSWORD": "search-password-1234",
            "SOME_OTHER_PASSWORD": "other-password-1234",
            "TICKETCTL_SEARCH__URL": "https://elastic:p%40ss-word-5678@search.example:9200",
            "TICKETCTL_TEST_MYSQL_ROOT_PASSWORD": "ticketctl-test-root",  # the harness's, not ticketctl's
            "TICKETCTL_PROJECT": "not-a-secret-value",
        }
    )
    (tmp_path / ".env").write_text("MYSQL_ROOT_PASSWORD=root-password-1234\nOTHER=plain-value-1234\n")
    transcript.secrets_of_env_file(tmp_path / ".env")
    (tmp_path / "ticketctl.yaml").write_text("search:\n  url: http://admin:yaml-password-99@10.0.0.1:9200\n")
    transcript.secrets_of_settings_file(tmp_path / "ticketctl.yaml")
    assert set(transcript.secrets) == {
        "redis-password-1234",
        "search-password-1234",
        "other-password-1234",
        "p@ss-word-5678",
        "root-password-1234",
        "yaml-password-99",
    }
    encoded = [("url", "GET https://elastic:p%40ss-word-5678@search.example:9200/")]
    assert find_leaks(encoded, transcript.secrets) == [
        "url: contains the secret, percent-encoded, from environment TICKETCTL_SEARCH__URL (the password of its URL)"
    ]


def _printing_process(workdir: Workdir, secret: str) -> Process:
    """A process that prints a secret, then waits to be killed (as a ticketctl run cut off by a test)."""
    printed = workdir.path / f"printed-{secret}"
    code = f"import sys, time; print({secret!r}, flush=True); open({str(printed)!r}, 'w').close(); time.sleep(120)"
    popen = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    process = Process(popen, ("fake", secret[:4]), workdir, time.monotonic())
    workdir.processes.append(process)
    deadline = time.monotonic() + 60
    while not printed.exists():
        assert time.monotonic() < deadline and popen.poll() is None, "the fake run did not print"
        time.sleep(0.02)
    return process


def test_the_output_of_killed_and_abandoned_runs_is_scanned(tmp_path: Path) -> None:
    transcript = Transcript()
    workdir = Workdir(tmp_path, transcript)
    killed_secret, abandoned_secret = "killed-run-secret-1", "abandoned-run-secret-2"
    transcript.secret(killed_secret, "the killed run's secret")
    transcript.secret(abandoned_secret, "the abandoned run's secret")

    killed = _printing_process(workdir, killed_secret)
    killed.signal(signal.SIGKILL)
    run = killed.killed()
    assert (run.code, run.ended, run.out) == (-signal.SIGKILL, "killed by signal 9", killed_secret + "\n")

    abandoned = _printing_process(workdir, abandoned_secret)
    workdir.stop_all()  # what the workdir fixture does when a test is over
    assert abandoned.popen.returncode == -signal.SIGKILL

    assert sorted(transcript.leaks()) == [
        f"ticketctl fake aban (in {tmp_path.name}, still running at the end of the test: killed) stdout: "
        "contains the secret from the abandoned run's secret",
        f"ticketctl fake kill (in {tmp_path.name}, killed by signal 9) stdout: contains the secret from the killed "
        "run's secret",
    ]
