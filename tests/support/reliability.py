"""The reliability suite's harness: ticketctl as a real process, every output kept, secrets hunted.

Its hooks and fixtures are in ``tests/reliability/conftest.py``.

Every test here drives ``python -m ticketctl`` in a folder of its own through
:class:`Workdir`, against the real servers of ``scripts/test-services`` (the
shared fixtures of ``tests/conftest.py``). Each run is checked for a Python
traceback, and what it printed goes into one session-wide :class:`Transcript`.
The transcript also learns every secret the suite sees: the test server's root
password, the passwords of the users a test creates, and every ``*PASSWORD``
value of each ``.env`` ticketctl writes. When the session ends, no captured
output (the runs' stdout and stderr, and what pytest captured of each test while
it ran) may contain any of those values; a leak fails the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import without_notes

# The secret-looking variables ticketctl reads (.env and the environment).
REPO = Path(__file__).resolve().parents[2]
SECRET_SUFFIX = "PASSWORD"


KEYS = ("events", "inventory", "bookings")


# Secrets shorter than this are not hunted for: "root" would match any text.
MIN_SECRET_LENGTH = 8


@dataclass
class Transcript:
    """Every output the suite captured, and every secret value it saw."""

    outputs: list[tuple[str, str]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # value -> where it was seen

    def record(self, label: str, text: str) -> None:
        if text:
            self.outputs.append((label, text))

    def secret(self, value: str | None, where: str) -> None:
        if value and len(value) >= MIN_SECRET_LENGTH:
            self.secrets.setdefault(value, where)

    def secrets_of_env_file(self, path: Path) -> None:
        """Learn every ``*PASSWORD`` value of a ``.env`` file ticketctl wrote."""
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for line in path.read_text(encoding="utf-8").splitlines():
                name, _, value = line.partition("=")
                if name.strip().endswith(SECRET_SUFFIX):
                    self.secret(value.strip(), f"{path}:{name.strip()}")

    def leaks(self) -> list[str]:
        return find_leaks(self.outputs, self.secrets)


def find_leaks(outputs: list[tuple[str, str]], secrets: Mapping[str, str]) -> list[str]:
    """One line per (output, secret) pair where the secret's value appears in the output."""
    found = []
    for label, text in outputs:
        for value, where in secrets.items():
            if value in text:
                found.append(f"{label}: contains the secret from {where}")
    return found


@dataclass
class Run:
    """One finished ``ticketctl`` process."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str
    seconds: float

    @property
    def output(self) -> str:
        return self.out + self.err

    @property
    def error_line(self) -> str:
        """The last line of stderr, which must be the one ``error: …`` line."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert lines, f"ticketctl {' '.join(self.args)} printed nothing on stderr (exit {self.code})"
        assert lines[-1].startswith("error: "), self.err
        assert sum(line.startswith("error: ") for line in lines) == 1, self.err
        return lines[-1]

    def json(self) -> Any:
        return json.loads(self.out)


def _without_settings_notes(run: Run) -> Run:
    """The run as the tests compare it: without the ``note:`` lines saying which settings file is used (a
    workdir has none, so commands that change something say so); the transcript keeps them."""
    return dataclasses.replace(run, err=without_notes(run.err))


def _check_no_traceback(run: Run, allow: bool) -> Run:
    if not allow:
        assert "Traceback" not in run.output, f"ticketctl {' '.join(run.args)} printed a traceback:\n{run.output}"
        assert 'File "' not in run.err, run.err
    return run


@dataclass
class Process:
    """A ``ticketctl`` process still running (for signals and races)."""

    popen: subprocess.Popen[str]
    args: tuple[str, ...]
    workdir: Workdir
    started: float

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, number: int) -> None:
        self.popen.send_signal(number)

    def finish(self, timeout: float = 300, *, allow_traceback: bool = False) -> Run:
        try:
            out, err = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            out, err = self.popen.communicate()
            pytest.fail(f"ticketctl {' '.join(self.args)} did not end within {timeout}s:\n{out}\n{err}")
        run = Run(self.args, self.popen.returncode, out, err, time.monotonic() - self.started)
        self.workdir.learn(run)
        return _check_no_traceback(_without_settings_notes(run), allow_traceback)


@dataclass
class Workdir:
    """A project folder of one test, its settings (as environment variables) and how to run ticketctl in it."""

    path: Path
    transcript: Transcript
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        # The caller's own TICKETCTL_* settings must not leak in; the harness' TICKETCTL_TEST_* may.
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("TICKETCTL_") or key.startswith("TICKETCTL_TEST_")
        }
        merged = {**inherited, **self.env, **(extra or {}), "NO_COLOR": "1"}
        for name, value in merged.items():
            if name.endswith(SECRET_SUFFIX) and not name.startswith("TICKETCTL_TEST_"):
                self.transcript.secret(value, f"environment {name}")
        return merged

    def command(self, args: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "ticketctl", *args]

    def run(
        self,
        *args: str,
        timeout: float = 120,
        env: Mapping[str, str] | None = None,
        allow_traceback: bool = False,
        command: list[str] | None = None,
    ) -> Run:
        started = time.monotonic()
        done = subprocess.run(
            command or self.command(args),
            cwd=self.path,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        run = Run(args, done.returncode, done.stdout, done.stderr, time.monotonic() - started)
        self.learn(run)
        return _check_no_traceback(_without_settings_notes(run), allow_traceback)

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> Process:
        popen = subprocess.Popen(
            self.command(args),
            cwd=self.path,
            env=self.environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.processes.append(popen)
        return Process(popen, args, self, time.monotonic())

    def learn(self, run: Run) -> None:
        """Keep the run's output and the secrets of any ``.env`` it may have written."""
        label = f"ticketctl {' '.join(run.args)} (in {self.path.name}, exit {run.code})"
        self.transcript.record(label + " stdout", run.out)
        self.transcript.record(label + " stderr", run.err)
        for env_file in self.path.rglob(".env"):
            self.transcript.secrets_of_env_file(env_file)

    def write(self, name: str, text: str) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def env_file(self, name: str = ".env") -> dict[str, str]:
        lines = (self.path / name).read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#"))

    def stop_all(self) -> None:
        """Kill what a failed test left running (only this test's own processes)."""
        for popen in self.processes:
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(popen.pid, signal.SIGCONT)
                popen.kill()
                popen.communicate()


@dataclass
class Databases:
    """Three databases (not created yet) and their users with ALL on them, as the stack's init script grants."""

    server: Any
    names: dict[str, str]
    users: dict[str, str]
    passwords: dict[str, str] = field(repr=False)

    def environment(self, *, root: bool = True) -> dict[str, str]:
        env = {
            "TICKETCTL_MYSQL__HOST": self.server.host,
            "TICKETCTL_MYSQL__PORT": str(self.server.port),
            "TICKETCTL_MYSQL__ROOT_USER": self.server.root_user,
            "TICKETCTL_DOCKER__ENABLED": "false",
        }
        for key in KEYS:
            env[f"TICKETCTL_MYSQL__{key.upper()}__NAME"] = self.names[key]
            env[f"TICKETCTL_MYSQL__{key.upper()}__USER"] = self.users[key]
            env[f"{key.upper()}_DB_PASSWORD"] = self.passwords[key]
        if root:
            env["MYSQL_ROOT_PASSWORD"] = self.server.root_password
        return env

    def query(self, key: str | None, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        """SQL as root, in one of the test's databases (or none)."""
        database = self.names[key] if key else None
        with self.server.connect(database=database) as connection, connection.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())

    def history(self, key: str) -> list[dict[str, Any]]:
        import pymysql

        connection = self.server.connect(database=self.names[key])
        try:
            with connection.cursor(pymysql.cursors.DictCursor) as cursor:
                cursor.execute("SELECT * FROM ticketctl_schema_history ORDER BY version")
                return list(cursor.fetchall())
        finally:
            connection.close()

    def exists(self, key: str) -> bool:
        rows = self.query(
            None, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (self.names[key],)
        )
        return bool(rows[0][0])


def write_migration(workdir: Workdir, key: str, filename: str, sql: str) -> Path:
    return workdir.write(f"schemas/{key}/{filename}", sql)


def free_port() -> int:
    """A free loopback port in 30000-32699, below Linux's ephemeral range, so no client takes it meanwhile."""
    import random

    while True:
        port = random.randrange(30000, 32700)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    return free_port()


def changed_mapping(workdir: Workdir) -> Path:
    """The packaged mapping with an analyzer change, which needs a new version and a reindex."""
    document = json.loads((REPO / "mappings" / "events.json").read_text(encoding="utf-8"))
    analyzer = document["settings"]["analysis"]["analyzer"]["event_name_analyzer"]
    analyzer["filter"] = ["word_delimiter_graph", "lowercase", "asciifolding"]
    document["mappings"]["_meta"]["schema_version"] = 2
    return workdir.write("changed.json", json.dumps(document, indent=2, ensure_ascii=False))


def index_documents(server: Any, alias: str, count: int) -> None:
    lines = []
    for number in range(count):
        lines.append(json.dumps({"index": {"_index": alias, "_id": str(number)}}))
        lines.append(
            json.dumps({"eventId": number, "name": f"Concert {number}", "city": "São Paulo", "tags": ["music"]})
        )
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}/_bulk?refresh=true",
        data=("\n".join(lines) + "\n").encode(),
        method="POST",
        headers={"Content-Type": "application/x-ndjson"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert json.loads(answer.read())["errors"] is False
