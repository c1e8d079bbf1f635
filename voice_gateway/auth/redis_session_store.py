"""The cluster profile's SessionStore: Redis, shared by every gateway replica.

A nonce or WebSocket ticket issued by one replica is redeemed on whichever replica the browser
reaches next, and a rate-limit window counts every replica's hits. `take` relies on GETDEL, so the
server must be Redis 6.2 or later.
"""

from __future__ import annotations

from typing import Final

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from voice_gateway.auth.session_store import check_entry

# INCR and PEXPIRE as two commands would let a crash (or a lost connection) between them leave a
# counter with no TTL, and a rate-limit window that never ends. Redis runs a script atomically.
_INCR_IN_WINDOW: Final = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""


def _ttl_ms(ttl_s: float) -> int:
    # Redis takes whole milliseconds; a positive TTL that rounds to 0 would be refused by Redis.
    return max(1, round(ttl_s * 1000))


def _as_bytes(reply: bytes | str | None) -> bytes | None:
    # The client is built without decode_responses; text here would mean it was wired wrongly.
    if reply is None or isinstance(reply, bytes):
        return reply
    raise TypeError("the Redis client of a session store must not decode responses")


class RedisSessionStore:
    """Keys with values and a time to live in Redis, atomic across gateway replicas.

    Args:
        url: e.g. `redis://127.0.0.1:6379/0`.
        prefix: prepended to every key, so deployments (and tests) can share one Redis database.
    """

    def __init__(self, url: str, prefix: str = "zgv:gw:") -> None:
        self._redis: Redis = Redis.from_url(url)
        self._prefix = prefix
        self._incr: AsyncScript = self._redis.register_script(_INCR_IN_WINDOW)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        """Set `key` to `value`, replacing any value and its TTL, expiring after `ttl_s` seconds.

        Raises:
            SessionStoreError: an invalid key, value or TTL.
        """
        check_entry(key, ttl_s, value)
        await self._redis.set(self._key(key), value, px=_ttl_ms(ttl_s))

    async def put_new(self, key: str, value: bytes, ttl_s: float) -> bool:
        """Set `key` only if it holds nothing (SET NX); True when this call set it.

        Raises:
            SessionStoreError: an invalid key, value or TTL.
        """
        check_entry(key, ttl_s, value)
        return bool(await self._redis.set(self._key(key), value, px=_ttl_ms(ttl_s), nx=True))

    async def get(self, key: str) -> bytes | None:
        """The value of `key`, or None when it is missing or expired.

        Raises:
            SessionStoreError: an invalid key.
        """
        check_entry(key, 1.0)
        return _as_bytes(await self._redis.get(self._key(key)))

    async def take(self, key: str) -> bytes | None:
        """Get and delete `key` with GETDEL: of racing callers on any replica, at most one gets it.

        Raises:
            SessionStoreError: an invalid key.
        """
        check_entry(key, 1.0)
        return _as_bytes(await self._redis.getdel(self._key(key)))

    async def delete(self, key: str) -> bool:
        """Delete `key`; True when it existed.

        Raises:
            SessionStoreError: an invalid key.
        """
        check_entry(key, 1.0)
        return await self._redis.delete(self._key(key)) == 1

    async def incr(self, key: str, ttl_s: float) -> int:
        """Add one to the counter at `key` and return it; only the first increment sets the TTL, so
        the window is fixed from the first hit and later hits never extend it.

        Raises:
            SessionStoreError: an invalid key or TTL.
        """
        check_entry(key, ttl_s)
        count = await self._incr(keys=[self._key(key)], args=[_ttl_ms(ttl_s)])
        return int(count)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
