"""TLS for every client: the CA and certificate files, and the one translation of a failed handshake.

The MySQL, Redis and search clients each name the server and the settings in
their own words (:class:`Peer`); what a handshake failure means, and which
setting fixes it, is decided here once: the certificate does not list the host
name, it is signed by a CA the settings do not trust, or TLS failed otherwise.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from ticketctl.errors import ConfigError


@dataclass(frozen=True)
class Fixes:
    """A client's hint for each kind of failure: a certificate for another name, an untrusted one, any other."""

    host: str
    ca: str
    other: str


@dataclass(frozen=True)
class Peer:
    """A server as one client names it in messages, and the settings that fix a failed handshake."""

    label: str  # "MySQL at db.example:3306"
    host: str  # what the certificate must list: "'db.example'", "this host name"
    ca_setting: str  # mysql.ssl_ca, redis.ca_certs, search.ca_certs
    ca_path: str | None
    fixes: Fixes
    certificate: str = "its TLS certificate"
    failed: str = "TLS failed"
    unset_ca_named: bool = True  # "the system's CAs (redis.ca_certs unset)" rather than "the system's CAs"


@dataclass(frozen=True)
class Problem:
    """A failed handshake in one line: the message, the fix, and the TLS library's own reason."""

    message: str
    hint: str
    reason: str


def failure_of(error: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a client's exception, if any.

    Clients wrap it differently: pymysql keeps it as ``original_exception``,
    urllib as ``reason``, redis-py as the cause or context of its own error.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        wrapped = getattr(current, "original_exception", None) or getattr(current, "reason", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__ or current.__context__
    return None


def describe_failure(error: ssl.SSLError, peer: Peer) -> Problem:
    """What went wrong in the handshake with ``peer``, and the setting that fixes it."""
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or one_line(error)
        if "mismatch" in reason.lower():
            return Problem(
                f"{peer.label}: {peer.certificate} is not valid for {peer.host} ({reason})", peer.fixes.host, reason
            )
        system = f"the system's CAs ({peer.ca_setting} unset)" if peer.unset_ca_named else "the system's CAs"
        trusted = f"the CA in {peer.ca_setting} ({peer.ca_path})" if peer.ca_path else system
        return Problem(f"{peer.label}: {peer.certificate} is not trusted by {trusted}: {reason}", peer.fixes.ca, reason)
    reason = one_line(error)
    return Problem(f"{peer.label}: {peer.failed}: {reason}", peer.fixes.other, reason)


def readable(path: str | None, where: str, hint: str) -> str | None:
    """``path`` when this user can read it; a :class:`ConfigError` naming ``where`` (the setting) when not."""
    if path is None:
        return None
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise ConfigError(f"{where}: cannot read {path}: {error.strerror or error}", hint=hint) from error
    return path


def verifying_context(ca_path: str | None, setting: str, hint: str) -> ssl.SSLContext:
    """A context that verifies the server's certificate and name, against ``ca_path`` or the system's CAs."""
    try:
        return ssl.create_default_context(cafile=ca_path)
    except ssl.SSLError as error:
        raise ConfigError(f"{setting}: {ca_path} holds no PEM certificate ({one_line(error)})", hint=hint) from error


def one_line(error: BaseException | str) -> str:
    """An error's text on one line (the type's name when it has none)."""
    text = " ".join(str(error).split())
    return text or (type(error).__name__ if isinstance(error, BaseException) else "")
