"""The outbox interface: durable storage of intents and attempts, written before any broadcast.

Two adapters satisfy it (SQLite for the embedded profile, PostgreSQL for the cluster profile), and one
contract test suite runs against both.
"""

from __future__ import annotations

from typing import Protocol

from zerog_client.errors import ZeroGError
from zerog_client.tx.records import NewTx, TxAttempt, TxRecord, TxStatus


class OutboxError(ZeroGError):
    """The outbox could not read or write."""

    code = "outbox_error"
    retryable = True


class NonceConflict(ZeroGError):
    """Another intent already holds this (chain, sender, nonce)."""

    code = "nonce_conflict"


class Outbox(Protocol):
    """Durable intents. Every method is atomic; `insert_many` is all-or-nothing."""

    async def open(self) -> None:
        """Connect and create or migrate the schema."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

    async def insert_many(self, new: list[NewTx]) -> list[tuple[TxRecord, bool]]:
        """Write intents with their first attempt in one transaction.

        For each item returns (record, created): an existing idempotency key returns the stored
        record unchanged with created=False (the new attempt is not stored).

        Raises:
            NonceConflict: a new intent reuses a (chain, sender, nonce) held by another key; nothing
                of the batch is written.
        """
        ...

    async def add_attempt(self, record_id: int, attempt: TxAttempt) -> TxRecord:
        """Append a replacement attempt (same nonce, higher fees) to an intent."""
        ...

    async def set_status(
        self,
        record_id: int,
        status: TxStatus,
        *,
        mined_tx_hash: str | None = None,
        mined_block_number: int | None = None,
        mined_block_hash: str | None = None,
        error: str | None = None,
    ) -> TxRecord:
        """Move an intent to `status`. Mined fields are replaced when given, cleared when the status
        goes back below MINED (a reorg)."""
        ...

    async def set_status_many(self, updates: list[tuple[int, TxStatus]]) -> None:
        """Move many intents at once (e.g. a burst becoming SUBMITTED) in one transaction."""
        ...

    async def get(self, idempotency_key: str) -> TxRecord | None:
        """The intent stored under `idempotency_key`."""
        ...

    async def get_by_id(self, record_id: int) -> TxRecord | None:
        """The intent with this id."""
        ...

    async def open_intents(self, chain_id: int, sender: str | None = None) -> list[TxRecord]:
        """Non-terminal intents of a chain (optionally one sender), by (sender, nonce)."""
        ...

    async def highest_nonce(self, chain_id: int, sender: str) -> int | None:
        """The highest nonce ever written for the sender on the chain, or None."""
        ...
