"""The Outbox contract: the same tests run against every adapter (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.contract.conftest import OutboxBackend
from zerog_client.tx.outbox import NonceConflict, Outbox
from zerog_client.tx.outbox_rules import IntentNotFound, InvalidTransition
from zerog_client.tx.records import NewTx, TxAttempt, TxRecord, TxStatus

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN = 16601
UINT256_MAX = 2**256 - 1
# Mixed case on purpose: "0xB..." sorts before "0xa..." in byte order, which both adapters must use.
ALICE = "0xB0b0000000000000000000000000000000000001"
BOB = "0xa11CE00000000000000000000000000000000002"
TO = "0x000000000000000000000000000000000000dEaD"

_serial = itertools.count(1)


def tx_hash(n: int | None = None) -> str:
    """A well-formed, unique (per test process) 32-byte hash."""
    return f"0x{next(_serial) if n is None else n:064x}"


def attempt(
    *,
    fee: int | None = 10**9,
    tip: int | None = 10**8,
    gas_price: int | None = None,
    hash_: str | None = None,
) -> TxAttempt:
    return TxAttempt(
        tx_hash=hash_ or tx_hash(),
        raw=b"\x02\xf8" + next(_serial).to_bytes(8, "big"),
        gas_price=gas_price,
        max_fee_per_gas=fee,
        max_priority_fee_per_gas=tip,
        created_at=time.time(),
    )


def new_tx(
    key: str,
    nonce: int,
    *,
    sender: str = ALICE,
    chain_id: int = CHAIN,
    to: str | None = TO,
    value: int = 10**18,
    data: bytes = b"",
    gas_limit: int = 21_000,
    first: TxAttempt | None = None,
) -> NewTx:
    return NewTx(
        idempotency_key=key,
        chain_id=chain_id,
        sender=sender,
        nonce=nonce,
        to=to,
        value=value,
        data=data,
        gas_limit=gas_limit,
        first_attempt=first or attempt(),
    )


async def insert(outbox: Outbox, *items: NewTx) -> list[TxRecord]:
    """Insert expecting every item to be new; returns the records."""
    results = await outbox.insert_many(list(items))
    assert [created for _, created in results] == [True] * len(items)
    return [record for record, _ in results]


async def mine(
    outbox: Outbox, record: TxRecord, status: TxStatus = TxStatus.MINED, block: int = 7
) -> TxRecord:
    return await outbox.set_status(
        record.id,
        status,
        mined_tx_hash=record.latest.tx_hash,
        mined_block_number=block,
        mined_block_hash=tx_hash(),
    )


# --- insert and read back -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"value": UINT256_MAX, "gas_limit": 2**63 - 1, "nonce": 2**63 - 1, "chain_id": 2**63 - 1},
        {"value": 0, "data": b""},
        {"data": bytes(range(256)) * 1024, "to": None},  # 256 KiB contract creation
        {"first": attempt(fee=UINT256_MAX, tip=UINT256_MAX)},
        {"first": attempt(fee=None, tip=None, gas_price=UINT256_MAX)},
        {"first": attempt(fee=0, tip=0, gas_price=0)},
    ],
    ids=["plain", "max-integers", "zero-empty", "large-create", "max-fees", "legacy", "zero-fees"],
)
async def test_every_field_round_trips(outbox: Outbox, variant: dict[str, object]) -> None:
    item = new_tx("k-round-trip", **({"nonce": 0} | variant))  # type: ignore[arg-type]
    before = time.time()
    [stored] = await insert(outbox, item)

    assert stored.id > 0
    assert stored.status is TxStatus.SIGNED
    assert stored.attempts == (item.first_attempt,)
    assert before <= stored.created_at == stored.updated_at <= time.time()
    for name in ("idempotency_key", "chain_id", "sender", "nonce", "to", "value", "data", "gas_limit"):
        assert getattr(stored, name) == getattr(item, name), name
    assert (stored.mined_tx_hash, stored.mined_block_number, stored.mined_block_hash, stored.error) == (
        None,
        None,
        None,
        None,
    )
    assert await outbox.get(item.idempotency_key) == stored
    assert await outbox.get_by_id(stored.id) == stored


async def test_unknown_key_and_id_read_as_none(outbox: Outbox) -> None:
    assert await outbox.get("nope") is None
    assert await outbox.get_by_id(123_456) is None
    assert await outbox.insert_many([]) == []


async def test_same_key_returns_the_original_and_stores_nothing_new(outbox: Outbox) -> None:
    [original] = await insert(outbox, new_tx("k", 0))
    retry = new_tx("k", 5, value=1, first=attempt())  # same key, other parameters: the stored one wins

    [(record, created)] = await outbox.insert_many([retry])

    assert created is False
    assert record == original
    assert await outbox.highest_nonce(CHAIN, ALICE) == 0
    # The retry's attempt was not stored, so its hash is free for whoever really owns it.
    [other] = await insert(outbox, new_tx("k2", 5, first=retry.first_attempt))
    assert other.hashes == (retry.first_attempt.tx_hash,)


async def test_same_key_twice_in_one_batch_is_created_once(outbox: Outbox) -> None:
    first, again, other = new_tx("a", 0), new_tx("a", 1), new_tx("b", 2)

    results = await outbox.insert_many([first, again, other])

    assert [created for _, created in results] == [True, False, True]
    assert results[0][0] == results[1][0]
    assert results[0][0].nonce == 0
    assert await outbox.highest_nonce(CHAIN, ALICE) == 2


async def test_existing_and_new_keys_mix_in_one_batch(outbox: Outbox) -> None:
    [old] = await insert(outbox, new_tx("old", 0))

    results = await outbox.insert_many([new_tx("new", 1), new_tx("old", 0)])

    assert [(r.idempotency_key, created) for r, created in results] == [("new", True), ("old", False)]
    assert results[1][0] == old


async def test_nonce_conflict_writes_nothing_of_the_batch(outbox: Outbox) -> None:
    [held] = await insert(outbox, new_tx("held", 3))
    batch = [new_tx("x1", 4), new_tx("x2", 3), new_tx("x3", 5)]

    with pytest.raises(NonceConflict) as err:
        await outbox.insert_many(batch)

    assert err.value.code == "nonce_conflict"
    for item in batch:
        assert await outbox.get(item.idempotency_key) is None
    assert await outbox.highest_nonce(CHAIN, ALICE) == 3
    assert await outbox.open_intents(CHAIN) == [held]
    # The batch's hashes were rolled back with it: they can be used again.
    await insert(outbox, new_tx("x1", 4, first=batch[0].first_attempt))


async def test_nonce_conflict_inside_one_batch(outbox: Outbox) -> None:
    with pytest.raises(NonceConflict):
        await outbox.insert_many([new_tx("p", 9), new_tx("q", 9)])
    assert await outbox.get("p") is None
    assert await outbox.highest_nonce(CHAIN, ALICE) is None


async def test_a_hash_already_stored_is_a_conflict(outbox: Outbox) -> None:
    [held] = await insert(outbox, new_tx("held", 0))

    with pytest.raises(NonceConflict):
        await outbox.insert_many([new_tx("ok", 1), new_tx("copy", 2, first=held.latest)])

    assert await outbox.get("ok") is None


async def test_same_nonce_on_another_chain_or_sender_is_independent(outbox: Outbox) -> None:
    await insert(
        outbox,
        new_tx("a", 0),
        new_tx("b", 0, sender=BOB),
        new_tx("c", 0, chain_id=CHAIN + 1),
    )
    assert await outbox.highest_nonce(CHAIN, ALICE) == 0
    assert await outbox.highest_nonce(CHAIN, BOB) == 0
    assert await outbox.highest_nonce(CHAIN + 1, ALICE) == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"value": UINT256_MAX + 1},
        {"value": -1},
        {"nonce": -1},
        {"nonce": 2**63},
        {"first": attempt(hash_="0xABC")},
        {"first": attempt(fee=UINT256_MAX + 1)},
    ],
    ids=["value-overflow", "value-negative", "nonce-negative", "nonce-overflow", "bad-hash", "fee-overflow"],
)
async def test_out_of_range_input_is_refused_before_writing(outbox: Outbox, bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"nonce": 1} | bad
    with pytest.raises(ValueError, match="must"):
        await outbox.insert_many([new_tx("good", 0), new_tx("bad", **fields)])  # type: ignore[arg-type]
    assert await outbox.get("good") is None


# --- attempts ----------------------------------------------------------------------------------------------


async def test_attempts_keep_their_order(outbox: Outbox) -> None:
    [record] = await insert(outbox, new_tx("k", 0))
    bumps = [attempt(fee=2 * 10**9), attempt(fee=3 * 10**9, tip=None), attempt(fee=UINT256_MAX)]

    for bump in bumps:
        record = await outbox.add_attempt(record.id, bump)

    assert record.attempts[1:] == tuple(bumps)
    assert record.latest == bumps[-1]
    assert record.updated_at >= record.created_at
    stored = await outbox.get("k")
    assert stored == record
    assert stored.hashes == tuple(a.tx_hash for a in (record.attempts[0], *bumps))


async def test_adding_an_attempt_twice_changes_nothing(outbox: Outbox) -> None:
    [record] = await insert(outbox, new_tx("k", 0))
    bump = attempt()
    once = await outbox.add_attempt(record.id, bump)

    twice = await outbox.add_attempt(record.id, bump)

    assert twice == once
    assert len(twice.attempts) == 2


async def test_an_attempt_hash_of_another_intent_is_a_conflict(outbox: Outbox) -> None:
    a, b = await insert(outbox, new_tx("a", 0), new_tx("b", 1))

    with pytest.raises(NonceConflict):
        await outbox.add_attempt(b.id, a.latest)

    assert (await outbox.get("b")) == b


async def test_attempts_on_a_missing_or_terminal_intent_are_refused(outbox: Outbox) -> None:
    [record] = await insert(outbox, new_tx("k", 0))
    with pytest.raises(IntentNotFound):
        await outbox.add_attempt(record.id + 1000, attempt())
    done = await mine(outbox, record, TxStatus.CONFIRMED)

    with pytest.raises(InvalidTransition):
        await outbox.add_attempt(record.id, attempt())

    assert await outbox.get("k") == done


# --- status ------------------------------------------------------------------------------------------------


async def test_life_cycle_with_a_reorg(outbox: Outbox) -> None:
    [record] = await insert(outbox, new_tx("k", 0))
    bump = attempt(fee=2 * 10**9)
    record = await outbox.add_attempt(record.id, bump)

    submitted = await outbox.set_status(record.id, TxStatus.SUBMITTED)
    assert submitted.status is TxStatus.SUBMITTED

    # The first attempt mines even though a replacement was sent: the outcome follows the receipt.
    block_a = tx_hash()
    mined = await outbox.set_status(
        record.id,
        TxStatus.MINED,
        mined_tx_hash=record.attempts[0].tx_hash,
        mined_block_number=10,
        mined_block_hash=block_a,
    )
    assert (mined.status, mined.mined_tx_hash, mined.mined_block_number, mined.mined_block_hash) == (
        TxStatus.MINED,
        record.attempts[0].tx_hash,
        10,
        block_a,
    )

    # Reorg: the block is gone, so are the mined fields.
    reorged = await outbox.set_status(record.id, TxStatus.SUBMITTED, error="receipt vanished")
    assert reorged.status is TxStatus.SUBMITTED
    assert (reorged.mined_tx_hash, reorged.mined_block_number, reorged.mined_block_hash) == (None, None, None)
    assert reorged.error == "receipt vanished"

    block_b = tx_hash()
    remined = await outbox.set_status(
        record.id, TxStatus.MINED, mined_tx_hash=bump.tx_hash, mined_block_number=11, mined_block_hash=block_b
    )
    # Confirming keeps the stored receipt fields when none are given.
    confirmed = await outbox.set_status(record.id, TxStatus.CONFIRMED)
    assert (confirmed.mined_tx_hash, confirmed.mined_block_number, confirmed.mined_block_hash) == (
        bump.tx_hash,
        11,
        block_b,
    )
    assert confirmed.error == "receipt vanished"
    assert confirmed.updated_at >= remined.updated_at
    assert await outbox.get("k") == confirmed


async def test_terminal_states_never_change(outbox: Outbox) -> None:
    records = await insert(outbox, *(new_tx(f"k{n}", n) for n in range(4)))
    finals = [
        await mine(outbox, records[0], TxStatus.CONFIRMED),
        await outbox.set_status(records[1].id, TxStatus.FAILED, error="reverted"),
        await outbox.set_status(records[2].id, TxStatus.EXPIRED),
        await outbox.set_status(records[3].id, TxStatus.CANCELED),
    ]

    for final in finals:
        for target in TxStatus:
            if target is final.status:
                continue
            with pytest.raises(InvalidTransition, match="terminal"):
                await outbox.set_status(final.id, target)
        with pytest.raises(InvalidTransition):
            await outbox.set_status(final.id, final.status, error="something else")
        # The same terminal status again with nothing new is a harmless no-op (a replayed update).
        assert await outbox.set_status(final.id, final.status) == final
        assert await outbox.get_by_id(final.id) == final
    # Bulk updates skip terminal intents rather than fail the batch (see the next tests).
    await outbox.set_status_many(
        [(f.id, TxStatus.SUBMITTED) for f in finals] + [(finals[1].id, TxStatus.CONFIRMED)]
    )
    assert [await outbox.get_by_id(f.id) for f in finals] == finals


async def test_inconsistent_status_changes_are_refused(outbox: Outbox) -> None:
    [record] = await insert(outbox, new_tx("k", 0))
    submitted = await outbox.set_status(record.id, TxStatus.SUBMITTED)

    with pytest.raises(InvalidTransition, match="back"):
        await outbox.set_status(record.id, TxStatus.SIGNED)
    with pytest.raises(InvalidTransition, match="needs"):
        await outbox.set_status(record.id, TxStatus.MINED)
    with pytest.raises(InvalidTransition, match="not an attempt"):
        await outbox.set_status(
            record.id,
            TxStatus.MINED,
            mined_tx_hash=tx_hash(),
            mined_block_number=1,
            mined_block_hash=tx_hash(),
        )
    with pytest.raises(InvalidTransition, match="make no sense"):
        await outbox.set_status(record.id, TxStatus.SUBMITTED, mined_tx_hash=record.latest.tx_hash)
    with pytest.raises(IntentNotFound):
        await outbox.set_status(record.id + 1000, TxStatus.SUBMITTED)
    assert await outbox.get("k") == submitted


async def test_set_status_many_moves_a_burst(outbox: Outbox) -> None:
    records = await insert(outbox, *(new_tx(f"k{n}", n) for n in range(50)))

    await outbox.set_status_many([(r.id, TxStatus.SUBMITTED) for r in records])

    after = await outbox.open_intents(CHAIN)
    assert [r.status for r in after] == [TxStatus.SUBMITTED] * 50
    assert [dataclasses.replace(r, status=TxStatus.SIGNED, updated_at=0.0) for r in after] == [
        dataclasses.replace(r, updated_at=0.0) for r in records
    ]


async def test_set_status_many_never_undoes_progress(outbox: Outbox) -> None:
    # The race it exists for: a burst is broadcast, a receipt arrives for part of it, then the whole
    # burst is marked SUBMITTED. The receipts must survive, and the batch must not fail.
    records = await insert(outbox, *(new_tx(f"k{n}", n) for n in range(4)))
    mined = await mine(outbox, records[1])
    confirmed = await mine(outbox, records[2], TxStatus.CONFIRMED)

    await outbox.set_status_many([(r.id, TxStatus.SUBMITTED) for r in records])

    after = [await outbox.get_by_id(r.id) for r in records]
    assert after[1] == mined
    assert after[2] == confirmed
    assert [r.status for r in after if r is not None] == [
        TxStatus.SUBMITTED,
        TxStatus.MINED,
        TxStatus.CONFIRMED,
        TxStatus.SUBMITTED,
    ]


async def test_set_status_many_applies_repeated_ids_in_order(outbox: Outbox) -> None:
    a, b = await insert(outbox, new_tx("a", 0), new_tx("b", 1))
    mined = await mine(outbox, b)

    # SUBMITTED, then EXPIRED; the final SUBMITTED would leave a terminal status, so it is skipped.
    await outbox.set_status_many(
        [(a.id, TxStatus.SUBMITTED), (a.id, TxStatus.EXPIRED), (a.id, TxStatus.SUBMITTED)]
    )
    # MINED -> CONFIRMED keeps the stored receipt.
    await outbox.set_status_many([(mined.id, TxStatus.SUBMITTED), (mined.id, TxStatus.CONFIRMED)])

    expired, done = await outbox.get("a"), await outbox.get("b")
    assert expired is not None
    assert done is not None
    assert expired.status is TxStatus.EXPIRED
    assert (done.status, done.mined_tx_hash, done.mined_block_hash) == (
        TxStatus.CONFIRMED,
        mined.mined_tx_hash,
        mined.mined_block_hash,
    )


async def test_set_status_many_is_all_or_nothing(outbox: Outbox) -> None:
    a, b = await insert(outbox, new_tx("a", 0), new_tx("b", 1))

    # MINED needs a receipt, and a bulk update carries none: refused, and `a` is not moved either.
    with pytest.raises(InvalidTransition, match=f"intent {b.id}"):
        await outbox.set_status_many([(a.id, TxStatus.SUBMITTED), (b.id, TxStatus.MINED)])
    with pytest.raises(IntentNotFound):
        await outbox.set_status_many([(a.id, TxStatus.SUBMITTED), (b.id + 1000, TxStatus.SUBMITTED)])

    assert [await outbox.get(k) for k in "ab"] == [a, b]
    await outbox.set_status_many([])


# --- queries -----------------------------------------------------------------------------------------------


async def test_open_intents_excludes_terminal_ones_and_orders_by_sender_then_nonce(outbox: Outbox) -> None:
    records = await insert(
        outbox,
        new_tx("a3", 3),
        new_tx("b1", 1, sender=BOB),
        new_tx("a1", 1),
        new_tx("a2", 2),
        new_tx("b0", 0, sender=BOB),
        new_tx("a0", 0),
        new_tx("other-chain", 0, chain_id=CHAIN + 1),
    )
    by_key = {r.idempotency_key: r for r in records}
    await outbox.set_status(by_key["a2"].id, TxStatus.SUBMITTED)
    await mine(outbox, by_key["a1"])
    await mine(outbox, by_key["a0"], TxStatus.CONFIRMED)
    await outbox.set_status(by_key["b0"].id, TxStatus.FAILED)

    open_all = await outbox.open_intents(CHAIN)
    open_alice = await outbox.open_intents(CHAIN, ALICE)

    # ALICE ("0xB0b...") before BOB ("0xa11...") in byte order.
    assert [r.idempotency_key for r in open_all] == ["a1", "a2", "a3", "b1"]
    assert [r.status for r in open_all] == [
        TxStatus.MINED,
        TxStatus.SUBMITTED,
        TxStatus.SIGNED,
        TxStatus.SIGNED,
    ]
    assert open_alice == open_all[:3]
    assert open_all[0] == await outbox.get("a1")
    assert await outbox.open_intents(CHAIN, "0x0000000000000000000000000000000000000000") == []
    assert [r.idempotency_key for r in await outbox.open_intents(CHAIN + 1)] == ["other-chain"]


async def test_highest_nonce_counts_every_status(outbox: Outbox) -> None:
    assert await outbox.highest_nonce(CHAIN, ALICE) is None
    _, high = await insert(outbox, new_tx("low", 4), new_tx("high", 9))
    await outbox.set_status(high.id, TxStatus.EXPIRED)

    assert await outbox.highest_nonce(CHAIN, ALICE) == 9
    assert await outbox.highest_nonce(CHAIN, BOB) is None
    assert await outbox.highest_nonce(CHAIN + 1, ALICE) is None


# --- durability and concurrency ----------------------------------------------------------------------------


async def test_everything_survives_close_and_reopen(outbox: Outbox, outbox_backend: OutboxBackend) -> None:
    records = await insert(outbox, *(new_tx(f"k{n}", n, data=bytes([n]) * n) for n in range(5)))
    await outbox.add_attempt(records[0].id, attempt(fee=5 * 10**9))
    await mine(outbox, records[1])
    await outbox.set_status(records[2].id, TxStatus.FAILED, error="out of gas")
    await outbox.set_status_many([(records[3].id, TxStatus.SUBMITTED)])
    before = [await outbox.get(f"k{n}") for n in range(5)]
    open_before = await outbox.open_intents(CHAIN)
    await outbox.close()

    reopened = outbox_backend.make()
    await reopened.open()

    assert [await reopened.get(f"k{n}") for n in range(5)] == before
    assert await reopened.open_intents(CHAIN) == open_before
    assert await reopened.highest_nonce(CHAIN, ALICE) == 4
    [(again, created)] = await reopened.insert_many([new_tx("k0", 0)])
    assert (again, created) == (before[0], False)


async def test_two_adapters_opening_fresh_storage_at_once(outbox_backend: OutboxBackend) -> None:
    location = outbox_backend.fresh_location()
    first, second = outbox_backend.make(location), outbox_backend.make(location)

    # Both run the migrations concurrently; the lock makes one wait and then find nothing to do.
    async with anyio.create_task_group() as tg:
        tg.start_soon(first.open)
        tg.start_soon(second.open)

    [record] = await insert(first, new_tx("k", 0))
    assert await second.get("k") == record
    for adapter in (first, second):
        await adapter.close()


async def test_concurrent_inserts_of_one_key_create_one_record(
    outbox: Outbox, outbox_backend: OutboxBackend
) -> None:
    other = outbox_backend.make()
    await other.open()
    results: dict[tuple[int, str], tuple[TxRecord, bool]] = {}

    async def put(index: int, adapter: Outbox, key: str, nonce: int) -> None:
        [results[index, key]] = await adapter.insert_many([new_tx(key, nonce)])

    keys = [f"race-{n}" for n in range(20)]
    async with anyio.create_task_group() as tg:
        for nonce, key in enumerate(keys):
            for index, adapter in enumerate((outbox, other, outbox, other)):
                tg.start_soon(put, index, adapter, key, nonce)

    for key in keys:
        outcomes = [results[index, key] for index in range(4)]
        assert sum(created for _, created in outcomes) == 1, key
        assert len({record.id for record, _ in outcomes}) == 1, key
        stored = await other.get(key)
        assert stored is not None
        assert len(stored.attempts) == 1
    assert len(await outbox.open_intents(CHAIN)) == len(keys)


async def test_concurrent_inserts_of_one_nonce_under_two_keys(
    outbox: Outbox, outbox_backend: OutboxBackend
) -> None:
    other = outbox_backend.make()
    await other.open()
    outcomes: list[str] = []

    async def put(adapter: Outbox, key: str) -> None:
        try:
            await adapter.insert_many([new_tx(key, 0)])
            outcomes.append("created")
        except NonceConflict:
            outcomes.append("conflict")

    async with anyio.create_task_group() as tg:
        tg.start_soon(put, outbox, "first")
        tg.start_soon(put, other, "second")

    assert sorted(outcomes) == ["conflict", "created"]
    assert len(await outbox.open_intents(CHAIN)) == 1


# A writer that inserts batches of 10 intents forever, printing each batch number once acknowledged.
_WRITER = """
import sys, time, anyio
from zerog_client.tx.records import NewTx, TxAttempt

kind, location, dsn = sys.argv[1:4]

async def main():
    if kind == "sqlite":
        from zerog_client.tx.sqlite_outbox import SqliteOutbox
        outbox = SqliteOutbox(location)
    else:
        from zerog_client.tx.postgres_outbox import PostgresOutbox
        outbox = PostgresOutbox(dsn, schema=location)
    await outbox.open()
    batch = 0
    while True:
        items = []
        for i in range(10):
            nonce = batch * 10 + i
            first = TxAttempt(f"0x{nonce + 1:064x}", b"\\x02", None, 1, 1, time.time())
            items.append(NewTx(f"b{batch}-{i}", 16601, "0xB0b0000000000000000000000000000000000001",
                               nonce, None, 1, b"", 21000, first))
        await outbox.insert_many(items)
        print(batch, flush=True)
        batch += 1

anyio.run(main)
"""


async def test_a_killed_writer_loses_nothing_it_acknowledged(outbox_backend: OutboxBackend) -> None:
    location = outbox_backend.fresh_location()
    acked = -1
    argv = [sys.executable, "-c", _WRITER, *outbox_backend.child_argv(location)]
    async with await anyio.open_process(argv) as writer:
        assert writer.stdout is not None
        output = b""
        with anyio.fail_after(60):
            async for chunk in writer.stdout:
                output += chunk
                done = output.split(b"\n")[:-1]
                acked = int(done[-1]) if done else -1
                if acked >= 30:
                    break
        # SIGKILL while it is most likely inside its next transaction: no clean shutdown, no flush.
        writer.kill()
        await writer.wait()
    assert acked >= 30, f"the writer stopped early: {output!r}"

    reopened = outbox_backend.make(location)
    await reopened.open()
    for batch in range(acked + 3):
        present = [await reopened.get(f"b{batch}-{i}") is not None for i in range(10)]
        if batch <= acked:
            assert all(present), batch  # acknowledged: must have survived
        else:
            assert len(set(present)) == 1, batch  # in flight: all or nothing
    assert await reopened.get(f"b{acked + 2}-0") is None
    await reopened.close()


async def test_a_closed_adapter_says_so(outbox_backend: OutboxBackend) -> None:
    from zerog_client.tx.outbox import OutboxError

    adapter = outbox_backend.make()
    with pytest.raises(OutboxError, match="not open"):
        await adapter.get("k")


# --- state machine -----------------------------------------------------------------------------------------

_KEYS = st.sampled_from([f"key-{n}" for n in range(6)])
_SENDERS = st.sampled_from([ALICE, BOB])
_NONCES = st.integers(min_value=0, max_value=4)


async def test_invariants_hold_under_random_operations(outbox_backend: OutboxBackend) -> None:
    """Random sequences of every operation, including reopening the storage, keep the invariants:
    one record per key, one key per (sender, nonce), attempts only grow, terminal records never
    change, and the queries agree with what was written."""
    machine = _outbox_machine(outbox_backend)
    # Hypothesis drives the machine synchronously from a worker thread; each call hops back into
    # this test's event loop, where the adapters live.
    await anyio.to_thread.run_sync(
        lambda: run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=25,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    )


def _outbox_machine(backend: OutboxBackend) -> type[RuleBasedStateMachine]:
    call = anyio.from_thread.run

    class OutboxMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.location = backend.fresh_location()
            self.outbox = backend.make(self.location)
            call(self.outbox.open)
            # What the test has seen stored: key -> record (the model).
            self.seen: dict[str, TxRecord] = {}

        def teardown(self) -> None:
            call(self.outbox.close)

        def _refresh(self, record: TxRecord) -> None:
            """Record what the adapter returned, checking it against what was seen before."""
            before = self.seen.get(record.idempotency_key)
            if before is not None:
                # One record per key with a fixed identity; attempts only grow; terminal never changes.
                assert (record.id, record.sender, record.nonce) == (before.id, before.sender, before.nonce)
                assert record.attempts[: len(before.attempts)] == before.attempts
                if before.status.terminal:
                    assert record == before
            self.seen[record.idempotency_key] = record

        @rule(items=st.lists(st.tuples(_KEYS, _SENDERS, _NONCES), min_size=1, max_size=4))
        def insert_batch(self, items: list[tuple[str, str, int]]) -> None:
            batch = [new_tx(key, nonce, sender=sender) for key, sender, nonce in items]
            held = {(r.sender, r.nonce) for r in self.seen.values()}
            new_keys: dict[str, tuple[str, int]] = {}
            conflict = False
            for key, sender, nonce in items:
                if key in self.seen or key in new_keys:
                    continue
                if (sender, nonce) in held or (sender, nonce) in new_keys.values():
                    conflict = True
                new_keys[key] = (sender, nonce)
            if conflict:
                try:
                    call(self.outbox.insert_many, batch)
                except NonceConflict:
                    return
                raise AssertionError("a reused nonce was accepted")
            results = call(self.outbox.insert_many, batch)
            created_keys = {r.idempotency_key for r, created in results if created}
            assert created_keys == set(new_keys)
            for record, created in results:
                if not created:
                    assert (
                        record == self.seen.get(record.idempotency_key) or record.idempotency_key in new_keys
                    )
                self._refresh(record)

        @precondition(lambda self: bool(self.seen))
        @rule(data=st.data())
        def add_attempt(self, data: st.DataObject) -> None:
            record = self.seen[data.draw(st.sampled_from(sorted(self.seen)))]
            reuse = data.draw(st.booleans())
            bump = record.latest if reuse else attempt()
            if record.status.terminal and not reuse:
                try:
                    call(self.outbox.add_attempt, record.id, bump)
                except InvalidTransition:
                    return
                raise AssertionError("a terminal intent took a new attempt")
            after = call(self.outbox.add_attempt, record.id, bump)
            assert after.attempts == record.attempts + (() if reuse else (bump,))
            if reuse:
                assert after == record
            self._refresh(after)

        @precondition(lambda self: bool(self.seen))
        @rule(data=st.data(), status=st.sampled_from(list(TxStatus)), with_receipt=st.booleans())
        def set_status(self, data: st.DataObject, status: TxStatus, with_receipt: bool) -> None:
            record = self.seen[data.draw(st.sampled_from(sorted(self.seen)))]
            receipt: tuple[str, int, str] | None = None
            if with_receipt and status not in (TxStatus.SIGNED, TxStatus.SUBMITTED):
                receipt = (
                    data.draw(st.sampled_from(record.hashes)),
                    data.draw(st.integers(0, 1000)),
                    tx_hash(),
                )

            async def move() -> TxRecord:
                if receipt is None:
                    return await self.outbox.set_status(record.id, status)
                tx, number, block = receipt
                return await self.outbox.set_status(
                    record.id, status, mined_tx_hash=tx, mined_block_number=number, mined_block_hash=block
                )

            try:
                after = call(move)
            except InvalidTransition:
                assert (
                    record.status.terminal
                    or (status is TxStatus.SIGNED and record.status is not TxStatus.SIGNED)
                    or (
                        status in (TxStatus.MINED, TxStatus.CONFIRMED)
                        and receipt is None
                        and not record.mined_tx_hash
                    )
                ), (record.status, status, receipt)
                return
            assert after.status is status
            if status in (TxStatus.SIGNED, TxStatus.SUBMITTED):
                assert (after.mined_tx_hash, after.mined_block_number, after.mined_block_hash) == (
                    None,
                    None,
                    None,
                )
            self._refresh(after)

        @precondition(lambda self: bool(self.seen))
        @rule(data=st.data())
        def set_status_many(self, data: st.DataObject) -> None:
            keys = data.draw(st.lists(st.sampled_from(sorted(self.seen)), min_size=1, max_size=3))
            statuses = data.draw(
                st.lists(
                    st.sampled_from([TxStatus.SUBMITTED, TxStatus.MINED, TxStatus.EXPIRED]),
                    min_size=len(keys),
                    max_size=len(keys),
                )
            )
            updates = list(zip(keys, statuses, strict=True))
            # The oracle, applied in order: forward moves only (terminal and lower ranks are skipped);
            # MINED needs a stored receipt, which going back to SUBMITTED would have cleared.
            state = {k: (self.seen[k].status, self.seen[k].mined_tx_hash is not None) for k in keys}
            refused = False
            for key, status in updates:
                current, has_receipt = state[key]
                if current.terminal or status.rank < current.rank:
                    continue
                refused = refused or (status is TxStatus.MINED and not has_receipt)
                state[key] = (status, has_receipt and status.rank >= TxStatus.MINED.rank)
            try:
                call(self.outbox.set_status_many, [(self.seen[k].id, s) for k, s in updates])
            except InvalidTransition:
                assert refused
                return
            assert not refused
            for key in set(keys):
                after = call(self.outbox.get, key)
                assert after is not None
                assert after.status is state[key][0]
                self._refresh(after)

        @rule()
        def reopen(self) -> None:
            call(self.outbox.close)
            self.outbox = backend.make(self.location)
            call(self.outbox.open)

        @invariant()
        def stored_matches_what_was_seen(self) -> None:
            nonces: set[tuple[str, int]] = set()
            ids: set[int] = set()
            for key, seen in self.seen.items():
                stored = call(self.outbox.get, key)
                # Every change went through a call the model saw, so storage holds exactly that.
                assert stored == seen, key
                assert call(self.outbox.get_by_id, seen.id) == seen
                nonces.add((stored.sender, stored.nonce))
                ids.add(stored.id)
            # One key per (sender, nonce) and per id.
            assert len(nonces) == len(ids) == len(self.seen)

        @invariant()
        def queries_agree(self) -> None:
            expected = sorted(
                (r for r in self.seen.values() if not r.status.terminal), key=lambda r: (r.sender, r.nonce)
            )
            assert call(self.outbox.open_intents, CHAIN) == expected
            for sender in (ALICE, BOB):
                nonces = [r.nonce for r in self.seen.values() if r.sender == sender]
                assert call(self.outbox.highest_nonce, CHAIN, sender) == (max(nonces) if nonces else None)

    return OutboxMachine
