"""Redis checks: it answers, a real lock round trip works, lock keys cannot be evicted."""

from __future__ import annotations

import secrets as random
from typing import TYPE_CHECKING

from ticketctl.clients.redis import RELEASE_LOCK_SCRIPT, connect, translate
from ticketctl.doctor.core import Check, CheckContext, Outcome

if TYPE_CHECKING:
    from ticketctl.clients.redis import Client

# Policies that may evict a key with a TTL, i.e. exactly a seat lock.
EVICTING_POLICIES = frozenset(
    {
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
    }
)


def _client(context: CheckContext) -> Client:
    return context.shared("redis", lambda: connect(context.settings, context.secrets, timeout=context.timeout))


def check_ping(context: CheckContext) -> Outcome:
    try:
        client = _client(context)
        client.ping()
        version = client.info("server").get("redis_version", "?")
    except Exception as error:
        raise translate(error, context.settings, context.secrets) from error
    redis = context.settings.redis
    transport = " over TLS" if redis.tls else ""
    return Outcome.ok(
        f"PONG from Redis {version} at {redis.host}:{redis.port}{transport}", version=version, tls=redis.tls
    )


def check_lock(context: CheckContext) -> Outcome:
    """SET NX PX, a second SET NX refused, then compare-and-delete, as the inventory service does."""
    key = f"ticketctl:doctor:lock:{random.token_hex(8)}"
    token = random.token_hex(16)
    try:
        client = _client(context)
        if not client.set(key, token, nx=True, px=5000):
            return Outcome.fail("SET NX on a fresh key was refused", "check the Redis server's log and ACLs")
        if client.set(key, "intruder", nx=True, px=5000):
            client.delete(key)
            return Outcome.fail("a second SET NX on a held lock succeeded", "Redis does not honour NX: check the proxy")
        ttl = client.pttl(key)
        released = client.eval(RELEASE_LOCK_SCRIPT, 1, key, token)
    except Exception as error:
        raise translate(error, context.settings, context.secrets) from error
    if released != 1 or ttl <= 0:
        return Outcome.fail(f"lock release returned {released}, TTL {ttl} ms", "check Lua scripting (EVAL) is allowed")
    return Outcome.ok("lock round trip: SET NX PX, refused second holder, compare-and-delete")


def check_eviction(context: CheckContext) -> Outcome:
    try:
        client = _client(context)
        config = client.config_get("maxmemory*")
    except Exception as error:
        if "unknown command" in str(error).lower() or "no permissions" in str(error).lower():
            return Outcome.warn(
                "cannot read maxmemory-policy (CONFIG is disabled on this server)",
                "make sure the server's maxmemory-policy is noeviction so seat locks are never evicted",
            )
        raise translate(error, context.settings, context.secrets) from error
    policy = config.get("maxmemory-policy", "?")
    maxmemory = int(config.get("maxmemory", "0") or 0)
    if policy in EVICTING_POLICIES and maxmemory > 0:
        return Outcome.fail(
            f"maxmemory-policy is {policy}: under memory pressure Redis evicts keys with a TTL, i.e. seat locks",
            "set maxmemory-policy noeviction (ticketctl renders it; recreate redis with 'ticketctl up')",
            policy=policy,
        )
    if policy in EVICTING_POLICIES:
        return Outcome.warn(
            f"maxmemory-policy is {policy} (no maxmemory limit set, so nothing is evicted yet)",
            "set maxmemory-policy noeviction before setting a memory limit",
            policy=policy,
        )
    return Outcome.ok(f"maxmemory-policy {policy}: lock keys are never evicted", policy=policy, maxmemory=maxmemory)


CHECKS = [
    Check("redis.ping", "Redis answers PING with the stack's password", check_ping),
    Check("redis.lock", "a seat-lock round trip: SET NX PX, compare-and-delete", check_lock, needs=("redis.ping",)),
    Check("redis.eviction", "the eviction policy cannot evict lock keys", check_eviction, needs=("redis.ping",)),
]
