"""MySQL connections for ``migrate`` and ``doctor``.

Every connection made here:

* pins its session: ``sql_mode`` (MySQL 8's strict default), ``utf8mb4`` with
  ``utf8mb4_unicode_ci`` (a collation both MySQL 8 and MariaDB have), UTC
  ``time_zone``, and bounded lock waits, so a migration behaves the same
  whatever the server's own defaults are;
* knows which server it talks to (:class:`ServerInfo`: MySQL or MariaDB, and
  the version);
* turns every ``pymysql`` error into a :class:`ServerError` (a
  :class:`~ticketctl.errors.DatabaseError`) whose one-line message names the
  server, the user and the database, and whose hint is the fix. Passwords never
  appear in a message.

An account's password never appears in SQL text either (:func:`identified_by`):
``CREATE USER ... IDENTIFIED BY '<password>'`` is written verbatim to MariaDB's
general and binary logs (measured on 10.11; MySQL 8 rewrites it) and shows in
``SHOW PROCESSLIST`` while it runs, and a bound parameter changes nothing,
because pymysql interpolates it into the text. ticketctl sends the hash that the
server would store, computed here for the server's authentication plugin.

pymysql is imported inside the functions: ``ticketctl --help`` does not pay for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ticketctl.clients import tls
from ticketctl.errors import ConfigError, DatabaseError, TicketctlError

if TYPE_CHECKING:
    import pymysql

    from ticketctl.config.settings import DatabaseSettings, MySQLSettings, Settings

# MySQL 8's own default sql_mode: strict, no zero dates.
SESSION_SQL_MODE = ",".join(
    (
        "ONLY_FULL_GROUP_BY",
        "STRICT_TRANS_TABLES",
        "NO_ZERO_IN_DATE",
        "NO_ZERO_DATE",
        "ERROR_FOR_DIVISION_BY_ZERO",
        "NO_ENGINE_SUBSTITUTION",
    )
)
SESSION_CHARSET = "utf8mb4"
SESSION_COLLATION = "utf8mb4_unicode_ci"
SESSION_TIME_ZONE = "+00:00"
# Seconds a statement waits for a row lock (InnoDB) or a metadata lock (DDL on a busy
# table) before it fails, instead of queueing the application's queries behind it.
SESSION_LOCK_WAIT_SECONDS = 30

ROOT_PASSWORD_SECRET = "MYSQL_ROOT_PASSWORD"

# MySQL client and server error numbers that this module gives their own message.
ER_DBACCESS_DENIED = 1044
ER_ACCESS_DENIED = 1045
# "Access denied for user" without "(using password: ...)": how MariaDB refuses a user it does not
# know on a datadir like the official images' (root by socket; measured on the local image).
ER_ACCESS_DENIED_NO_PASSWORD = 1698
ER_BAD_DB = 1049
ER_TABLEACCESS_DENIED = 1142
ER_NO_SUCH_TABLE = 1146
ER_SPECIFIC_ACCESS_DENIED = 1227
CR_CONNECTION_ERROR = 2002
CR_CONN_HOST_ERROR = 2003
CR_UNKNOWN_HOST = 2005
CR_SERVER_GONE = 2006
CR_SERVER_LOST = 2013
CR_SSL_CONNECTION_ERROR = 2026
ER_SECURE_TRANSPORT_REQUIRED = 3159  # MySQL 8 with require_secure_transport (MariaDB answers 1045)
_UNREACHABLE = {CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, CR_SERVER_GONE, CR_SERVER_LOST}
# A refused login: a wrong password, or a user that does not exist.
LOGIN_REFUSED = frozenset({ER_ACCESS_DENIED, ER_ACCESS_DENIED_NO_PASSWORD})
DENIED = {ER_DBACCESS_DENIED, *LOGIN_REFUSED, ER_TABLEACCESS_DENIED, ER_SPECIFIC_ACCESS_DENIED}
# The connection broke under a statement: the server restarted, was killed, or the network dropped.
CONNECTION_LOST = {CR_SERVER_GONE, CR_SERVER_LOST}

_TLS_FIXES = tls.Fixes(
    host="set mysql.host to a name that the server's certificate lists (the endpoint your provider gives)",
    ca="set mysql.ssl_ca to the CA bundle that signed the server's certificate (your provider publishes it)",
    other="check mysql.ssl_ca, mysql.ssl_cert and mysql.ssl_key, and that mysql.port is the MySQL port",
)
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


class ServerError(DatabaseError):
    """A MySQL error, with the server's error number (``None`` when not from the server)."""

    def __init__(self, message: str, *, hint: str | None = None, errno: int | None = None, detail: str = ""):
        super().__init__(message, hint=hint)
        self.errno = errno
        self.detail = detail or message  # the server's own text, for history records


@dataclass(frozen=True)
class ServerInfo:
    """Which server a connection talks to: MySQL or MariaDB, and its version."""

    flavor: str  # "mysql" or "mariadb"
    version: tuple[int, int, int]
    version_string: str

    @classmethod
    def parse(cls, version_string: str) -> ServerInfo:
        """Parse ``SELECT VERSION()``: ``8.4.3`` or ``10.11.19-MariaDB-0+deb12u1``.

        MariaDB's handshake adds a ``5.5.5-`` prefix for old clients; it is dropped.
        """
        version_string = version_string.removeprefix("5.5.5-")
        match = _VERSION_RE.match(version_string)
        version = (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else (0, 0, 0)
        flavor = "mariadb" if "mariadb" in version_string.lower() else "mysql"
        return cls(flavor=flavor, version=version, version_string=version_string)

    @property
    def label(self) -> str:
        name = "MariaDB" if self.flavor == "mariadb" else "MySQL"
        return f"{name} {'.'.join(str(part) for part in self.version)}"

    @property
    def is_mariadb(self) -> bool:
        return self.flavor == "mariadb"


@dataclass(frozen=True)
class Credentials:
    """A MySQL user, its password, and the secret the password came from (for hints)."""

    user: str
    password: str
    secret: str

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=***, secret={self.secret!r})"


def app_credentials(database: DatabaseSettings, secrets: Mapping[str, str]) -> Credentials:
    """The application user of one database; its password is ``<KEY>_DB_PASSWORD``."""
    password = secrets.get(database.password_env)
    if not password:
        raise ConfigError(
            f"{database.password_env}: secret not found in .env or the environment (password of {database.user})",
            hint="run 'ticketctl render' to generate .env, or export the variable",
        )
    return Credentials(database.user, password, database.password_env)


def root_credentials(settings: Settings, secrets: Mapping[str, str]) -> Credentials | None:
    """The administrative user (``mysql.root_user``), or None without ``MYSQL_ROOT_PASSWORD``."""
    password = secrets.get(ROOT_PASSWORD_SECRET)
    if not password:
        return None
    return Credentials(settings.mysql.root_user, password, ROOT_PASSWORD_SECRET)


class Session:
    """One MySQL connection with pinned session settings; every error is a :class:`ServerError`."""

    def __init__(self, connection: pymysql.connections.Connection[Any], server: ServerInfo, where: str):
        self._connection = connection
        self.server = server
        self.where = where  # user@host:port/database, for messages

    @property
    def connection_id(self) -> int:
        return int(self._connection.thread_id())  # type: ignore[no-untyped-call]

    def execute(self, sql: str, args: tuple[Any, ...] | None = None) -> int:
        """Run one statement; returns the affected row count. ``args`` are escaped by pymysql."""
        import pymysql

        try:
            with self._connection.cursor() as cursor:
                return int(cursor.execute(sql, args))
        except pymysql.err.MySQLError as error:
            raise translate(error, where=self.where) from error

    def query(self, sql: str, args: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        import pymysql

        try:
            with self._connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        except pymysql.err.MySQLError as error:
            raise translate(error, where=self.where) from error

    def query_one(self, sql: str, args: tuple[Any, ...] | None = None) -> tuple[Any, ...] | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def commit(self) -> None:
        import pymysql

        try:
            self._connection.commit()
        except pymysql.err.MySQLError as error:
            raise translate(error, where=self.where) from error

    def rollback(self) -> None:
        """Roll back; a connection that is already gone is not an error here."""
        import pymysql

        with contextlib.suppress(pymysql.err.MySQLError):
            self._connection.rollback()

    def close(self) -> None:
        import pymysql

        with contextlib.suppress(pymysql.err.Error):
            self._connection.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def connect(
    mysql: MySQLSettings,
    credentials: Credentials,
    *,
    database: str | None = None,
    autocommit: bool = True,
    local_infile: bool = False,
) -> Session:
    """Open a session as ``credentials`` (on ``database`` when given) with the pinned settings.

    ``local_infile`` lets the session send files with ``LOAD DATA LOCAL INFILE``
    (the bulk loader of ``seed``); the server names the file it asks for, so only a
    session that runs nothing else should have it.
    """
    import pymysql

    where = f"{credentials.user}@{mysql.host}:{mysql.port}" + (f"/{database}" if database else "")
    tls_options = _tls_options(mysql)
    try:
        connection = pymysql.connect(
            host=mysql.host,
            port=mysql.port,
            user=credentials.user,
            password=credentials.password,
            database=database,
            charset=SESSION_CHARSET,
            connect_timeout=max(1, round(mysql.connect_timeout)),
            autocommit=autocommit,
            local_infile=local_infile,
            **tls_options,
            init_command=(
                f"SET NAMES {SESSION_CHARSET} COLLATE {SESSION_COLLATION}, "
                f"SESSION sql_mode = '{SESSION_SQL_MODE}', "
                f"SESSION time_zone = '{SESSION_TIME_ZONE}', "
                f"SESSION innodb_lock_wait_timeout = {SESSION_LOCK_WAIT_SECONDS}, "
                f"SESSION lock_wait_timeout = {SESSION_LOCK_WAIT_SECONDS}"
            ),
        )
    except pymysql.err.MySQLError as error:
        failure = tls.failure_of(error)
        if failure is not None:
            raise _tls_error(mysql, failure) from error
        raise translate(
            error, where=where, credentials=credentials, database=database, tls_configured="ssl" in tls_options
        ) from error
    version = connection.get_server_info()  # type: ignore[no-untyped-call]
    return Session(connection, ServerInfo.parse(str(version)), where)


def login_probe(settings: Settings, *, timeout: float = 3.0) -> Callable[[str, int, str, str], bool | None]:
    """``probe(host, port, secret, password)``: whether MySQL on ``host:port`` accepts the account whose password
    is ``secret`` (``MYSQL_ROOT_PASSWORD`` or a database's password variable) with ``password``; None when it
    cannot tell (another secret, no answer, another error). For a container of the stack on a port this host
    publishes, so TLS settings meant for a managed server are not used."""
    users = {database.password_env: database.user for database in settings.mysql.databases}
    users[ROOT_PASSWORD_SECRET] = settings.mysql.root_user

    def probe(host: str, port: int, secret: str, password: str) -> bool | None:
        if secret not in users:
            return None
        mysql = replace(
            settings.mysql, host=host, port=port, connect_timeout=timeout, ssl_ca=None, ssl_cert=None, ssl_key=None
        )
        try:
            with connect(mysql, Credentials(users[secret], password, secret)):
                return True
        except ServerError as error:
            return False if error.errno in LOGIN_REFUSED else None
        except TicketctlError:
            return None

    return probe


def _tls_options(mysql: MySQLSettings) -> dict[str, Any]:
    """Verified TLS when ``mysql.ssl_ca`` or a client certificate is set; none on loopback; else opportunistic.

    Opportunistic TLS (pymysql's default) builds an SSL context with the
    system's CA store for every connection (about 35 ms measured here) to
    encrypt without verifying anyone; on 127.0.0.1 that buys nothing.
    """
    if mysql.ssl_ca or mysql.ssl_cert:
        return {"ssl": tls_context(mysql)}
    if mysql.host in _LOOPBACK_HOSTS:
        return {"ssl_disabled": True}
    return {}


def tls_context(mysql: MySQLSettings) -> ssl.SSLContext:
    """TLS that verifies the server's certificate (against ``mysql.ssl_ca``, else the system's CAs) and its name.

    A file that is missing or is not PEM is a :class:`ConfigError` naming its setting.
    """
    context = tls.verifying_context(
        _readable(mysql.ssl_ca, "mysql.ssl_ca"),
        "mysql.ssl_ca",
        hint="point mysql.ssl_ca at the CA bundle (PEM) that your MySQL provider publishes",
    )
    # As pymysql does: MySQL's self-made certificates fail Python 3.13's strict X.509 checks.
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    cert = _readable(mysql.ssl_cert, "mysql.ssl_cert")
    if cert is not None:
        key = _readable(mysql.ssl_key, "mysql.ssl_key")
        try:
            context.load_cert_chain(cert, keyfile=key)
        except ssl.SSLError as error:
            raise ConfigError(
                f"mysql.ssl_cert: cannot use {cert} with the key {key or '(in the same file)'}: {tls.one_line(error)}",
                hint="mysql.ssl_cert and mysql.ssl_key must be the PEM certificate and its unencrypted private key",
            ) from error
    return context


def _readable(path: str | None, setting: str) -> str | None:
    return tls.readable(path, setting, hint=f"set {setting} to an existing file readable by this user")


def _tls_error(mysql: MySQLSettings, error: ssl.SSLError) -> ServerError:
    peer = tls.Peer(
        f"MySQL at {mysql.host}:{mysql.port}",
        repr(mysql.host),
        "mysql.ssl_ca",
        mysql.ssl_ca,
        _TLS_FIXES,
        certificate="the server's TLS certificate",
        failed="TLS handshake failed",
        unset_ca_named=False,
    )
    problem = tls.describe_failure(error, peer)
    return ServerError(problem.message, hint=problem.hint, detail=problem.reason)


def translate(
    error: pymysql.err.MySQLError,
    *,
    where: str,
    credentials: Credentials | None = None,
    database: str | None = None,
    tls_configured: bool = True,
) -> ServerError:
    """A one-line :class:`ServerError` for a pymysql error, naming the server and the fix.

    ``tls_configured`` False says the connection was made without ``mysql.ssl_ca``:
    then a denied login may be an account that requires TLS, and the hint says so.
    """
    errno, text = _error_parts(error)
    user, _, server = where.partition("@")
    address = server.split("/", 1)[0]
    explained = _EXPLAINED.get(errno) if errno is not None else None
    if explained is None:
        return ServerError(f"MySQL at {address} ({user}): error {errno}: {text}", errno=errno, detail=text)
    values = {
        "address": address,
        "user": user,
        "text": text,
        "database": database or "",
        "name": database or "the database",
        "secret": credentials.secret if credentials else "the password",
        "unencrypted": "" if tls_configured else _UNENCRYPTED_LOGIN,
    }
    message, hint = (template.format_map(values) for template in explained)
    return ServerError(message, hint=hint, errno=errno, detail=text)


# errno -> (message, hint) of :func:`translate`, formatted with the values it names.
_EXPLAINED: dict[int, tuple[str, str]] = {
    **dict.fromkeys(
        _UNREACHABLE,
        (
            "cannot connect to MySQL at {address}: {text}",
            "start the stack with 'ticketctl up', or check mysql.host and mysql.port",
        ),
    ),
    **dict.fromkeys(
        LOGIN_REFUSED,
        (
            "MySQL at {address} denied access to user '{user}': {text}",
            "check that {secret} (in .env or the environment) is this user's password on the server{unencrypted}",
        ),
    ),
    ER_SECURE_TRANSPORT_REQUIRED: (
        "MySQL at {address} accepts only TLS connections: {text}",
        "set mysql.ssl_ca to the CA bundle that signed the server's certificate",
    ),
    CR_SSL_CONNECTION_ERROR: (
        "MySQL at {address} does not offer TLS, but mysql.ssl_ca or mysql.ssl_cert asks for it",
        "enable TLS on the server, or unset mysql.ssl_ca and mysql.ssl_cert",
    ),
    ER_DBACCESS_DENIED: (
        "MySQL at {address}: user '{user}' has no privileges on database {name} (or it does not exist): {text}",
        "as an administrator: GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'%'",
    ),
    ER_BAD_DB: (
        "MySQL at {address}: database {database} does not exist",
        "'ticketctl migrate' creates it when the credentials allow",
    ),
}
# Without mysql.ssl_ca a denied login may be an account that requires TLS.
_UNENCRYPTED_LOGIN = "; an account that requires TLS is denied so too: then set mysql.ssl_ca"


def _error_parts(error: Exception) -> tuple[int | None, str]:
    args: tuple[Any, ...] = tuple(error.args)
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], " ".join(str(args[1]).split())
    return None, " ".join(str(error).split()) or type(error).__name__


class CreateDenied(ServerError):
    """Every user tried lacks the CREATE privilege for a database; ``denials``: who, and the server's words."""

    def __init__(self, name: str, denials: tuple[tuple[str, str], ...], errno: int | None):
        who = " and ".join(user for user, _ in denials)
        super().__init__(f"{who} may not create database {name}", detail=denials[-1][1] if denials else "", errno=errno)
        self.name = name
        self.denials = denials


def create_database(
    mysql: MySQLSettings, candidates: Sequence[Credentials], name: str, *, charset: str, collation: str
) -> Credentials:
    """``CREATE DATABASE IF NOT EXISTS name`` as the first of ``candidates`` allowed to; returns who did.

    A denial moves on to the next user; any other error (unreachable) is raised
    at once, and so is a refused login of the first user (the one the verb works
    as). A refused login of a later user (the root fallback, whose password in
    ``.env`` need not be the server's) counts as its denial. When all are
    denied, :class:`CreateDenied`.
    """
    sql = f"CREATE DATABASE IF NOT EXISTS {quote_identifier(name)} CHARACTER SET {charset} COLLATE {collation}"
    denials: list[tuple[str, str]] = []
    errno = None
    for position, credentials in enumerate(candidates):
        try:
            with connect(mysql, credentials) as session:
                session.execute(sql)
            return credentials
        except ServerError as error:
            if error.errno not in DENIED or (error.errno in LOGIN_REFUSED and position == 0):
                raise
            denials.append((credentials.user, error.detail))
            errno = error.errno
    raise CreateDenied(name, tuple(denials), errno)


# --------------------------------------------------------------------------- accounts

# caching_sha2_password (MySQL 8's default) stores "$A$<rounds/1000 as %03X>$<20-byte salt><43-char digest>":
# SHA-256 crypt (Drepper's SHA-crypt) with the whole 20-byte salt and 5000 rounds.
CACHING_SHA2_ROUNDS = 5000
CACHING_SHA2_SALT_LENGTH = 20
# The alphabet of SHA-crypt's digest; a salt drawn from it needs no escaping anywhere ("$" is not in it).
CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Byte triples of the final SHA-256 digest, in the order SHA-crypt encodes them (then bytes 31 and 30).
_SHA256_CRYPT_ORDER = (
    (0, 10, 20),
    (21, 1, 11),
    (12, 22, 2),
    (3, 13, 23),
    (24, 4, 14),
    (15, 25, 5),
    (6, 16, 26),
    (27, 7, 17),
    (18, 28, 8),
    (9, 19, 29),
)


def identified_by(server: ServerInfo, password: str, *, salt: bytes | None = None) -> tuple[str, str]:
    """The ``IDENTIFIED ...`` clause (one ``%s``) of CREATE/ALTER USER for ``password``, and its argument.

    The argument is the hash the server stores, never the password: MariaDB's
    ``mysql_native_password`` (its default), ``caching_sha2_password`` on MySQL 8
    and later (their default; 8.4 no longer loads ``mysql_native_password``), and
    ``mysql_native_password`` on MySQL 5.7.
    """
    if server.is_mariadb:
        return "IDENTIFIED BY PASSWORD %s", native_password_hash(password)
    if server.version < (8, 0, 0):
        return "IDENTIFIED WITH mysql_native_password AS %s", native_password_hash(password)
    return "IDENTIFIED WITH caching_sha2_password AS %s", caching_sha2_hash(password, salt=salt)


def native_password_hash(password: str) -> str:
    """``mysql_native_password``'s stored form: ``*`` and SHA1(SHA1(password)) in upper-case hex."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode("utf-8")).digest()).hexdigest().upper()


def caching_sha2_hash(password: str, *, salt: bytes | None = None) -> str:
    """``caching_sha2_password``'s stored form of ``password`` (a random 20-character salt unless given)."""
    if salt is None:
        salt = "".join(secrets.choice(CRYPT_ALPHABET) for _ in range(CACHING_SHA2_SALT_LENGTH)).encode("ascii")
    digest = sha256_crypt(password.encode("utf-8"), salt, CACHING_SHA2_ROUNDS)
    return f"$A${CACHING_SHA2_ROUNDS // 1000:03X}$" + salt.decode("latin-1") + digest


def sha256_crypt(key: bytes, salt: bytes, rounds: int) -> str:
    """The 43-character digest of SHA-256 crypt (Drepper's SHA-crypt), for a salt of any length."""
    b = hashlib.sha256(key + salt + key).digest()
    a = hashlib.sha256(key + salt)
    a.update(_repeat(b, len(key)))
    length = len(key)
    while length:
        a.update(b if length & 1 else key)
        length >>= 1
    c = a.digest()
    p = _repeat(hashlib.sha256(key * len(key)).digest(), len(key))
    s = _repeat(hashlib.sha256(salt * (16 + c[0])).digest(), len(salt))
    for round_number in range(rounds):
        step = hashlib.sha256(p if round_number & 1 else c)
        if round_number % 3:
            step.update(s)
        if round_number % 7:
            step.update(p)
        step.update(c if round_number & 1 else p)
        c = step.digest()
    encoded = [_crypt_base64((c[x] << 16) | (c[y] << 8) | c[z], 4) for x, y, z in _SHA256_CRYPT_ORDER]
    return "".join(encoded) + _crypt_base64((c[31] << 8) | c[30], 3)


def _repeat(digest: bytes, length: int) -> bytes:
    return digest * (length // len(digest)) + digest[: length % len(digest)]


def _crypt_base64(value: int, count: int) -> str:
    chars = []
    for _ in range(count):
        chars.append(CRYPT_ALPHABET[value & 0x3F])
        value >>= 6
    return "".join(chars)


def account_exists(session: Session, user: str, host: str = "%") -> bool:
    """Whether ``user@host`` exists (the session's user needs to read ``mysql.user``)."""
    row = session.query_one("SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = %s", (user, host))
    return row is not None and int(row[0]) > 0


def create_account(session: Session, user: str, password: str, database: str, host: str = "%") -> None:
    """``user@host`` with ALL on ``database`` only; its password reaches the server as a hash."""
    clause, argument = identified_by(session.server, password)
    session.execute(f"CREATE USER IF NOT EXISTS %s@%s {clause}", (user, host, argument))
    session.execute(f"GRANT ALL PRIVILEGES ON {quote_identifier(database)}.* TO %s@%s", (user, host))


def set_account_password(session: Session, user: str, password: str, host: str = "%") -> None:
    """Give an existing account ``password``, sent as a hash; existing sessions of the user stay logged in."""
    statement, argument = password_change(session.server, password)
    session.execute(statement, (user, host, argument))


def password_change(server: ServerInfo, password: str) -> tuple[str, str]:
    """The statement (``%s`` for user, host and hash) that gives an existing account ``password``, and the hash.

    MariaDB: ``SET PASSWORD ... = '<hash>'``, which keeps an account's other ways
    in (``root@localhost`` is ``mysql_native_password OR unix_socket`` there;
    measured on 10.11), where ``ALTER USER ... IDENTIFIED BY PASSWORD`` would drop
    them. MySQL: ``ALTER USER ... AS '<hash>'`` (its ``SET PASSWORD`` takes only a
    cleartext password). Neither keeps the old password beside the new one:
    MySQL 8's ``RETAIN CURRENT PASSWORD`` follows only a cleartext ``IDENTIFIED BY``.
    """
    if server.is_mariadb:
        return "SET PASSWORD FOR %s@%s = %s", native_password_hash(password)
    clause, argument = identified_by(server, password)
    return f"ALTER USER %s@%s {clause}", argument


def password_script(server: ServerInfo, accounts: Sequence[tuple[str, str, str]]) -> str:
    """SQL text that gives each (user, host, password) account its password as a hash, for a server
    reached without a connection of ours (an offline server in a helper container); values are escaped here.
    """
    from pymysql.converters import escape_str

    lines = []
    for user, host, password in accounts:
        statement, argument = password_change(server, password)
        lines.append(statement % tuple(escape_str(value) for value in (user, host, argument)) + ";")
    return "\n".join(lines) + "\n"


def stack_accounts(session: Session, users: list[str]) -> list[tuple[str, str]]:
    """The (user, host) accounts of these users on the server (root usually has '%' and 'localhost')."""
    marks = ", ".join(["%s"] * len(users))
    rows = session.query(f"SELECT User, Host FROM mysql.user WHERE User IN ({marks}) ORDER BY User, Host", tuple(users))
    return [(str(user), str(host)) for user, host in rows]


def quote_identifier(name: str) -> str:
    """A backtick-quoted identifier (settings already restrict names to [A-Za-z0-9_])."""
    return "`" + name.replace("`", "``") + "`"


def lock_name(purpose: str, database: str) -> str:
    """A ``GET_LOCK`` name for ``purpose`` on ``database``: at most 64 characters, MySQL 8's limit."""
    name = f"ticketctl_{purpose}:{database}"
    if len(name) <= 64:
        return name
    return f"ticketctl_{purpose}:" + hashlib.sha256(database.encode()).hexdigest()[:32]
