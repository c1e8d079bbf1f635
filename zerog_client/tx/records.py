"""What the transaction manager persists: one intent per idempotency key, and every signed attempt.

States follow the outbox life cycle: an intent is written SIGNED (its raw bytes persisted) before it is
broadcast, so a crash at any point can be recovered by re-sending exactly the same bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class FeeLike(Protocol):
    """Per-gas prices of a transaction (a `FeeQuote`)."""

    @property
    def gas_price(self) -> int | None: ...

    @property
    def max_fee_per_gas(self) -> int | None: ...

    @property
    def max_priority_fee_per_gas(self) -> int | None: ...


class TxStatus(StrEnum):
    """Life cycle of an intent. Terminal: CONFIRMED, FAILED, EXPIRED, CANCELED."""

    SIGNED = "signed"  # raw bytes persisted, not yet known to be broadcast
    SUBMITTED = "submitted"  # broadcast at least once (or the node said it already knows it)
    MINED = "mined"  # in a block, not yet deep enough
    CONFIRMED = "confirmed"  # at the confirmation depth: final for us
    FAILED = "failed"  # mined with status 0 (the nonce is consumed), or refused for good before mining
    EXPIRED = "expired"  # gave up before mining (its nonce was then taken by a NOOP)
    CANCELED = "canceled"  # replaced on purpose by a NOOP self-transfer

    @property
    def rank(self) -> int:
        """Progress order: SIGNED < SUBMITTED < MINED < the terminal states (all equal)."""
        return _RANKS[self]

    @property
    def terminal(self) -> bool:
        """True once nothing more will happen to the intent."""
        return self in (TxStatus.CONFIRMED, TxStatus.FAILED, TxStatus.EXPIRED, TxStatus.CANCELED)


_RANKS = {
    TxStatus.SIGNED: 0,
    TxStatus.SUBMITTED: 1,
    TxStatus.MINED: 2,
    TxStatus.CONFIRMED: 3,
    TxStatus.FAILED: 3,
    TxStatus.EXPIRED: 3,
    TxStatus.CANCELED: 3,
}


@dataclass(frozen=True, slots=True)
class TxAttempt:
    """One signed version of an intent (the first, or a fee bump at the same nonce)."""

    tx_hash: str  # 0x-prefixed, lower case
    raw: bytes
    gas_price: int | None  # legacy transactions
    max_fee_per_gas: int | None  # EIP-1559
    max_priority_fee_per_gas: int | None
    created_at: float

    @classmethod
    def of(cls, tx_hash: str, raw: bytes, fees: FeeLike) -> TxAttempt:
        """An attempt signed now with `fees`."""
        return cls(
            tx_hash, raw, fees.gas_price, fees.max_fee_per_gas, fees.max_priority_fee_per_gas, time.time()
        )


@dataclass(frozen=True, slots=True)
class NewTx:
    """An intent about to be written, with its first signed attempt."""

    idempotency_key: str
    chain_id: int
    sender: str  # EIP-55
    nonce: int
    to: str | None  # None: contract creation
    value: int
    data: bytes
    gas_limit: int
    first_attempt: TxAttempt


@dataclass(frozen=True, slots=True)
class TxRecord:
    """An intent as stored, with all its attempts in order (the last is the one to re-send)."""

    id: int
    idempotency_key: str
    chain_id: int
    sender: str
    nonce: int
    to: str | None
    value: int
    data: bytes
    gas_limit: int
    status: TxStatus
    attempts: tuple[TxAttempt, ...]
    created_at: float
    updated_at: float
    mined_tx_hash: str | None = None
    mined_block_number: int | None = None
    mined_block_hash: str | None = None
    error: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def latest(self) -> TxAttempt:
        """The most recent attempt: what recovery re-sends."""
        return self.attempts[-1]

    @property
    def hashes(self) -> tuple[str, ...]:
        """Every hash ever broadcast for this intent (any of them may be the one that mines)."""
        return tuple(a.tx_hash for a in self.attempts)
