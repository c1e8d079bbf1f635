"""Fixed-window rate limits on a SessionStore, e.g. nonce requests per IP or sign-ins per wallet.

A window opens with a subject's first hit and lasts `window_s`; every hit in it counts, and when it
expires the count starts again. Counting lives in the store, so with the Redis adapter every gateway
replica shares one count per subject.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Final

from voice_gateway.auth.session_store import MAX_TTL_S, SessionStore

_NAME: Final = re.compile(r"[a-z0-9_-]{1,32}")
# Store keys are at most 512 bytes; IPs and wallet addresses are far shorter than this bound.
MAX_SUBJECT_BYTES: Final = 200


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one hit.

    Attributes:
        allowed: whether the request may proceed.
        remaining: hits still allowed in the current window.
        retry_after_s: 0 when allowed; when refused, the full window length. The store cannot read a
            key's remaining TTL, so this is an upper bound: the window may end sooner.
    """

    allowed: bool
    remaining: int
    retry_after_s: float


class RateLimiter:
    """Allows `limit` hits per subject in each window of `window_s` seconds.

    Args:
        store: where the counters live (shared by replicas in the cluster profile).
        limit: hits allowed per window, at least 1.
        window_s: the window's length in seconds, more than 0 and at most the store's longest TTL.
        name: this limit's name in its keys (`rl:<name>:<subject>`), 1 to 32 of `a-z 0-9 _ -`, so
            two limits on the same subject count apart.

    Raises:
        ValueError: any argument out of range.
    """

    def __init__(self, store: SessionStore, limit: int, window_s: float, name: str) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("a rate limit allows at least 1 hit")
        if not (isinstance(window_s, int | float) and math.isfinite(window_s) and 0 < window_s <= MAX_TTL_S):
            raise ValueError(f"a rate-limit window is more than 0 and at most {MAX_TTL_S} s")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError("a rate-limit name is 1 to 32 of a-z, 0-9, '_' and '-'")
        self._store = store
        self._limit = limit
        self._window_s = float(window_s)
        self._name = name

    @property
    def name(self) -> str:
        """The limit's name (its keys' namespace)."""
        return self._name

    def _key(self, subject: str) -> str:
        encoded = subject.encode()
        if len(encoded) <= MAX_SUBJECT_BYTES:
            return f"rl:{self._name}:{subject}"
        # Bytes, not characters, bound the key. A short subject spelling this hashed form would only
        # share a window with a long one, never gain hits: both still count against one limit.
        return f"rl:{self._name}:sha256:{hashlib.sha256(encoded).hexdigest()}"

    async def hit(self, subject: str) -> RateDecision:
        """Count one hit by `subject` (an IP or a wallet address) and decide whether it may proceed.

        Args:
            subject: who is limited; longer than 200 bytes, it is hashed to keep keys bounded.

        Returns:
            Allowed with the hits left in this window, or refused with a retry delay.

        Raises:
            ValueError: an empty subject.
        """
        if not subject:
            raise ValueError("a rate-limit subject is not empty")
        count = await self._store.incr(self._key(subject), self._window_s)
        if count <= self._limit:
            return RateDecision(allowed=True, remaining=self._limit - count, retry_after_s=0.0)
        return RateDecision(allowed=False, remaining=0, retry_after_s=self._window_s)
