"""Redis connections for ticketctl, with errors translated where redis-py is called."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings
from ticketctl.errors import ConfigError, RedisError

if TYPE_CHECKING:
    import redis

PASSWORD_SECRET = "REDIS_PASSWORD"

# Release a lock only if it still holds our token (compare-and-delete), atomically.
RELEASE_LOCK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def connect(
    settings: Settings, secrets: Secrets, *, timeout: float = 2.0, decode: bool = True, db: int | None = None
) -> redis.Redis:
    """A client for the stack's Redis; the first command proves the connection.

    ``decode=False`` returns bytes (``DUMP`` payloads are binary); ``db`` picks another logical database.
    """
    import redis as redis_module
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # redis-py retries with backoff by default (seconds per failure); a check must answer at once.
    client = redis_module.Redis(
        host=settings.redis.host,
        port=settings.redis.port,
        db=settings.redis.db if db is None else db,
        password=secrets.get(PASSWORD_SECRET) or None,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=decode,
        retry=Retry(NoBackoff(), 0),
        **_tls_options(settings),
    )
    return client


def _tls_options(settings: Settings) -> dict[str, Any]:
    """With ``redis.tls``: the server's certificate and name verified against ``redis.ca_certs`` (or the system)."""
    if not settings.redis.tls:
        return {}
    path = settings.redis.ca_certs
    if path is not None:
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            raise ConfigError(
                f"{settings.source_of('redis.ca_certs')}: redis.ca_certs: cannot read {path}: "
                f"{error.strerror or error}",
                hint="set redis.ca_certs to the CA bundle (PEM) of the Redis server, a file readable by this user",
            ) from error
    return {"ssl": True, "ssl_ca_certs": path, "ssl_cert_reqs": "required", "ssl_check_hostname": True}


def describe_error(error: Exception, settings: Settings, secrets: Secrets | None = None) -> RedisError:
    """A one-line RedisError with the fix, for a redis-py exception.

    ``secrets`` tells whether ``REDIS_PASSWORD`` was given, so that a server
    asking for a password names the missing variable.
    """
    import redis as redis_module

    where = f"Redis at {settings.redis.host}:{settings.redis.port}"
    tls = _tls_failure(error)
    if tls is not None:
        return _tls_error(where, settings, tls)
    text = str(error)
    refused = isinstance(error, redis_module.AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text
    if refused and secrets is not None and not secrets.get(PASSWORD_SECRET):
        return RedisError(
            f"{where} requires a password and {PASSWORD_SECRET} is not set",
            hint=f"export {PASSWORD_SECRET} or add it to .env",
        )
    if refused:
        return RedisError(
            f"{where}: authentication failed",
            hint=f"check {PASSWORD_SECRET} in .env (or the environment) against the server's requirepass",
        )
    if isinstance(error, redis_module.TimeoutError):
        speaks_tls = "; with redis.tls: true the server must speak TLS on redis.port" if settings.redis.tls else ""
        return RedisError(
            f"{where}: timed out",
            hint=f"check that Redis is running and redis.host/redis.port point to it{speaks_tls}",
        )
    if isinstance(error, redis_module.ConnectionError):
        plain = "" if settings.redis.tls else "; a server that speaks only TLS needs redis.tls: true"
        return RedisError(
            f"{where}: cannot connect ({_first_line(error)})",
            hint=f"start the stack with 'ticketctl up', or fix redis.host/redis.port{plain}",
        )
    return RedisError(f"{where}: {_first_line(error)}", hint="see the Redis server log")


def _tls_failure(error: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a redis-py ConnectionError (its cause or context), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _tls_error(where: str, settings: Settings, error: ssl.SSLError) -> RedisError:
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = error.verify_message or _first_line(error)
        if "mismatch" in detail.lower():
            return RedisError(
                f"{where}: its TLS certificate is not valid for {settings.redis.host!r} ({detail})",
                hint="set redis.host to a host name that the server's certificate lists",
            )
        ca = settings.redis.ca_certs
        trusted = f"the CA in redis.ca_certs ({ca})" if ca else "the system's CAs (redis.ca_certs unset)"
        return RedisError(
            f"{where}: its TLS certificate is not trusted by {trusted}: {detail}",
            hint="set redis.ca_certs to the CA bundle that signed the Redis server's certificate",
        )
    return RedisError(
        f"{where}: TLS failed: {_first_line(error)}",
        hint="set redis.tls: true only for a server that speaks TLS on redis.port; check redis.ca_certs",
    )


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
