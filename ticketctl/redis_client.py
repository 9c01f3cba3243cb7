"""Redis connections for ticketctl, with errors translated where redis-py is called."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketctl.errors import RedisError
from ticketctl.secrets import Secrets
from ticketctl.settings import Settings

if TYPE_CHECKING:
    import redis

# Release a lock only if it still holds our token (compare-and-delete), atomically.
RELEASE_LOCK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def connect(settings: Settings, secrets: Secrets, *, timeout: float = 2.0) -> redis.Redis:
    """A client for the stack's Redis; the first command proves the connection."""
    import redis as redis_module
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # redis-py retries with backoff by default (seconds per failure); a check must answer at once.
    client = redis_module.Redis(
        host=settings.redis.host,
        port=settings.redis.port,
        db=settings.redis.db,
        password=secrets.get("REDIS_PASSWORD") or None,
        ssl=settings.redis.tls,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
    )
    return client


def describe_error(error: Exception, settings: Settings) -> RedisError:
    """A one-line RedisError with the fix, for a redis-py exception."""
    import redis as redis_module

    where = f"Redis at {settings.redis.host}:{settings.redis.port}"
    if isinstance(error, redis_module.AuthenticationError) or "WRONGPASS" in str(error) or "NOAUTH" in str(error):
        return RedisError(
            f"{where}: authentication failed",
            hint="check REDIS_PASSWORD in .env (or the environment) against the server's requirepass",
        )
    if isinstance(error, redis_module.TimeoutError):
        return RedisError(
            f"{where}: timed out", hint="check that Redis is running and redis.host/redis.port point to it"
        )
    if isinstance(error, redis_module.ConnectionError):
        return RedisError(
            f"{where}: cannot connect ({_first_line(error)})",
            hint="start the stack with 'ticketctl up', or fix redis.host/redis.port",
        )
    return RedisError(f"{where}: {_first_line(error)}", hint="see the Redis server log")


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
