"""Real servers in the roles of managed services, with TLS and credentials, on 127.0.0.1.

Which real server plays which managed service:

* a managed MySQL that requires TLS (RDS, Cloud SQL, Azure Database): :class:`PrivateMariaDB`,
  Debian's ``mariadbd`` 10.11 with a datadir of its own, ``--ssl-ca/--ssl-cert/--ssl-key`` and
  ``--require-secure-transport``, whose accounts ``REQUIRE SSL`` (or ``X509``);
* a hosted OpenSearch cluster behind https and basic auth (Amazon OpenSearch Service, Aiven, a
  company's cluster): :class:`NginxFront`, Debian's nginx terminating TLS with ``auth_basic`` in
  front of the shared OpenSearch 3.6.0 of ``scripts/test-services``;
* a managed Redis with in-transit encryption and AUTH (ElastiCache, Azure Cache, Memorystore):
  :class:`PrivateRedis`, Debian's ``redis-server`` 7.0 on a ``--tls-port`` only, with ``requirepass``.

:class:`tests.support.tls.Pki` makes the certificates with the ``cryptography``
package. Each server runs as a child process of the test session, in a temporary
directory of its own, and is stopped and removed afterwards; of the shared test
servers only OpenSearch is involved, and it sees only the proxied requests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.requirements import MARIADBD, NGINX, REDIS_SERVER
from tests.support.tls import LOOPBACK


class ServerStartError(RuntimeError):
    """A private server did not start; the message holds the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def server_directory(prefix: str) -> Path:
    """A fresh directory that a server dropping to another user (mysql) can read.

    pytest's ``tmp_path`` is private to root (0700 up the tree), so servers get
    a directory of their own under the system's temporary folder.
    """
    directory = Path(tempfile.mkdtemp(prefix=f"tkt-{prefix}-"))
    directory.chmod(0o755)
    return directory


def wait_for(condition: Any, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception as error:
            last = error
        time.sleep(0.2)
    raise ServerStartError(f"{what} did not become ready within {timeout:g}s (last error: {last}){_tail(log)}")


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    return "\n--- " + str(log) + "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


# ---------------------------------------------------------------- MariaDB with TLS required


def _server_user(name: str) -> str | None:
    """The system user a server drops to when started as root (None when not root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(name)
    except KeyError:
        return None
    return name


@dataclass
class PrivateMariaDB:
    """A short-lived MariaDB that accepts TCP only over TLS, with the given certificate."""

    directory: Path
    port: int
    cert: Path
    key: Path
    ca: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.directory / "mysqld.sock"

    @property
    def log(self) -> Path:
        return self.directory / "error.log"

    def start(self) -> PrivateMariaDB:
        binary = MARIADBD.require()
        user = _server_user("mysql")
        datadir = self.directory / "data"
        datadir.mkdir()
        user_args = [f"--user={user}"] if user else []
        if user:
            shutil.chown(self.directory, user)
            shutil.chown(datadir, user)
        install = subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                *user_args,
                f"--datadir={datadir}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if install.returncode != 0:
            raise ServerStartError(f"mariadb-install-db failed: {install.stdout[-2000:]}{install.stderr[-2000:]}")
        self.process = subprocess.Popen(
            [
                binary,
                "--no-defaults",
                *user_args,
                f"--datadir={datadir}",
                f"--socket={self.socket}",
                f"--pid-file={self.directory / 'mariadbd.pid'}",
                f"--port={self.port}",
                f"--bind-address={LOOPBACK}",
                "--skip-name-resolve",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                f"--ssl-ca={self.ca}",
                f"--ssl-cert={self.cert}",
                f"--ssl-key={self.key}",
                "--require-secure-transport=ON",
                "--innodb-buffer-pool-size=32M",
                f"--log-error={self.log}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, 60, f"MariaDB on {LOOPBACK}:{self.port}", self.log)
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServerStartError(f"mariadbd exited with {self.process.returncode}{_tail(self.log)}")
        self.admin("SELECT 1")
        return True

    def admin(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        """Run SQL as root over the Unix socket (root logs in by socket authentication)."""
        import pymysql

        connection = pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True, connect_timeout=2)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def create_user(self, name: str, password: str, *, requirement: str = "SSL", grant: str | None = None) -> None:
        """``name@'%'`` that must log in over TLS (``REQUIRE SSL``, or ``X509`` for a client certificate)."""
        self.admin(f"CREATE USER '{name}'@'%%' IDENTIFIED BY %s REQUIRE {requirement}", (password,))
        if grant:
            self.admin(grant.format(user=f"'{name}'@'%'"))

    def stop(self) -> None:
        stop_process(self.process, timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)


# ---------------------------------------------------------------- Redis over TLS only


@dataclass
class PrivateRedis:
    """A Redis that listens only on a TLS port and requires a password."""

    directory: Path
    port: int
    cert: Path
    key: Path
    ca: Path
    password: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER.require(),
                "--bind",
                LOOPBACK,
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(self.cert),
                "--tls-key-file",
                str(self.key),
                "--tls-ca-cert-file",
                str(self.ca),
                "--tls-auth-clients",
                "no",
                "--requirepass",
                self.password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, 20, f"Redis (TLS) on {LOOPBACK}:{self.port}", self.log)
        return self

    def client(self) -> Any:
        import redis

        return redis.Redis(
            host=LOOPBACK,
            port=self.port,
            password=self.password,
            ssl=True,
            ssl_ca_certs=str(self.ca),
            ssl_check_hostname=False,  # a readiness probe; the certificate may name another host on purpose
            socket_timeout=5,
            decode_responses=True,
        )

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServerStartError(f"redis-server exited with {self.process.returncode}{_tail(self.log)}")
        client = self.client()
        try:
            return bool(client.ping())
        finally:
            client.close()

    def stop(self) -> None:
        stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


# ---------------------------------------------------------------- nginx: https and basic auth


def ssha_entry(user: str, password: str) -> str:
    """An htpasswd line in nginx's own ``{SSHA}`` scheme: base64(sha1(password + salt) + salt)."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}\n"


@dataclass
class NginxFront:
    """nginx terminating TLS with basic auth in front of an http:// upstream (the shared OpenSearch)."""

    directory: Path
    port: int
    cert: Path
    key: Path
    ca: Path
    upstream: str
    user: str
    password: str
    # A second https port whose certificate names another host (for the name-mismatch test).
    other_host: tuple[int, Path, Path] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def other_host_url(self) -> str:
        assert self.other_host is not None
        return f"https://{LOOPBACK}:{self.other_host[0]}"

    @property
    def log(self) -> Path:
        return self.directory / "error.log"

    def _server(self, port: int, cert: Path, key: Path) -> str:
        upstream = self.upstream.removeprefix("http://").rstrip("/")
        return f"""
    server {{
        listen {LOOPBACK}:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        auth_basic "hosted search";
        auth_basic_user_file {self.directory}/htpasswd;
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "";
            proxy_read_timeout 120s;
        }}
    }}"""

    def config(self) -> str:
        d = self.directory
        servers = self._server(self.port, self.cert, self.key)
        if self.other_host is not None:
            servers += self._server(*self.other_host)
        return f"""\
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    client_max_body_size 64m;{servers}
}}
"""

    def start(self) -> NginxFront:
        (self.directory / "tmp").mkdir(parents=True, exist_ok=True)
        (self.directory / "htpasswd").write_text(ssha_entry(self.user, self.password))
        conf = self.directory / "nginx.conf"
        conf.write_text(self.config())
        binary = NGINX.require()
        self.process = subprocess.Popen(
            [binary, "-p", str(self.directory), "-c", str(conf), "-e", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, 20, f"nginx on {self.url}", self.log)
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServerStartError(f"nginx exited with {self.process.returncode}{_tail(self.log)}")
        context = ssl.create_default_context(cafile=str(self.ca))
        with (
            socket.create_connection((LOOPBACK, self.port), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname=LOOPBACK) as tls,
        ):
            tls.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return tls.recv(64).startswith(b"HTTP/1.1 401")

    def access_log(self) -> str:
        """What nginx logged: one line per request with the authenticated user ($remote_user)."""
        path = self.directory / "access.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.directory)
