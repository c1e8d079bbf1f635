"""The rules both outbox adapters apply: input bounds, the status life cycle, the mined fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerog_client.tx.outbox_rules import (
    INT64_MAX,
    UINT256_MAX,
    UNMINED,
    IntentNotFound,
    InvalidTransition,
    StatusFields,
    check_attempt,
    check_new,
    next_status,
    next_statuses,
)
from zerog_client.tx.records import NewTx, TxAttempt, TxStatus

pytestmark = pytest.mark.unit

H1, H2, BLOCK = "0x" + "1" * 64, "0x" + "2" * 64, "0x" + "b" * 64
RECEIPT = {"mined_tx_hash": H1, "mined_block_number": 5, "mined_block_hash": BLOCK}
MINED = StatusFields(TxStatus.MINED, H1, 5, BLOCK)


def _attempt(**changes: object) -> TxAttempt:
    fields: dict[str, object] = {
        "tx_hash": H1,
        "raw": b"\x02",
        "gas_price": None,
        "max_fee_per_gas": 1,
        "max_priority_fee_per_gas": 1,
        "created_at": 0.0,
    } | changes
    return TxAttempt(**fields)  # type: ignore[arg-type]


def _new(**changes: object) -> NewTx:
    fields: dict[str, object] = {
        "idempotency_key": "k",
        "chain_id": 16601,
        "sender": "0x" + "a" * 40,
        "nonce": 0,
        "to": None,
        "value": 0,
        "data": b"",
        "gas_limit": 21_000,
        "first_attempt": _attempt(),
    } | changes
    return NewTx(**fields)  # type: ignore[arg-type]


def test_bounds_accept_the_extremes() -> None:
    check_new(_new(value=UINT256_MAX, nonce=INT64_MAX, gas_limit=INT64_MAX, chain_id=INT64_MAX))
    check_attempt(_attempt(gas_price=UINT256_MAX, max_fee_per_gas=0, max_priority_fee_per_gas=None))


@pytest.mark.parametrize(
    "changes",
    [
        {"value": UINT256_MAX + 1},
        {"value": -1},
        {"nonce": INT64_MAX + 1},
        {"nonce": True},
        {"chain_id": 0},
        {"idempotency_key": ""},
        {"sender": ""},
        {"first_attempt": _attempt(tx_hash="0x" + "A" * 64)},
        {"first_attempt": _attempt(tx_hash="0x1234")},
        {"first_attempt": _attempt(raw=b"")},
        {"first_attempt": _attempt(max_fee_per_gas=-1)},
    ],
)
def test_bounds_refuse_what_the_schema_cannot_hold(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must|needs"):
        check_new(_new(**changes))


def test_forward_moves_are_allowed() -> None:
    signed = StatusFields(TxStatus.SIGNED)
    submitted = next_status(signed, [H1], TxStatus.SUBMITTED)
    mined = next_status(submitted, [H1], TxStatus.MINED, **RECEIPT)  # type: ignore[arg-type]
    confirmed = next_status(mined, [H1], TxStatus.CONFIRMED)
    assert confirmed == StatusFields(TxStatus.CONFIRMED, H1, 5, BLOCK)
    # Recovery may find a receipt for an intent it never saw submitted.
    assert next_status(signed, [H1], TxStatus.CONFIRMED, **RECEIPT).status is TxStatus.CONFIRMED  # type: ignore[arg-type]


def test_a_reorg_clears_the_receipt_and_keeps_the_error() -> None:
    failed_once = StatusFields(TxStatus.MINED, H1, 5, BLOCK, error="slow")
    assert next_status(failed_once, [H1], TxStatus.SUBMITTED) == StatusFields(
        TxStatus.SUBMITTED, error="slow"
    )


def test_mined_again_in_another_block_replaces_the_receipt() -> None:
    moved = next_status(MINED, [H1, H2], TxStatus.MINED, mined_tx_hash=H2, mined_block_number=6)
    assert moved == StatusFields(TxStatus.MINED, H2, 6, BLOCK)


@pytest.mark.parametrize(
    ("current", "target", "fields", "match"),
    [
        (StatusFields(TxStatus.SUBMITTED), TxStatus.SIGNED, {}, "back"),
        (MINED, TxStatus.SIGNED, {}, "back"),
        (StatusFields(TxStatus.SUBMITTED), TxStatus.MINED, {}, "needs"),
        (StatusFields(TxStatus.SUBMITTED), TxStatus.CONFIRMED, {"mined_tx_hash": H1}, "needs"),
        (StatusFields(TxStatus.SUBMITTED), TxStatus.MINED, RECEIPT | {"mined_tx_hash": H2}, "not an attempt"),
        (StatusFields(TxStatus.SIGNED), TxStatus.SUBMITTED, {"mined_block_number": 1}, "no sense"),
        (StatusFields(TxStatus.CONFIRMED, H1, 5, BLOCK), TxStatus.SUBMITTED, {}, "terminal"),
        (StatusFields(TxStatus.FAILED), TxStatus.CONFIRMED, RECEIPT, "terminal"),
        (StatusFields(TxStatus.EXPIRED), TxStatus.EXPIRED, {"error": "new"}, "terminal"),
    ],
)
def test_forbidden_moves(
    current: StatusFields, target: TxStatus, fields: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidTransition, match=match):
        next_status(current, [H1], target, **fields)  # type: ignore[arg-type]


def test_repeating_a_terminal_status_is_a_no_op() -> None:
    confirmed = StatusFields(TxStatus.CONFIRMED, H1, 5, BLOCK, error=None)
    assert next_status(confirmed, [H1], TxStatus.CONFIRMED) == confirmed
    assert next_status(confirmed, [H1], TxStatus.CONFIRMED, **RECEIPT) == confirmed  # type: ignore[arg-type]


@given(
    st.sampled_from([s for s in TxStatus if s.terminal]),
    st.sampled_from(list(TxStatus)),
    st.one_of(st.none(), st.text(max_size=5)),
)
def test_a_terminal_status_never_changes(terminal: TxStatus, target: TxStatus, error: str | None) -> None:
    current = StatusFields(terminal, H1, 5, BLOCK, error="e")
    try:
        after = next_status(current, [H1], target, error=error)
    except InvalidTransition:
        return
    assert after == current


def test_many_updates_apply_in_order_and_report_only_changes() -> None:
    current = {1: StatusFields(TxStatus.SIGNED), 2: MINED, 3: StatusFields(TxStatus.SUBMITTED)}
    changed = next_statuses(
        current,
        [(1, TxStatus.SUBMITTED), (2, TxStatus.CONFIRMED), (2, TxStatus.EXPIRED), (3, TxStatus.SUBMITTED)],
    )
    assert changed == {
        1: StatusFields(TxStatus.SUBMITTED),
        2: StatusFields(TxStatus.CONFIRMED, H1, 5, BLOCK),
    }


@given(
    st.sampled_from(list(TxStatus)),
    st.lists(st.sampled_from([s for s in TxStatus if s is not TxStatus.MINED]), max_size=4),
)
def test_many_updates_never_undo_progress(start: TxStatus, targets: list[TxStatus]) -> None:
    # A receipt is stored from MINED on; below MINED none may stand.
    fields = StatusFields(start) if start in UNMINED else StatusFields(start, H1, 5, BLOCK)
    try:
        after = next_statuses({1: fields}, [(1, t) for t in targets]).get(1, fields)
    except InvalidTransition:
        # Only CONFIRMED without a receipt is refused; moving backwards is skipped, never refused.
        assert TxStatus.CONFIRMED in targets
        assert fields.mined_tx_hash is None
        return
    assert after.status.rank >= start.rank
    if start.terminal:
        assert after == fields


def test_many_updates_name_the_bad_intent() -> None:
    with pytest.raises(InvalidTransition, match="intent 2"):
        next_statuses(
            {1: StatusFields(TxStatus.SIGNED), 2: StatusFields(TxStatus.SUBMITTED)},
            [(1, TxStatus.SUBMITTED), (2, TxStatus.MINED)],
        )
    with pytest.raises(IntentNotFound):
        next_statuses({}, [(7, TxStatus.SUBMITTED)])
