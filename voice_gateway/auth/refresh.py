"""Refresh tokens: opaque, 256-bit, stored only as SHA-256 hashes, rotated on every use.

A sign-in starts a *family* (its id is also the session id in access tokens). Each refresh redeems
the presented token with the store's atomic `take` and issues its successor, so of two refreshes
racing with one token exactly one wins. The redeemed token's hash stays behind as "used" until the
family's absolute expiry: presenting it again means a copy of the token exists somewhere else
(RFC 9700 §4.14.2), so the whole family is revoked and its newest token stops working too. That
includes a client that refreshes twice at once with one token; clients serialize their refreshes.

Store layout (values are JSON):
    refresh:<sha256>       the live token of a family: family, address, role, session version,
                           idle and absolute deadlines; kept until the absolute deadline.
    refresh-used:<sha256>  the family id of an already-rotated token.
    family:<id>            {"abs": deadline, "revoked": bool}; logout and reuse mark it revoked.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from voice_gateway.auth.session_store import MAX_TTL_S, SessionStore

TOKEN_PREFIX: Final = "zgvr_"  # lets secret scanners recognise a leaked refresh token
_TOKEN = re.compile(r"zgvr_[A-Za-z0-9_-]{43}")  # 32 random bytes, base64url without padding
# Records outlive the family's absolute deadline by this much so a late token is refused as expired
# rather than unknown; the deadlines themselves are enforced by comparing with the clock.
_LATE_MARGIN_S: Final = 3600.0


class RefreshRejected(Exception):
    """A refused refresh token; `code` is stable, the text is generic."""

    def __init__(self, code: str) -> None:
        super().__init__("refresh token refused")
        self.code = code


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """Lifetimes of a family.

    Attributes:
        absolute_s: a family ends this long after sign-in, however active.
        idle_s: a token not used within this long is dead (and its family with it).

    Raises:
        ValueError: not 0 < idle_s <= absolute_s <= 30 days.
    """

    absolute_s: float = 14 * 24 * 3600.0
    idle_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.idle_s <= self.absolute_s <= MAX_TTL_S:
            raise ValueError("refresh lifetimes need 0 < idle <= absolute <= 30 days")


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """A refresh token just issued, with what its family stands for."""

    token: str = field(repr=False)
    family_id: str
    address: str
    role: str
    session_version: int
    idle_expires_at: float
    absolute_expires_at: float
    kind: str = "eoa"

    @property
    def expires_at(self) -> float:
        """When this token stops working if it is not used first."""
        return min(self.idle_expires_at, self.absolute_expires_at)


def token_hash(token: str) -> str:
    """The store's name for a refresh token: its SHA-256, hex (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


class RefreshTokens:
    """Issues, rotates and revokes refresh-token families in a `SessionStore`.

    Args:
        store: any adapter of the `SessionStore` protocol.
        clock: Unix seconds.
        policy: the family lifetimes.
    """

    def __init__(
        self,
        store: SessionStore,
        clock: Callable[[], float] = time.time,
        policy: RefreshPolicy | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.policy = policy or RefreshPolicy()

    async def start(
        self,
        address: str,
        role: str,
        session_version: int,
        *,
        kind: str = "eoa",
        absolute_s: float | None = None,
    ) -> RefreshGrant:
        """Start a family for a fresh sign-in and return its first token.

        Args:
            address: the checksummed address signed in.
            role: "user" or "admin".
            session_version: the address's session version at sign-in.
            kind: "eoa" or "contract" (how the sign-in was verified).
            absolute_s: a shorter absolute lifetime than the policy's (contract wallets).
        """
        now = self._clock()
        lifetime = min(self.policy.absolute_s, absolute_s or self.policy.absolute_s)
        family_id = secrets.token_urlsafe(16)
        deadline = now + lifetime
        await self._store.put(
            f"family:{family_id}", _dump({"abs": deadline, "revoked": False}), _ttl(lifetime)
        )
        record = {"f": family_id, "a": address, "r": role, "sv": session_version, "k": kind, "abs": deadline}
        return await self._issue(record, now)

    async def rotate(self, token: str) -> RefreshGrant:
        """Redeem `token` and return its successor.

        Raises:
            RefreshRejected: malformed_refresh, unknown_refresh, refresh_reused (the family is now
                revoked), family_revoked, refresh_expired, refresh_idle_expired.
        """
        digest = _checked_hash(token)
        raw = await self._store.take(f"refresh:{digest}")
        now = self._clock()
        if raw is None:
            used = await self._store.get(f"refresh-used:{digest}")
            if used is not None:
                await self.revoke_family(used.decode())
                raise RefreshRejected("refresh_reused")
            raise RefreshRejected("unknown_refresh")
        record = _load(raw)
        family_id = str(record["f"])
        deadline = float(record["abs"])
        # Remember the redeemed token before anything else can fail: a later copy is a reuse.
        await self._store.put(f"refresh-used:{digest}", family_id.encode(), _ttl(deadline - now))
        if now >= deadline:
            raise RefreshRejected("refresh_expired")
        if not await self.family_live(family_id):
            raise RefreshRejected("family_revoked")
        if now >= float(record["idle"]):
            await self.revoke_family(family_id)
            raise RefreshRejected("refresh_idle_expired")
        return await self._issue(record, now)

    async def family_live(self, family_id: str) -> bool:
        """True while the family exists, has not reached its absolute expiry and is not revoked."""
        raw = await self._store.get(f"family:{family_id}")
        if raw is None:
            return False
        family = _load(raw)
        return not family["revoked"] and float(family["abs"]) > self._clock()

    async def revoke_family(self, family_id: str) -> bool:
        """Revoke a family: its tokens and its session's access tokens stop working.

        Returns:
            True when a live family was revoked.
        """
        key = f"family:{family_id}"
        raw = await self._store.get(key)
        if raw is None:
            return False
        family = _load(raw)
        remaining = float(family["abs"]) - self._clock()
        if family["revoked"] or remaining <= 0:
            return False
        await self._store.put(key, _dump({"abs": family["abs"], "revoked": True}), _ttl(remaining))
        return True

    async def revoke_token(self, token: str) -> str | None:
        """Logout with a refresh token: revoke its family.

        A token that was already rotated counts as a reuse and revokes its family as well.

        Returns:
            The revoked family's id, or None when the token is unknown.

        Raises:
            RefreshRejected: malformed_refresh.
        """
        digest = _checked_hash(token)
        raw = await self._store.take(f"refresh:{digest}")
        if raw is not None:
            family_id = str(_load(raw)["f"])
        else:
            used = await self._store.get(f"refresh-used:{digest}")
            if used is None:
                return None
            family_id = used.decode()
        await self.revoke_family(family_id)
        return family_id

    async def _issue(self, record: dict[str, Any], now: float) -> RefreshGrant:
        deadline = float(record["abs"])
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        fresh = {**record, "idle": min(now + self.policy.idle_s, deadline)}
        # The record outlives its idle deadline (until the family's end) so that a late token is
        # told apart from an unknown one; `rotate` checks the idle deadline itself.
        await self._store.put(f"refresh:{token_hash(token)}", _dump(fresh), _ttl(deadline - now))
        return RefreshGrant(
            token=token,
            family_id=str(record["f"]),
            address=str(record["a"]),
            role=str(record["r"]),
            session_version=int(record["sv"]),
            idle_expires_at=float(fresh["idle"]),
            absolute_expires_at=deadline,
            kind=str(record["k"]),
        )


def _ttl(remaining: float) -> float:
    return min(MAX_TTL_S, max(remaining, 0.0) + _LATE_MARGIN_S)


def _checked_hash(token: str) -> str:
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise RefreshRejected("malformed_refresh")
    return token_hash(token)


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _load(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("a refresh record is a JSON object")
    return value
