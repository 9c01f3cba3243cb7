"""ticketctl.clients.redis without a server: TLS options and one-line errors that name the setting."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import redis

from ticketctl.clients.redis import _tls_options, translate
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings, load_settings
from ticketctl.errors import ConfigError

pytestmark = pytest.mark.unit


def settings(**environ: str) -> Settings:
    return load_settings(None, environ={f"TICKETCTL_REDIS__{k.upper()}": v for k, v in environ.items()})


def test_tls_verifies_certificate_and_name_against_ca_certs(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here; redis-py loads it when it connects")
    assert _tls_options(settings()) == {}
    assert _tls_options(settings(tls="true", ca_certs=str(ca))) == {
        "ssl": True,
        "ssl_ca_certs": str(ca),
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
    }


def test_an_unreadable_ca_bundle_names_redis_ca_certs() -> None:
    with pytest.raises(ConfigError) as raised:
        _tls_options(settings(tls="true", ca_certs="/nonexistent/ca.pem"))
    assert raised.value.message == (
        "TICKETCTL_REDIS__CA_CERTS: redis.ca_certs: cannot read /nonexistent/ca.pem: No such file or directory"
    )


def _connection_error_caused_by(cause: BaseException) -> redis.ConnectionError:
    try:
        try:
            raise cause
        except BaseException as error:
            raise redis.ConnectionError("Error 1 connecting to db.example:6380.") from error
    except redis.ConnectionError as wrapped:
        return wrapped


def _verify_error(message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}")
    error.verify_message = message
    return error


def test_untrusted_certificate_names_redis_ca_certs() -> None:
    error = _connection_error_caused_by(_verify_error("self-signed certificate in certificate chain"))
    described = translate(error, settings(host="db.example", port="6380", tls="true"))
    assert described.message == (
        "Redis at db.example:6380: its TLS certificate is not trusted by the system's CAs (redis.ca_certs unset): "
        "self-signed certificate in certificate chain"
    )
    assert described.hint == "set redis.ca_certs to the CA bundle that signed the Redis server's certificate"


def test_name_mismatch_names_redis_host() -> None:
    error = _connection_error_caused_by(_verify_error("Hostname mismatch, certificate is not valid for 'db.example'."))
    described = translate(error, settings(host="db.example", tls="true"))
    assert "not valid for 'db.example'" in described.message
    assert described.hint == "set redis.host to a host name that the server's certificate lists"


def test_a_password_asked_for_but_not_given_names_redis_password() -> None:
    error = redis.AuthenticationError("Authentication required.")
    assert translate(error, settings(), Secrets({})).message == (
        "Redis at 127.0.0.1:6379 requires a password and REDIS_PASSWORD is not set"
    )
    given = translate(error, settings(), Secrets({"REDIS_PASSWORD": "a-wrong-password-1"}))
    assert given.message == "Redis at 127.0.0.1:6379: authentication failed"
    assert "a-wrong-password-1" not in given.message + (given.hint or "")


def test_a_plain_connection_refused_by_a_tls_server_suggests_redis_tls() -> None:
    error = redis.ConnectionError("Error while reading from db.example:6380 : (104, 'Connection reset by peer')")
    assert "redis.tls: true" in (translate(error, settings()).hint or "")
    assert "redis.tls: true" not in (translate(error, settings(tls="true")).hint or "")
