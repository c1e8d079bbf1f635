"""The SessionStore seam: short-lived, shared state of sign-in and sessions.

Nonces, WebSocket tickets, refresh-token records, revocation counters and rate-limit windows all
live here. Every value has a time to live; the two operations that must be atomic across gateway
replicas are `take` (get-and-delete: a nonce or a ticket is redeemed by exactly one caller) and
`incr` (a counter whose window starts with its first increment). Adapters: in-process (embedded
profile) and Redis (cluster profile); one contract suite covers both (tests/contract).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, Protocol

MAX_KEY_BYTES: Final = 512
MAX_VALUE_BYTES: Final = 64 * 1024
MAX_TTL_S: Final = 30 * 24 * 3600


class SessionStoreError(ValueError):
    """A key, value or time to live outside what the store accepts."""


def check_entry(key: str, ttl_s: float, value: bytes | None = None) -> None:
    """Validate arguments the same way in every adapter.

    Raises:
        SessionStoreError: an empty or oversized key, an oversized value, or a TTL not in (0, 30 days].
    """
    if not isinstance(key, str) or not key or len(key.encode()) > MAX_KEY_BYTES:
        raise SessionStoreError(f"a key is 1 to {MAX_KEY_BYTES} bytes of text")
    if not (0 < ttl_s <= MAX_TTL_S):
        raise SessionStoreError(f"a time to live is more than 0 and at most {MAX_TTL_S} s")
    if value is not None and (not isinstance(value, bytes) or len(value) > MAX_VALUE_BYTES):
        raise SessionStoreError(f"a value is at most {MAX_VALUE_BYTES} bytes")


class SessionStore(Protocol):
    """Keys with values and a time to live. Keys are namespaced by the caller (`nonce:`, `ticket:`)."""

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        """Set `key` to `value`, replacing any value, expiring after `ttl_s` seconds."""
        ...

    async def put_new(self, key: str, value: bytes, ttl_s: float) -> bool:
        """Set `key` only if it holds nothing; True when this call set it (atomic)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The value of `key`, or None when it is missing or expired."""
        ...

    async def take(self, key: str) -> bytes | None:
        """Get and delete `key` in one atomic step: of racing callers, at most one gets the value."""
        ...

    async def delete(self, key: str) -> bool:
        """Delete `key`; True when it existed."""
        ...

    async def incr(self, key: str, ttl_s: float) -> int:
        """Add one to the counter at `key` and return it; the first increment starts its TTL."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemorySessionStore:
    """The embedded profile's store: a dict in this process. Atomic because every operation runs
    without an await between its read and its write (one event loop).

    Args:
        clock: seconds, monotonic (injected by tests to move time).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 1_000_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, tuple[bytes, float]] = {}

    def _live(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry[0]

    def _set(self, key: str, value: bytes, ttl_s: float) -> None:
        if key not in self._entries and len(self._entries) >= self._max:
            self._purge()
            if len(self._entries) >= self._max:
                raise SessionStoreError("the session store is full")
        self._entries[key] = (value, self._clock() + ttl_s)

    def _purge(self) -> None:
        now = self._clock()
        for key in [k for k, (_, expiry) in self._entries.items() if expiry <= now]:
            del self._entries[key]

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        check_entry(key, ttl_s, value)
        self._set(key, value, ttl_s)

    async def put_new(self, key: str, value: bytes, ttl_s: float) -> bool:
        check_entry(key, ttl_s, value)
        if self._live(key) is not None:
            return False
        self._set(key, value, ttl_s)
        return True

    async def get(self, key: str) -> bytes | None:
        check_entry(key, 1.0)
        return self._live(key)

    async def take(self, key: str) -> bytes | None:
        check_entry(key, 1.0)
        value = self._live(key)
        if value is not None:
            del self._entries[key]
        return value

    async def delete(self, key: str) -> bool:
        check_entry(key, 1.0)
        existed = self._live(key) is not None
        self._entries.pop(key, None)
        return existed

    async def incr(self, key: str, ttl_s: float) -> int:
        check_entry(key, ttl_s)
        current = self._live(key)
        if current is None:
            self._set(key, b"1", ttl_s)
            return 1
        count = int(current) + 1
        expiry = self._entries[key][1]
        self._entries[key] = (str(count).encode(), expiry)
        return count

    async def close(self) -> None:
        self._entries.clear()
