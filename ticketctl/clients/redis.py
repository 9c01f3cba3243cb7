"""Redis connections for ticketctl, with errors translated where redis-py is called."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ticketctl.clients import tls
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings
from ticketctl.errors import RedisError

if TYPE_CHECKING:
    import redis

    Client = redis.Redis

PASSWORD_SECRET = "REDIS_PASSWORD"
T = TypeVar("T")
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


def connect(
    settings: Settings, secrets: Secrets, *, timeout: float = 2.0, decode: bool = True, db: int | None = None
) -> Client:
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


def checked(call: Callable[[], T], settings: Settings) -> T:
    """``call()`` on a client of :func:`connect`, with a redis-py error translated (:func:`translate`)."""
    import redis as redis_module

    try:
        return call()
    except redis_module.RedisError as error:
        raise translate(error, settings) from None


def connect_with_any(settings: Settings, passwords: Sequence[str], *, timeout: float = 2.0) -> Client | None:
    """A client logged in with the first of ``passwords`` that Redis accepts; None when it refuses them all."""
    import redis as redis_module

    for password in dict.fromkeys(passwords):
        client = connect(settings, Secrets({PASSWORD_SECRET: password}), timeout=timeout)
        try:
            client.ping()
        except redis_module.AuthenticationError:
            continue
        except redis_module.RedisError as error:
            raise translate(error, settings) from None
        return client
    return None


# Passwords reach ACL SETUSER as their SHA-256 ("#<hex>" adds one, "!<hex>" removes one), never in clear:
# a command's arguments show in MONITOR and the slow log.
def add_password(client: Client, settings: Settings, password: str) -> None:
    """The default user accepts ``password`` beside the passwords it has."""
    _acl_setuser(client, settings, "on", "#" + password_hash(password))


def remove_password(client: Client, settings: Settings, password: str) -> None:
    """The default user no longer accepts ``password`` (a no-op when it never did)."""
    if password_hash(password) in password_hashes(client, settings):
        _acl_setuser(client, settings, "!" + password_hash(password))


def password_hash(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def password_hashes(client: Client, settings: Settings) -> list[str]:
    """The SHA-256 of each password the default user accepts (``ACL GETUSER``, parsed by redis-py)."""
    answer: Any = checked(lambda: client.acl_getuser("default"), settings)
    return [str(value) for value in (answer or {}).get("passwords") or []]


def _acl_setuser(client: Client, settings: Settings, *rules: str) -> None:
    command: Any = client.execute_command  # redis-py's execute_command is untyped
    checked(lambda: command("ACL", "SETUSER", "default", *rules), settings)


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
