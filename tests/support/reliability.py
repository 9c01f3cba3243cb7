"""The reliability suite's harness: ticketctl as a real process, every output kept, secrets hunted.

Its hooks and fixtures are in ``tests/reliability/conftest.py``.

Every test here drives ``python -m ticketctl`` in a folder of its own through
:class:`Workdir`, against the real servers of ``scripts/test-services`` (the
shared fixtures of ``tests/conftest.py``). Each run is checked for a Python
traceback, and what it printed goes into one session-wide :class:`Transcript`,
whether it ended by itself or was killed or interrupted by the test.

The transcript also learns every secret the suite sees: the test server's root
password, the passwords of the users a test creates, every secret ticketctl
reads (the names of ``STACK_SECRETS`` and ``OPTIONAL_SECRETS``, and any other
``*PASSWORD``) from the environment of a run and from each ``.env``, and the
password in the userinfo of every URL-valued setting (``TICKETCTL_SEARCH__URL``,
or a URL in ``ticketctl.yaml``). When the session ends, no captured output (the
runs' stdout and stderr, and what pytest captured of each test while it ran) may
contain any of those secrets in any form it takes on the way out: as it is,
percent-encoded, base64-encoded (alone, as in a Kubernetes Secret, or with a user
name, as in a Basic auth header), or cut to a prefix of 8 characters or more. A
leak fails the run.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import without_notes
from ticketctl.config.masking import url_password
from ticketctl.config.secrets import OPTIONAL_SECRETS, STACK_SECRETS
from ticketctl.config.settings import CONFIG_FILENAME, FIELDS

REPO = Path(__file__).resolve().parents[2]
# Every secret ticketctl reads from .env or the environment, by its own declaration; and any other
# variable that says it holds a password.
SECRET_NAMES = frozenset(spec.name for spec in (*STACK_SECRETS, *OPTIONAL_SECRETS))
SECRET_SUFFIX = "PASSWORD"
# The variables of the settings that are URLs: the password of their userinfo is a secret.
URL_SETTING_VARIABLES = frozenset(spec.env_var for spec in FIELDS.values() if spec.url)
# The harness's own variables (scripts/test-services env): their passwords are fixed development values.
HARNESS_PREFIX = "TICKETCTL_TEST_"


KEYS = ("events", "inventory", "bookings")


# Secrets shorter than this are not hunted for ("root" would match any text), and a prefix of a
# secret is a leak from this length on.
MIN_SECRET_LENGTH = 8


def is_secret_variable(name: str) -> bool:
    return name in SECRET_NAMES or (name.endswith(SECRET_SUFFIX) and not name.startswith(HARNESS_PREFIX))


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

    def secrets_of_environment(self, environment: Mapping[str, str], where: str = "environment") -> None:
        """Learn every secret ticketctl reads from these variables, URL settings' passwords included."""
        for name, value in environment.items():
            if is_secret_variable(name):
                self.secret(value, f"{where} {name}")
            elif name in URL_SETTING_VARIABLES:
                self.secret(_unquoted(url_password(value)), f"{where} {name} (the password of its URL)")

    def secrets_of_env_file(self, path: Path) -> None:
        """Learn every secret of a ``.env`` file ticketctl wrote (or a test wrote for it)."""
        with contextlib.suppress(OSError, UnicodeDecodeError):
            values = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                name, _, value = line.partition("=")
                values[name.strip()] = value.strip()
            self.secrets_of_environment(values, str(path))

    def secrets_of_settings_file(self, path: Path) -> None:
        """Learn the password of every URL with userinfo in a ``ticketctl.yaml``."""
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for url in re.findall(r"[A-Za-z][A-Za-z0-9+.-]*://\S+", path.read_text(encoding="utf-8")):
                self.secret(_unquoted(url_password(url)), f"{path} (the password of {url.split('@')[-1]})")

    def leaks(self) -> list[str]:
        return find_leaks(self.outputs, self.secrets, whole_only=fixed_harness_secrets())


def _unquoted(password: str | None) -> str | None:
    """A URL's password as the server gets it (``p%40ss`` is ``p@ss``); the encoded form is hunted too."""
    return urllib.parse.unquote(password) if password else None


def fixed_harness_secrets(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The harness's fixed development passwords (``TICKETCTL_TEST_*PASSWORD``, e.g. ``ticketctl-test-root``).

    They are hunted whole, in every encoding, but not by prefix: ``ticketctl-test-root``
    begins with the program's own name, which every output may print.
    """
    environ = os.environ if environ is None else environ
    return frozenset(
        value for name, value in environ.items() if name.startswith(HARNESS_PREFIX) and name.endswith(SECRET_SUFFIX)
    )


# --------------------------------------------------------------------------- the forms of a secret on the way out

# Runs of base64 (standard or URL-safe alphabet) long enough to hold 8 characters of a secret.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")


def base64_decodings(text: str) -> str:
    """Everything the base64 runs of ``text`` decode to, one per line (Basic auth headers, Secret data).

    A run may start anywhere in an encoded block (``Basic dXNl…`` or ``pw=c2VjcmV0…``), so each run is
    decoded from each of its first four characters.
    """
    decoded = []
    for run in _BASE64_RUN.findall(text):
        standard = run.rstrip("=").replace("-", "+").replace("_", "/")
        for start in range(4):
            chunk = standard[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            if len(chunk) < 12:
                break
            with contextlib.suppress(binascii.Error, ValueError):
                decoded.append(base64.b64decode(chunk, validate=True).decode("latin-1"))
    return "\n".join(decoded)


def percent_decoded(text: str) -> str:
    """``text`` with percent-escapes (and ``+`` of form encoding) decoded: a secret inside a URL or a query."""
    return urllib.parse.unquote_plus(text)


def leak_forms(text: str) -> dict[str, str]:
    """The views of an output in which a secret is looked for, by the form the secret would take there."""
    views = {"as it is": text}
    unquoted = percent_decoded(text)
    if unquoted != text:
        views["percent-encoded"] = unquoted
    decoded = base64_decodings(text)
    if decoded:
        views["base64-encoded"] = decoded
    return views


def _leaked(value: str, views: Mapping[str, str], *, by_prefix: bool) -> str | None:
    """What of ``value`` the views show: the whole secret in some form, else a prefix of it, else None."""
    for form, view in views.items():
        if value in view:
            return "the secret" if form == "as it is" else f"the secret, {form},"
    if by_prefix:
        for form, view in views.items():
            if value[:MIN_SECRET_LENGTH] in view:
                return "a prefix of the secret" if form == "as it is" else f"a prefix of the secret, {form},"
    return None


def find_leaks(
    outputs: Iterable[tuple[str, str]], secrets: Mapping[str, str], *, whole_only: Iterable[str] = ()
) -> list[str]:
    """One line per (output, secret) where the secret appears, whole or as a prefix of 8+ characters, in any form.

    ``whole_only`` are secrets not hunted by prefix (see :func:`fixed_harness_secrets`).
    """
    whole = frozenset(whole_only)
    found = []
    for label, text in outputs:
        views = leak_forms(text)
        for value, where in secrets.items():
            what = _leaked(value, views, by_prefix=value not in whole)
            if what:
                found.append(f"{label}: contains {what} from {where}")
    return found


@dataclass
class Run:
    """One finished ``ticketctl`` process."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str
    seconds: float
    ended: str = ""  # how a run that did not end by itself ended ("killed by signal 9")

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
    """A ``ticketctl`` process still running (for signals and races).

    However it ends (by itself, by a signal of the test, or stopped when the test is over), what it
    printed goes into the transcript: :meth:`finish` and :meth:`killed` collect it, and the workdir
    collects what a test left behind.
    """

    popen: subprocess.Popen[str]
    args: tuple[str, ...]
    workdir: Workdir
    started: float
    collected: Run | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, number: int) -> None:
        self.popen.send_signal(number)

    def finish(self, timeout: float = 300, *, allow_traceback: bool = False) -> Run:
        """Wait for the process to end by itself; its output, checked for a traceback."""
        try:
            out, err = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            run = self.collect("did not end in time: killed")
            pytest.fail(f"ticketctl {' '.join(self.args)} did not end within {timeout}s:\n{run.out}\n{run.err}")
        return _check_no_traceback(_without_settings_notes(self._record(out, err)), allow_traceback)

    def killed(self, timeout: float = 30) -> Run:
        """Wait for a process the test sent a fatal signal (``kill -9``); its output (no traceback check)."""
        out, err = self.popen.communicate(timeout=timeout)
        return self._record(out, err)

    def collect(self, note: str) -> Run:
        """The output of a process the test did not wait for: killed first if it still runs, then recorded."""
        if self.collected is not None:
            return self.collected
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGCONT)  # a stopped process must be able to die
            self.popen.kill()
        out, err = self.popen.communicate()
        return self._record(out, err, note)

    def _record(self, out: str, err: str, note: str = "") -> Run:
        code = self.popen.returncode
        ended = note or (f"killed by signal {-code}" if code < 0 else "")
        self.collected = Run(self.args, code, out, err, time.monotonic() - self.started, ended)
        self.workdir.learn(self.collected)
        return self.collected


@dataclass
class Workdir:
    """A project folder of one test, its settings (as environment variables) and how to run ticketctl in it."""

    path: Path
    transcript: Transcript
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        # The caller's own TICKETCTL_* settings must not leak in; the harness' TICKETCTL_TEST_* may.
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("TICKETCTL_") or key.startswith("TICKETCTL_TEST_")
        }
        merged = {**inherited, **self.env, **(extra or {}), "NO_COLOR": "1"}
        self.transcript.secrets_of_environment(merged)
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
        process = Process(popen, args, self, time.monotonic())
        self.processes.append(process)
        return process

    def learn(self, run: Run) -> None:
        """Keep the run's output and the secrets of any ``.env`` or settings file of its folder."""
        label = f"ticketctl {' '.join(run.args)} (in {self.path.name}, {run.ended or f'exit {run.code}'})"
        self.transcript.record(label + " stdout", run.out)
        self.transcript.record(label + " stderr", run.err)
        for env_file in self.path.rglob(".env"):
            self.transcript.secrets_of_env_file(env_file)
        for settings_file in self.path.rglob(CONFIG_FILENAME):
            self.transcript.secrets_of_settings_file(settings_file)

    def write(self, name: str, text: str) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def env_file(self, name: str = ".env") -> dict[str, str]:
        lines = (self.path / name).read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#"))

    def stop_all(self) -> None:
        """At the end of a test: kill what it left running (only its own processes) and keep every output."""
        for process in self.processes:
            process.collect("still running at the end of the test: killed")


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
