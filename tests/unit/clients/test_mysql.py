"""ticketctl.clients.mysql without a server: version parsing, error translation, credentials, TLS choice, hashes."""

from __future__ import annotations

import hashlib
import shutil
import ssl
from pathlib import Path

import pymysql
import pytest

from tests.support.tls import Pki
from ticketctl.clients.mysql import (
    CRYPT_ALPHABET,
    Credentials,
    ServerInfo,
    _tls_options,
    app_credentials,
    caching_sha2_hash,
    identified_by,
    lock_name,
    password_change,
    root_credentials,
    sha256_crypt,
    translate,
)
from ticketctl.config.settings import load_settings
from ticketctl.errors import ConfigError, ExitCode

pytestmark = pytest.mark.unit

CREDENTIALS = Credentials("events_app", "s3cret-password-value", "EVENTS_DB_PASSWORD")


@pytest.mark.parametrize(
    ("version", "flavor", "parts", "label"),
    [
        ("8.4.3", "mysql", (8, 4, 3), "MySQL 8.4.3"),
        ("8.0.40-0ubuntu0.24.04.1", "mysql", (8, 0, 40), "MySQL 8.0.40"),
        ("5.5.5-10.11.19-MariaDB-0+deb12u1", "mariadb", (10, 11, 19), "MariaDB 10.11.19"),
        ("11.4.2-MariaDB", "mariadb", (11, 4, 2), "MariaDB 11.4.2"),
    ],
)
def test_server_info_parse(version: str, flavor: str, parts: tuple[int, int, int], label: str) -> None:
    info = ServerInfo.parse(version)
    assert (info.flavor, info.version, info.label) == (flavor, parts, label)
    assert not info.version_string.startswith("5.5.5-")


def test_access_denied_names_the_secret_never_the_password() -> None:
    error = pymysql.err.OperationalError(1045, "Access denied for user 'events_app'@'10.0.0.2' (using password: YES)")
    translated = translate(error, where="events_app@db.example:3306/events_db", credentials=CREDENTIALS)
    assert translated.message == (
        "MySQL at db.example:3306 denied access to user 'events_app': "
        "Access denied for user 'events_app'@'10.0.0.2' (using password: YES)"
    )
    assert "EVENTS_DB_PASSWORD" in (translated.hint or "")
    assert "s3cret" not in translated.message + (translated.hint or "")
    assert (translated.errno, translated.exit_code) == (1045, ExitCode.DATABASE)


def test_unreachable_server_hint() -> None:
    error = pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' ([Errno 111] refused)")
    translated = translate(error, where="events_app@127.0.0.1:3306")
    assert translated.message.startswith("cannot connect to MySQL at 127.0.0.1:3306: Can't connect")
    assert "ticketctl up" in (translated.hint or "")


def test_database_access_denied_gives_the_grant() -> None:
    error = pymysql.err.OperationalError(1044, "Access denied for user 'events_app'@'%' to database 'events_db'")
    translated = translate(error, where="events_app@h:3306/events_db", database="events_db")
    assert translated.hint == "as an administrator: GRANT ALL PRIVILEGES ON `events_db`.* TO 'events_app'@'%'"


def test_other_errors_keep_number_and_text_on_one_line() -> None:
    error = pymysql.err.ProgrammingError(1064, "You have an error\nnear 'row_number VARCHAR(10)'")
    translated = translate(error, where="u@h:1/d")
    assert translated.message == "MySQL at h:1 (u): error 1064: You have an error near 'row_number VARCHAR(10)'"
    assert translated.detail == "You have an error near 'row_number VARCHAR(10)'"


def test_credentials_repr_masks_the_password() -> None:
    assert "s3cret" not in repr(CREDENTIALS)


def test_app_and_root_credentials_come_from_the_secrets() -> None:
    settings = load_settings(None, environ={})
    events = settings.mysql.databases[0]
    assert app_credentials(events, {"EVENTS_DB_PASSWORD": "pw-1234567890"}).user == "events_app"
    with pytest.raises(ConfigError, match="EVENTS_DB_PASSWORD: secret not found"):
        app_credentials(events, {})
    assert root_credentials(settings, {}) is None
    root = root_credentials(settings, {"MYSQL_ROOT_PASSWORD": "pw-root-123456"})
    assert root is not None and (root.user, root.secret) == ("root", "MYSQL_ROOT_PASSWORD")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {"ssl_disabled": True}),
        ({"TICKETCTL_MYSQL__HOST": "localhost"}, {"ssl_disabled": True}),
        ({"TICKETCTL_MYSQL__HOST": "db.example"}, {}),
    ],
)
def test_tls_choice_without_tls_settings(environ: dict[str, str], expected: dict[str, object]) -> None:
    assert _tls_options(load_settings(None, environ=environ).mysql) == expected


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.mark.parametrize("host", ["127.0.0.1", "db.example"])
def test_ssl_ca_requires_verified_tls_even_on_loopback(pki: Pki, host: str) -> None:
    environ = {"TICKETCTL_MYSQL__HOST": host, "TICKETCTL_MYSQL__SSL_CA": str(pki.ca)}
    options = _tls_options(load_settings(None, environ=environ).mysql)
    context = options["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert [cert["subject"] for cert in context.get_ca_certs()] == [((("commonName", "ticketctl test CA"),),)]


def test_relative_tls_files_are_relative_to_the_settings_file(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    shutil.copy(pki.ca, tmp_path / "certs" / "ca.pem")
    (tmp_path / "ticketctl.yaml").write_text("mysql:\n  ssl_ca: certs/ca.pem\nsearch:\n  ca_certs: certs/ca.pem\n")
    settings = load_settings(tmp_path / "ticketctl.yaml", environ={}, cwd=Path("/"))
    assert settings.mysql.ssl_ca == settings.search.ca_certs == str(tmp_path / "certs" / "ca.pem")
    assert isinstance(_tls_options(settings.mysql)["ssl"], ssl.SSLContext)


def test_client_certificate_is_loaded_and_enables_tls(pki: Pki) -> None:
    environ = {
        "TICKETCTL_MYSQL__HOST": "db.example",
        "TICKETCTL_MYSQL__SSL_CERT": str(pki.client_cert),
        "TICKETCTL_MYSQL__SSL_KEY": str(pki.client_key),
    }
    assert isinstance(_tls_options(load_settings(None, environ=environ).mysql)["ssl"], ssl.SSLContext)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"SSL_CA": "/nonexistent/ca.pem"}, "mysql.ssl_ca: cannot read /nonexistent/ca.pem: No such file or directory"),
        ({"SSL_CA": "{key}"}, "mysql.ssl_ca: {key} holds no PEM certificate"),
        ({"SSL_CERT": "{cert}", "SSL_KEY": "/nonexistent/key.pem"}, "mysql.ssl_key: cannot read /nonexistent/key.pem"),
        (
            {"SSL_CERT": "{cert}", "SSL_KEY": "{other_key}"},
            "mysql.ssl_cert: cannot use {cert} with the key {other_key}",
        ),
    ],
)
def test_unusable_tls_files_name_their_setting(pki: Pki, files: dict[str, str], message: str) -> None:
    paths = {"key": pki.client_key, "cert": pki.client_cert, "other_key": pki.server_key}
    environ = {f"TICKETCTL_MYSQL__{name}": value.format(**paths) for name, value in files.items()}
    with pytest.raises(ConfigError) as raised:
        _tls_options(load_settings(None, environ=environ).mysql)
    assert raised.value.message.startswith(message.format(**paths))
    assert raised.value.exit_code == ExitCode.CONFIG


def test_client_key_without_certificate_is_refused_when_loading() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(None, environ={"TICKETCTL_MYSQL__SSL_KEY": "/key.pem"})
    assert raised.value.message == "TICKETCTL_MYSQL__SSL_KEY: mysql.ssl_key is set but mysql.ssl_cert is not"


def test_denied_without_tls_hints_at_an_account_that_requires_tls() -> None:
    error = pymysql.err.OperationalError(1045, "Access denied for user 'events_app'@'10.0.0.2' (using password: YES)")
    plain = translate(error, where="events_app@db.example:3306", credentials=CREDENTIALS, tls_configured=False)
    verified = translate(error, where="events_app@db.example:3306", credentials=CREDENTIALS, tls_configured=True)
    assert "set mysql.ssl_ca" in (plain.hint or "")
    assert "mysql.ssl_ca" not in (verified.hint or "")


def test_secure_transport_required_names_ssl_ca() -> None:
    error = pymysql.err.OperationalError(
        3159, "Connections using insecure transport are prohibited while --require_secure_transport=ON."
    )
    translated = translate(error, where="events_app@db.example:3306", tls_configured=False)
    assert translated.message.startswith("MySQL at db.example:3306 accepts only TLS connections")
    assert translated.hint == "set mysql.ssl_ca to the CA bundle that signed the server's certificate"


def test_lock_names_fit_mysql_8s_64_characters() -> None:
    assert lock_name("seed", "events_db") == "ticketctl_seed:events_db"
    long = lock_name("outbox", "e" * 64)
    assert len(long) <= 64 and long.startswith("ticketctl_outbox:")
    assert long != lock_name("outbox", "f" * 64)


# --------------------------------------------------------------------------- accounts: hashes, never passwords

# Drepper's SHA-crypt test vectors (salts of 16 bytes at most) and two caching_sha2_password hashes that
# MySQL 8 stored (hashcat's published examples of mode 7401: "$mysql$A$005*<salt hex>*<digest hex>").
SHA256_CRYPT_VECTORS = (
    (b"Hello world!", b"saltstring", 5000, "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
    (b"Hello world!", b"saltstringsaltst", 10000, "3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"),
    (b"This is just a test", b"toolongsaltstrin", 5000, "Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"),
)
MYSQL8_HASHES = (
    ("hashcat", "F9CC98CE08892924F50A213B6BC571A2C11778C5", "bTy95Y99eAME1dwEkHOA1ndHGBWz.1bxSSRkuTXFGV/"),
    ("password", "06437A150142644D74187A6A2F0D7971094F2575", "HfzgHSftZ0OjHzspBPf4e3zu02QWhzQ6J8MsuTBI9p."),
)


@pytest.mark.parametrize(("key", "salt", "rounds", "digest"), SHA256_CRYPT_VECTORS)
def test_sha256_crypt_matches_drepper(key: bytes, salt: bytes, rounds: int, digest: str) -> None:
    assert sha256_crypt(key, salt, rounds) == digest


@pytest.mark.parametrize(("password", "salt_hex", "digest"), MYSQL8_HASHES)
def test_caching_sha2_hash_is_what_mysql_8_stores(password: str, salt_hex: str, digest: str) -> None:
    salt = bytes.fromhex(salt_hex)
    assert caching_sha2_hash(password, salt=salt) == "$A$005$" + salt.decode("latin-1") + digest


def test_a_generated_salt_is_20_characters_that_need_no_escaping() -> None:
    first, second = caching_sha2_hash("same-password-123"), caching_sha2_hash("same-password-123")
    assert first != second and len(first) == len(second) == 70
    assert first.startswith("$A$005$") and set(first[7:]) <= set(CRYPT_ALPHABET)


@pytest.mark.parametrize(
    ("version", "clause"),
    [
        ("10.11.19-MariaDB-0+deb12u1", "IDENTIFIED BY PASSWORD %s"),
        ("11.8.2-MariaDB", "IDENTIFIED BY PASSWORD %s"),
        ("5.7.44", "IDENTIFIED WITH mysql_native_password AS %s"),
        ("8.0.40", "IDENTIFIED WITH caching_sha2_password AS %s"),
        ("8.4.3", "IDENTIFIED WITH caching_sha2_password AS %s"),
        ("9.1.0", "IDENTIFIED WITH caching_sha2_password AS %s"),
    ],
)
def test_identified_by_sends_the_server_its_own_hash_never_the_password(version: str, clause: str) -> None:
    password = "Not-in-any-SQL-123"
    chosen, argument = identified_by(ServerInfo.parse(version), password)
    assert chosen == clause and password not in argument
    if "caching_sha2" in clause:
        assert argument.startswith("$A$005$") and len(argument) == 70
    else:
        assert argument == "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


@pytest.mark.parametrize(
    ("version", "statement"),
    [
        ("10.11.19-MariaDB-0+deb12u1", "SET PASSWORD FOR %s@%s = %s"),
        ("8.0.40", "ALTER USER %s@%s IDENTIFIED WITH caching_sha2_password AS %s"),
        ("5.7.44", "ALTER USER %s@%s IDENTIFIED WITH mysql_native_password AS %s"),
    ],
)
def test_a_password_change_keeps_mariadbs_other_plugins_and_sends_only_a_hash(version: str, statement: str) -> None:
    password = "Not-in-any-SQL-456"
    chosen, argument = password_change(ServerInfo.parse(version), password)
    assert chosen == statement and password not in argument and "RETAIN" not in chosen
