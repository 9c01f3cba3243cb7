"""Redis connections for ticketctl, with errors translated where redis-py is called."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from ticketctl.clients import tls
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings
from ticketctl.errors import RedisError

if TYPE_CHECKING:
    import redis

    Client = redis.Redis

PASSWORD_SECRET = "REDIS_PASSWORD"
_TLS_FIXES = tls.Fixes(
    host="set redis.host to a host name that the server's certificate lists",
    ca="set redis.ca_certs to the CA bundle that signed the Redis server's certificate",
    other="set redis.tls: true only for a server that speaks TLS on redis.port; check redis.ca_certs",
)

# Release a lock only if it still holds our token (compare-and-delete), atomically.
RELEASE_LOCK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def connect(settings: Settings, secrets: Secrets, *, timeout: float = 2.0) -> Client:
    """A client for the stack's Redis; the first command proves the connection."""
    import redis as redis_module
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # redis-py retries with backoff by default (seconds per failure); a check must answer at once.
    client = redis_module.Redis(
        host=settings.redis.host,
        port=settings.redis.port,
        db=settings.redis.db,
        password=secrets.get(PASSWORD_SECRET) or None,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
        **_tls_options(settings),
    )
    return client


def _tls_options(settings: Settings) -> dict[str, Any]:
    """With ``redis.tls``: the server's certificate and name verified against ``redis.ca_certs`` (or the system)."""
    if not settings.redis.tls:
        return {}
    path = tls.readable(
        settings.redis.ca_certs,
        f"{settings.source_of('redis.ca_certs')}: redis.ca_certs",
        hint="set redis.ca_certs to the CA bundle (PEM) of the Redis server, a file readable by this user",
    )
    return {"ssl": True, "ssl_ca_certs": path, "ssl_cert_reqs": "required", "ssl_check_hostname": True}


def translate(error: Exception, settings: Settings, secrets: Secrets | None = None) -> RedisError:
    """A one-line RedisError with the fix, for a redis-py exception.

    ``secrets`` tells whether ``REDIS_PASSWORD`` was given, so that a server
    asking for a password names the missing variable.
    """
    import redis as redis_module

    where = f"Redis at {settings.redis.host}:{settings.redis.port}"
    failure = tls.failure_of(error)
    if failure is not None:
        return _tls_error(where, settings, failure)
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


def _tls_error(where: str, settings: Settings, error: ssl.SSLError) -> RedisError:
    peer = tls.Peer(where, repr(settings.redis.host), "redis.ca_certs", settings.redis.ca_certs, _TLS_FIXES)
    problem = tls.describe_failure(error, peer)
    return RedisError(problem.message, hint=problem.hint)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
