"""What every outbox adapter does the same way: input ranges, status transitions, row mapping.

Kept apart from the storage code so the SQLite and PostgreSQL adapters cannot drift: both call these
pure functions inside their transactions, and the unit tests pin the rules once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from zerog_client.errors import ZeroGError
from zerog_client.tx.records import NewTx, TxAttempt, TxRecord, TxStatus

# Column bounds. uint256 amounts are stored as decimal text/NUMERIC; everything else in a signed
# 64-bit integer column, which no real nonce, gas limit, chain id or block number comes close to.
UINT256_MAX = 2**256 - 1
INT64_MAX = 2**63 - 1

# Statuses below MINED: the intent is not (or no longer) in a block, so no mined fields may stand.
UNMINED = frozenset({TxStatus.SIGNED, TxStatus.SUBMITTED})
# Statuses that claim a receipt: they cannot stand without the tx hash and block that prove it.
NEEDS_RECEIPT = frozenset({TxStatus.MINED, TxStatus.CONFIRMED})
OPEN_STATUSES = tuple(s for s in TxStatus if not s.terminal)

_HASH = re.compile(r"0x[0-9a-f]{64}")


class InvalidTransition(ZeroGError, ValueError):
    """A status change the life cycle forbids (e.g. leaving a terminal state), or inconsistent fields."""

    code = "invalid_transition"


class IntentNotFound(ZeroGError, LookupError):
    """No intent has this id."""

    code = "intent_not_found"


@dataclass(frozen=True, slots=True)
class StatusFields:
    """The mutable part of an intent: what `set_status` may change."""

    status: TxStatus
    mined_tx_hash: str | None = None
    mined_block_number: int | None = None
    mined_block_hash: str | None = None
    error: str | None = None


class Row(Protocol):
    """A result row addressed by column name (`sqlite3.Row`, `asyncpg.Record`)."""

    def __getitem__(self, key: str, /) -> Any: ...


# The column names the row mappers read; both adapters select exactly these.
INTENT_COLUMNS = (
    "id, idempotency_key, chain_id, sender, nonce, to_address, value, data, gas_limit, status, "
    "created_at, updated_at, mined_tx_hash, mined_block_number, mined_block_hash, error"
)
ATTEMPT_COLUMNS = "intent_id, tx_hash, raw, gas_price, max_fee_per_gas, max_priority_fee_per_gas, created_at"
STATUS_COLUMNS = "id, status, mined_tx_hash, mined_block_number, mined_block_hash, error"


def check_new(new: NewTx) -> None:
    """Refuse an intent that the schema could not store exactly.

    Raises:
        ValueError: a field is out of range or malformed.
    """
    if not new.idempotency_key:
        raise ValueError("the idempotency key must not be empty")
    _check_range("chain_id", new.chain_id, 1, INT64_MAX)
    _check_range("nonce", new.nonce, 0, INT64_MAX)
    _check_range("value", new.value, 0, UINT256_MAX)
    _check_range("gas_limit", new.gas_limit, 0, INT64_MAX)
    if not new.sender:
        raise ValueError("the sender must not be empty")
    check_attempt(new.first_attempt)


def check_attempt(attempt: TxAttempt) -> None:
    """Refuse an attempt with a malformed hash, no raw bytes or fees outside uint256.

    Raises:
        ValueError: a field is out of range or malformed.
    """
    check_hash("tx_hash", attempt.tx_hash)
    if not attempt.raw:
        raise ValueError("an attempt needs its signed raw bytes")
    for name in ("gas_price", "max_fee_per_gas", "max_priority_fee_per_gas"):
        fee = getattr(attempt, name)
        if fee is not None:
            _check_range(name, fee, 0, UINT256_MAX)


def check_hash(name: str, value: str) -> None:
    """Refuse anything but a 0x-prefixed, lower-case, 32-byte hex hash.

    One spelling per hash keeps the UNIQUE constraint on attempt hashes meaningful.

    Raises:
        ValueError: `value` is not such a hash.
    """
    if not _HASH.fullmatch(value):
        raise ValueError(f"{name} must be 0x followed by 64 lower-case hex digits, got {value!r}")


def next_status(
    current: StatusFields,
    hashes: Collection[str],
    status: TxStatus,
    *,
    mined_tx_hash: str | None = None,
    mined_block_number: int | None = None,
    mined_block_hash: str | None = None,
    error: str | None = None,
) -> StatusFields:
    """The fields after moving an intent from `current` to `status`.

    Rules: a terminal status never changes (setting the same one again with nothing new is a no-op);
    nothing goes back to SIGNED, since a broadcast cannot be undone; going back to SUBMITTED (a reorg)
    clears the mined fields; MINED and CONFIRMED need a tx hash, block number and block hash, given or
    already stored; a mined hash must be one of the intent's attempts. `error` replaces the stored one
    when given.

    Args:
        current: the stored fields.
        hashes: every attempt hash of the intent.
        status: the target status.
        mined_tx_hash: the hash that mined, if known now.
        mined_block_number: its block number.
        mined_block_hash: its block hash.
        error: why the intent failed or stalled.

    Returns:
        The fields to store (equal to `current` when nothing changes).

    Raises:
        InvalidTransition: the move or the fields are not allowed.
    """
    given = StatusFields(status, mined_tx_hash, mined_block_number, mined_block_hash, error)
    if current.status.terminal:
        if status is current.status and _only_repeats(current, given):
            return current
        raise InvalidTransition(f"the intent is {current.status.value}, a terminal status; it cannot change")
    if status is TxStatus.SIGNED and current.status is not TxStatus.SIGNED:
        raise InvalidTransition(f"an intent cannot go back from {current.status.value} to signed")
    if status in UNMINED:
        if mined_tx_hash is not None or mined_block_number is not None or mined_block_hash is not None:
            raise InvalidTransition(f"mined fields make no sense for a {status.value} intent")
        return StatusFields(status, None, None, None, current.error if error is None else error)
    if mined_tx_hash is not None and mined_tx_hash not in hashes:
        raise InvalidTransition(f"{mined_tx_hash} is not an attempt of this intent")
    if mined_block_number is not None:
        _check_range("mined_block_number", mined_block_number, 0, INT64_MAX)
    if mined_block_hash is not None:
        check_hash("mined_block_hash", mined_block_hash)
    result = StatusFields(
        status,
        current.mined_tx_hash if mined_tx_hash is None else mined_tx_hash,
        current.mined_block_number if mined_block_number is None else mined_block_number,
        current.mined_block_hash if mined_block_hash is None else mined_block_hash,
        current.error if error is None else error,
    )
    if status in NEEDS_RECEIPT and None in (
        result.mined_tx_hash,
        result.mined_block_number,
        result.mined_block_hash,
    ):
        raise InvalidTransition(f"a {status.value} intent needs its mined tx hash, block number and hash")
    return result


def next_statuses(
    current: Mapping[int, StatusFields], updates: Sequence[tuple[int, TxStatus]]
) -> dict[int, StatusFields]:
    """Apply `updates` in order, as `set_status_many` does, and return the intents that change.

    Bulk updates only move intents forward: a pair that would leave a terminal status or go back to a
    lower rank (SIGNED < SUBMITTED < MINED < terminal) is skipped, not refused. A burst is marked
    SUBMITTED after its broadcast, by which time a receipt may already have made some of it MINED or
    CONFIRMED; that progress must not be undone, nor fail the whole batch. A reorg, the one legitimate
    move backwards, goes through `next_status` (`set_status`). An id may appear several times; each
    pair is checked against the result of the previous ones.

    Args:
        current: the stored fields of every id in `updates`.
        updates: (id, status) pairs.

    Returns:
        The final fields of each id whose fields differ from `current`.

    Raises:
        IntentNotFound: an id is not in `current`.
        InvalidTransition: a forward move lacks what it needs (MINED or CONFIRMED without a stored
            receipt); nothing should then be written.
    """
    state = dict(current)
    for record_id, status in updates:
        fields = state.get(record_id)
        if fields is None:
            raise IntentNotFound(f"no intent with id {record_id}")
        if fields.status.terminal or status.rank < fields.status.rank:
            continue
        try:
            state[record_id] = next_status(fields, (), status)
        except InvalidTransition as exc:
            raise InvalidTransition(f"intent {record_id}: {exc.message}") from exc
    return {record_id: fields for record_id, fields in state.items() if fields != current[record_id]}


def new_record(record_id: int, item: NewTx, now: float) -> TxRecord:
    """The record an intent becomes when first written: SIGNED, with its first attempt."""
    return TxRecord(
        id=record_id,
        idempotency_key=item.idempotency_key,
        chain_id=item.chain_id,
        sender=item.sender,
        nonce=item.nonce,
        to=item.to,
        value=item.value,
        data=item.data,
        gas_limit=item.gas_limit,
        status=TxStatus.SIGNED,
        attempts=(item.first_attempt,),
        created_at=now,
        updated_at=now,
    )


def record_from_row(row: Row, attempts: Sequence[TxAttempt]) -> TxRecord:
    """An intent from a row of `INTENT_COLUMNS` (amounts as decimal text or NUMERIC)."""
    return TxRecord(
        id=int(row["id"]),
        idempotency_key=str(row["idempotency_key"]),
        chain_id=int(row["chain_id"]),
        sender=str(row["sender"]),
        nonce=int(row["nonce"]),
        to=_opt_str(row["to_address"]),
        value=int(row["value"]),
        data=bytes(row["data"]),
        gas_limit=int(row["gas_limit"]),
        status=TxStatus(row["status"]),
        attempts=tuple(attempts),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        mined_tx_hash=_opt_str(row["mined_tx_hash"]),
        mined_block_number=_opt_int(row["mined_block_number"]),
        mined_block_hash=_opt_str(row["mined_block_hash"]),
        error=_opt_str(row["error"]),
    )


def attempt_from_row(row: Row) -> TxAttempt:
    """An attempt from a row of `ATTEMPT_COLUMNS`."""
    return TxAttempt(
        tx_hash=str(row["tx_hash"]),
        raw=bytes(row["raw"]),
        gas_price=_opt_int(row["gas_price"]),
        max_fee_per_gas=_opt_int(row["max_fee_per_gas"]),
        max_priority_fee_per_gas=_opt_int(row["max_priority_fee_per_gas"]),
        created_at=float(row["created_at"]),
    )


def status_from_row(row: Row) -> StatusFields:
    """The mutable fields from a row of `STATUS_COLUMNS`."""
    return StatusFields(
        status=TxStatus(row["status"]),
        mined_tx_hash=_opt_str(row["mined_tx_hash"]),
        mined_block_number=_opt_int(row["mined_block_number"]),
        mined_block_hash=_opt_str(row["mined_block_hash"]),
        error=_opt_str(row["error"]),
    )


def _opt_int(value: int | str | Decimal | None) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: str | None) -> str | None:
    return None if value is None else str(value)


def _only_repeats(current: StatusFields, given: StatusFields) -> bool:
    """True when every field given is either absent or already the stored value."""
    merged = replace(
        given,
        mined_tx_hash=given.mined_tx_hash or current.mined_tx_hash,
        mined_block_number=(
            current.mined_block_number if given.mined_block_number is None else given.mined_block_number
        ),
        mined_block_hash=given.mined_block_hash or current.mined_block_hash,
        error=current.error if given.error is None else given.error,
    )
    return merged == current


def _check_range(name: str, value: int, low: int, high: int) -> None:
    # bool is an int subclass; True as a nonce is always a bug upstream.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
