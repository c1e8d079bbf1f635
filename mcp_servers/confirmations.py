"""Single-use confirmation handles bound to one principal and one exact transaction (SECURITY.md §2.9, §3.3).

A value-moving tool never acts on its first call: it mints a handle sealing (principal, digest of the
exact unsigned transaction, expiry, random id, summary) with AES-256-GCM and returns it with the
summary. Only a second call presenting the handle may send. Handles are self-contained, so any
replica holding the secret can verify one minted by another; single use needs shared state, which a
`HandleLedger` provides (in memory for one process, SQLite for several processes on one machine).

This module also keeps the spending record (`SpendLedger`) from which the policy's rolling 24 h
`SpendState` is built.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mcp_servers.policy import SpendState
from zerog_client.errors import ZeroGError

MAX_TTL_S = 120.0
DAY_S = 24 * 60 * 60.0
# Layout of a handle: version byte, 96-bit GCM nonce, ciphertext and 128-bit tag, url-safe base64.
_VERSION = 1
_NONCE_BYTES = 12
_ID_BYTES = 16
# The summary travels inside the handle; a bound keeps handles small enough for any transport.
_MAX_SUMMARY_BYTES = 4096
_MAX_HANDLE_CHARS = 8192
# Rows of used handles are kept this long past their expiry before purging, so a replica whose
# clock runs behind still finds the row and refuses a reuse it would otherwise think unexpired.
PURGE_GRACE_S = 600.0


class ConfirmationError(ZeroGError):
    """A confirmation handle that cannot be redeemed. Messages never echo the handle or the secret."""

    code = "confirmation_error"


class ConfirmationInvalid(ConfirmationError):
    """Not a handle this server minted: garbage, tampered with, or sealed under another secret."""

    code = "confirmation_invalid"


class ConfirmationExpired(ConfirmationError):
    """The handle is genuine but its time is up; prepare the transaction again."""

    code = "confirmation_expired"


class ConfirmationMismatch(ConfirmationError):
    """The handle confirms another user's request or another transaction (amount, recipient, ...)."""

    code = "confirmation_mismatch"


class ConfirmationUsed(ConfirmationError):
    """The handle was already redeemed once."""

    code = "confirmation_used"


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The contents of a redeemed handle: what the user confirmed and until when."""

    handle_id: str
    principal: str
    tx_digest: str
    expires_at: float
    summary: dict[str, Any] = field(default_factory=dict)


class HandleLedger(Protocol):
    """Where used handle ids are recorded, shared by every replica that redeems handles."""

    async def use_once(self, handle_id: str, expires_at: float) -> bool:
        """Atomically record `handle_id` as used; True only for the first caller ever."""
        ...


class ConfirmationHandles:
    """Mints and redeems confirmation handles.

    Args:
        secret: 32 bytes (AES-256), shared by the replicas; never logged or returned.
        ttl_s: how long a handle stays valid, at most 120 s.
        clock: seconds since the epoch (injected by tests). Replicas must have synchronised clocks.
        purpose: bound as associated data so a handle minted for one flow is invalid in another.
    """

    def __init__(
        self,
        secret: bytes,
        ttl_s: float = MAX_TTL_S,
        clock: Callable[[], float] = time.time,
        purpose: str = "transfer",
    ) -> None:
        if len(secret) != 32:
            raise ValueError("the confirmation secret must be 32 bytes")
        if not (math.isfinite(ttl_s) and 0 < ttl_s <= MAX_TTL_S):
            raise ValueError(f"the confirmation lifetime must be more than 0 and at most {MAX_TTL_S:g} s")
        if not purpose:
            raise ValueError("a purpose is required")
        self._aead = AESGCM(secret)
        self._ttl_s = float(ttl_s)
        self._clock = clock
        self._aad = f"zgvoice/mcp/confirmation/v{_VERSION}/{purpose}".encode()

    def __repr__(self) -> str:
        # The default repr could be logged; make sure it never shows key material.
        return f"ConfirmationHandles(ttl_s={self._ttl_s:g})"

    @property
    def ttl_s(self) -> float:
        """The lifetime of newly minted handles."""
        return self._ttl_s

    def mint(self, principal: str, tx_digest: str, summary: dict[str, Any]) -> str:
        """A new handle confirming `tx_digest` for `principal`, valid for `ttl_s` from now.

        Args:
            principal: the verified user.
            tx_digest: `UnsignedTx.digest()` of the exact transaction shown.
            summary: what was shown to the user (JSON-serialisable); sealed so any replica can
                recover exactly what was confirmed.

        Raises:
            ValueError: empty principal or digest, or a summary that is not small JSON.
        """
        if not principal or not tx_digest:
            raise ValueError("a confirmation needs a principal and a transaction digest")
        payload = {
            "v": _VERSION,
            "id": secrets.token_bytes(_ID_BYTES).hex(),
            "p": principal,
            "d": tx_digest,
            "e": self._clock() + self._ttl_s,
            "s": summary,
        }
        try:
            summary_size = len(json.dumps(summary, separators=(",", ":"), allow_nan=False))
            plaintext = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ValueError("the summary must be plain JSON") from exc
        if summary_size > _MAX_SUMMARY_BYTES:
            raise ValueError(f"the summary is limited to {_MAX_SUMMARY_BYTES} bytes of JSON")
        # A random 96-bit nonce per handle: with one key, collisions stay negligible far beyond any
        # realistic number of confirmations.
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = bytes([_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, self._aad)
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def open(self, handle: str) -> Confirmation:
        """Verify and decrypt `handle` without checking binding, expiry or use.

        Raises:
            ConfirmationInvalid: not a genuine handle for this secret and purpose.
        """
        if not isinstance(handle, str) or not 0 < len(handle) <= _MAX_HANDLE_CHARS:
            raise ConfirmationInvalid("the confirmation is not valid")
        try:
            raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ConfirmationInvalid("the confirmation is not valid") from exc
        if len(raw) < 1 + _NONCE_BYTES + 16 or raw[0] != _VERSION:
            raise ConfirmationInvalid("the confirmation is not valid")
        nonce, ciphertext = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
        # The version byte is outside the ciphertext; binding it into the AAD stops a downgrade.
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, self._aad)
        except InvalidTag as exc:
            raise ConfirmationInvalid("the confirmation is not valid") from exc
        try:
            payload = json.loads(plaintext)
            confirmation = Confirmation(
                handle_id=str(payload["id"]),
                principal=str(payload["p"]),
                tx_digest=str(payload["d"]),
                expires_at=float(payload["e"]),
                summary=dict(payload["s"]),
            )
        except (ValueError, KeyError, TypeError) as exc:  # only reachable with the secret: a bug
            raise ConfirmationInvalid("the confirmation is not valid") from exc
        if payload.get("v") != _VERSION:
            raise ConfirmationInvalid("the confirmation is not valid")
        return confirmation

    async def redeem(self, handle: str, principal: str, tx_digest: str, ledger: HandleLedger) -> Confirmation:
        """Accept `handle` once, for `principal` sending exactly the transaction `tx_digest`.

        Binding and expiry are checked before the ledger, so a wrong or late attempt never burns a
        handle the rightful user could still redeem.

        Args:
            handle: as returned by `mint`.
            principal: the verified user presenting it (never taken from the handle).
            tx_digest: `UnsignedTx.digest()` of the transaction about to be sent, recomputed now.
            ledger: the shared record of used handles.

        Returns:
            What was confirmed (callers may ignore it).

        Raises:
            ConfirmationInvalid: garbage, tampered with, or another secret/purpose.
            ConfirmationMismatch: another principal or another transaction.
            ConfirmationExpired: presented at or after its expiry.
            ConfirmationUsed: already redeemed.
        """
        confirmation = self.open(handle)
        # compare_digest: the comparison time should not hint at how much of a value matched.
        if not secrets.compare_digest(confirmation.principal.encode(), principal.encode()):
            raise ConfirmationMismatch("this confirmation was issued to another user")
        if not secrets.compare_digest(confirmation.tx_digest.lower().encode(), tx_digest.lower().encode()):
            raise ConfirmationMismatch("the transaction changed after it was confirmed; confirm it again")
        if self._clock() >= confirmation.expires_at:
            raise ConfirmationExpired("the confirmation expired; prepare the transaction again")
        if not await ledger.use_once(confirmation.handle_id, confirmation.expires_at):
            raise ConfirmationUsed("this confirmation was already used")
        return confirmation


# --- handle ledgers ---------------------------------------------------------------------------------


class InMemoryHandleLedger:
    """Used handle ids of one process (tests, single-replica stdio servers)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._used: dict[str, float] = {}

    async def use_once(self, handle_id: str, expires_at: float) -> bool:
        """Record `handle_id`; True only the first time."""
        # No await between the check and the insert, so this is atomic within the event loop.
        self._purge()
        if handle_id in self._used:
            return False
        self._used[handle_id] = expires_at
        return True

    def _purge(self) -> None:
        horizon = self._clock() - PURGE_GRACE_S
        for stale in [key for key, expiry in self._used.items() if expiry < horizon]:
            del self._used[stale]


_HANDLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS used_confirmations (
    handle_id TEXT PRIMARY KEY NOT NULL,
    expires_at REAL NOT NULL
)
"""
_HANDLE_INDEX = "CREATE INDEX IF NOT EXISTS used_confirmations_expiry ON used_confirmations (expires_at)"


class _SqliteFile:
    """One SQLite file shared by processes: WAL, a busy timeout, and the schema created once."""

    def __init__(self, path: str | Path, statements: Iterable[str]) -> None:
        self.path = str(path)
        self._statements = tuple(statements)
        self._ready = False
        self._lock = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        # A connection per operation, opened in the worker thread: no connection crosses threads, and
        # the busy timeout makes writers from other processes wait instead of failing.
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        with self._lock:
            if not self._ready:
                self._prepare(conn)
                self._ready = True
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment of exclusive access that the busy timeout does not always
        # wait for while other processes write, so it is skipped when the file is already in WAL
        # and otherwise retried a bounded number of times.
        for attempt in range(50):
            try:
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                for statement in self._statements:
                    conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.02)  # back off before asking for the lock again


class SqliteHandleLedger:
    """Used handle ids in a SQLite file, safe for several processes on one machine.

    Single use rests on the PRIMARY KEY: of any number of concurrent inserts of one id, exactly one
    commits; the others hit the constraint and lose.
    """

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self._file = _SqliteFile(path, (_HANDLE_SCHEMA, _HANDLE_INDEX))
        self._clock = clock

    async def use_once(self, handle_id: str, expires_at: float) -> bool:
        """Record `handle_id`; True only for the first caller across every process."""
        return await anyio.to_thread.run_sync(self._use_once, handle_id, expires_at)

    def _use_once(self, handle_id: str, expires_at: float) -> bool:
        conn = self._file.connect()
        try:
            # IMMEDIATE takes the write lock up front, so the purge and insert are one transaction.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "DELETE FROM used_confirmations WHERE expires_at < ?",
                    (self._clock() - PURGE_GRACE_S,),
                )
                conn.execute(
                    "INSERT INTO used_confirmations (handle_id, expires_at) VALUES (?, ?)",
                    (handle_id, expires_at),
                )
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                return False
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return True
        finally:
            conn.close()


# --- spending ledgers --------------------------------------------------------------------------------


class SpendLedger(Protocol):
    """Amounts sent per principal and asset, with when they were sent."""

    async def record(self, principal: str, asset: str, amount: int, at: float) -> None:
        """Record that `principal` sent `amount` base units of `asset` at time `at`."""
        ...

    async def spent_since(self, principal: str, asset: str, since: float) -> int:
        """Total base units of `asset` that `principal` sent at or after `since`."""
        ...


def check_spend(principal: str, asset: str, amount: int) -> None:
    if not principal or not asset:
        raise ValueError("a spend needs a principal and an asset")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError("an amount is a non-negative whole number of base units")


def asset_key(asset: str) -> str:
    # Token addresses arrive checksummed or not; one spelling per asset keeps the sums whole.
    return asset.lower()


class InMemorySpendLedger:
    """Spending of one process."""

    def __init__(self) -> None:
        self._rows: list[tuple[str, str, int, float]] = []

    async def record(self, principal: str, asset: str, amount: int, at: float) -> None:
        """Record a sent amount."""
        check_spend(principal, asset, amount)
        self._rows.append((principal, asset_key(asset), amount, at))

    async def spent_since(self, principal: str, asset: str, since: float) -> int:
        """Total sent at or after `since`."""
        key = asset_key(asset)
        return sum(
            amount for who, what, amount, at in self._rows if who == principal and what == key and at >= since
        )


_SPEND_SCHEMA = """
CREATE TABLE IF NOT EXISTS spends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    principal TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount TEXT NOT NULL,
    at REAL NOT NULL
)
"""
_SPEND_INDEX = "CREATE INDEX IF NOT EXISTS spends_by_principal ON spends (principal, asset, at)"


class SqliteSpendLedger:
    """Spending in a SQLite file shared by processes on one machine.

    Amounts are stored as decimal text because SQLite integers stop at 2**63-1, far below uint256.
    """

    def __init__(self, path: str | Path) -> None:
        self._file = _SqliteFile(path, (_SPEND_SCHEMA, _SPEND_INDEX))

    async def record(self, principal: str, asset: str, amount: int, at: float) -> None:
        """Record a sent amount."""
        check_spend(principal, asset, amount)
        await anyio.to_thread.run_sync(self._record, principal, asset_key(asset), amount, at)

    async def spent_since(self, principal: str, asset: str, since: float) -> int:
        """Total sent at or after `since`."""
        return await anyio.to_thread.run_sync(self._spent_since, principal, asset_key(asset), since)

    def _record(self, principal: str, asset: str, amount: int, at: float) -> None:
        conn = self._file.connect()
        try:
            conn.execute(
                "INSERT INTO spends (principal, asset, amount, at) VALUES (?, ?, ?, ?)",
                (principal, asset, str(amount), at),
            )
        finally:
            conn.close()

    def _spent_since(self, principal: str, asset: str, since: float) -> int:
        conn = self._file.connect()
        try:
            rows = conn.execute(
                "SELECT amount FROM spends WHERE principal = ? AND asset = ? AND at >= ?",
                (principal, asset, since),
            ).fetchall()
        finally:
            conn.close()
        return sum(int(amount) for (amount,) in rows)


async def spend_state(
    ledger: SpendLedger, principal: str, assets: Iterable[str], now: float, window_s: float = DAY_S
) -> SpendState:
    """The rolling-window `SpendState` of `principal` for `assets` (NATIVE_ASSET or token addresses)."""
    since = now - window_s
    spent = {asset_key(asset): await ledger.spent_since(principal, asset, since) for asset in assets}
    return SpendState(principal=principal, spent_24h=spent)
