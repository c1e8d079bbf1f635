"""The transaction manager against a real anvil: bursts, idempotency, refusals that send nothing,
fee bumps of stuck transactions, and reorgs."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account

from tests.support.processes import poll_until
from zerog_client import ChainReader, InvalidAddressError
from zerog_client.chain.reader import encode_call
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import deploy_devnet_contracts
from zerog_client.tx import (
    FeeCapExceededError,
    IdempotencyConflictError,
    InsufficientFundsError,
    InvalidRequestError,
    LocalSigner,
    ManagerConfig,
    SimulationError,
    TransactionManager,
    TxRequest,
    TxStatus,
)
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN_ID = 1_660_999
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil dev account 0
SENDER = Account.from_key(KEY).address


def recipient(i: int) -> str:
    return str(Account.from_key((i + 7).to_bytes(32, "big")).address)


def manager(reader: ChainReader, outbox: SqliteOutbox, **config: object) -> TransactionManager:
    cfg = dataclasses.replace(ManagerConfig(), **config)  # type: ignore[arg-type]
    return TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox, cfg)


async def test_a_burst_is_confirmed_once_each_with_contiguous_nonces(
    reader: ChainReader, outbox: SqliteOutbox
) -> None:
    requests = [TxRequest(f"burst-{i}", recipient(i), 10**15 + i) for i in range(60)]
    async with manager(reader, outbox) as txm:
        records = await txm.submit_many(requests)
        done = await txm.wait([r.idempotency_key for r in records], timeout_s=60)
    assert all(r.status is TxStatus.CONFIRMED for r in done)
    assert sorted(r.nonce for r in done) == list(range(60))
    assert await reader.balances([recipient(i) for i in range(60)]) == [10**15 + i for i in range(60)]
    assert await reader.transaction_count(SENDER, "latest") == 60
    stored = [await outbox.get(r.idempotency_key) for r in requests]
    assert all(s is not None and s.status is TxStatus.CONFIRMED and s.mined_block_hash for s in stored)


async def test_replaying_keys_sends_nothing_new(reader: ChainReader, outbox: SqliteOutbox) -> None:
    requests = [TxRequest(f"again-{i}", recipient(i), 10**15) for i in range(5)]
    async with manager(reader, outbox) as txm:
        first = await txm.submit_many(requests)
        await txm.wait([r.idempotency_key for r in first])
        second = await txm.submit_many(requests)
        assert [r.id for r in second] == [r.id for r in first]
        with pytest.raises(IdempotencyConflictError):
            await txm.submit(TxRequest("again-0", recipient(0), 2 * 10**15))
        with pytest.raises(IdempotencyConflictError):
            await txm.submit_many([TxRequest("dup", recipient(1), 1), TxRequest("dup", recipient(1), 1)])
    assert await reader.transaction_count(SENDER, "pending") == 5
    assert await reader.balance(recipient(0)) == 10**15


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (TxRequest("bad-1", "0x1234", 1), InvalidAddressError),
        (
            TxRequest("bad-2", recipient(1).replace(recipient(1)[2:6], recipient(1)[2:6].swapcase()), 1),
            InvalidAddressError,
        ),
        (TxRequest("bad-3", recipient(1), -1), InvalidRequestError),
        (TxRequest("", recipient(1), 1), InvalidRequestError),
        (TxRequest("bad-5", recipient(1), 10**30), InsufficientFundsError),
    ],
)
async def test_bad_requests_send_nothing(
    reader: ChainReader, outbox: SqliteOutbox, request_: TxRequest, error: type[Exception]
) -> None:
    async with manager(reader, outbox) as txm:
        with pytest.raises(error):
            await txm.submit(request_)
    assert await reader.transaction_count(SENDER, "pending") == 0
    assert await outbox.open_intents(CHAIN_ID) == []


async def test_a_reverting_call_is_refused_in_simulation(
    node: AnvilNode, reader: ChainReader, outbox: SqliteOutbox
) -> None:
    accounts = await reader.node_accounts()
    contracts = await deploy_devnet_contracts(node.rpc_url, accounts[-1])
    # Account 0 holds none of the token: transferring any reverts.
    transfer = bytes.fromhex(
        encode_call("transfer(address,uint256)", ["address", "uint256"], [recipient(1), 5])[2:]
    )
    async with manager(reader, outbox) as txm:
        with pytest.raises(SimulationError, match="would fail"):
            await txm.submit(TxRequest("revert-1", contracts.test_token, 0, transfer))
    assert await reader.transaction_count(SENDER, "pending") == 0


async def test_fees_above_the_cap_are_refused(reader: ChainReader, outbox: SqliteOutbox) -> None:
    async with manager(reader, outbox, max_fee_per_gas=1) as txm:
        with pytest.raises(FeeCapExceededError):
            await txm.submit(TxRequest("cap-1", recipient(1), 1))
    assert await reader.transaction_count(SENDER, "pending") == 0


@pytest.mark.parametrize("mode", ["legacy", "eip1559"])
async def test_a_stuck_transaction_is_replaced_by_a_fee_bump(
    reader: ChainReader, outbox: SqliteOutbox, mode: str
) -> None:
    await reader.pool.call("evm_setAutomine", [False])  # mining paused: nothing gets in
    async with manager(reader, outbox, bump_after_s=0.3, fee_mode=mode) as txm:
        record = await txm.submit(TxRequest("stuck-1", recipient(3), 10**15))

        async def bumped() -> bool:
            stored = await outbox.get("stuck-1")
            return stored is not None and len(stored.attempts) >= 2

        await poll_until(bumped, 20, "a fee bump")
        await reader.pool.call("evm_mine")
        (done,) = await txm.wait([record.idempotency_key], timeout_s=30)
    assert done.status is TxStatus.CONFIRMED
    assert done.mined_tx_hash in done.hashes
    first, second = done.attempts[0], done.attempts[1]
    fields = ["gas_price"] if mode == "legacy" else ["max_fee_per_gas", "max_priority_fee_per_gas"]
    for name in fields:
        before, after = getattr(first, name), getattr(second, name)
        assert before is not None
        assert after is not None
        assert after * 8 >= before * 9, name  # at least 12.5% more in every fee field
    assert await reader.balance(recipient(3)) == 10**15  # exactly once
    assert await reader.transaction_count(SENDER, "latest") == 1


async def test_a_reorg_that_drops_a_mined_transaction_is_noticed_and_healed(
    reader: ChainReader, outbox: SqliteOutbox
) -> None:
    snapshot = await reader.pool.call("evm_snapshot")
    async with manager(reader, outbox, confirmations=3) as txm:
        record = await txm.submit(TxRequest("reorg-1", recipient(4), 10**15))
        await txm.wait([record.idempotency_key], TxStatus.MINED, timeout_s=30)
        mined = await outbox.get("reorg-1")
        assert mined is not None
        assert mined.status is TxStatus.MINED
        assert await reader.pool.call("evm_revert", [snapshot]) is True  # the block is gone
        assert await reader.balance(recipient(4)) == 0

        async def back_on_chain() -> bool:
            return await reader.balance(recipient(4)) == 10**15

        await poll_until(back_on_chain, 30, "the transaction to be re-sent and mined")
        await reader.pool.call("anvil_mine", [hex(3)])
        (done,) = await txm.wait([record.idempotency_key], timeout_s=30)
    assert done.status is TxStatus.CONFIRMED
    assert len(done.attempts) == 1  # the same signed bytes went out again
    assert await reader.balance(recipient(4)) == 10**15
    assert await reader.transaction_count(SENDER, "latest") == 1


async def test_a_request_fee_cap_below_the_market_is_refused(
    reader: ChainReader, outbox: SqliteOutbox
) -> None:
    async with manager(reader, outbox) as txm:
        with pytest.raises(FeeCapExceededError):
            await txm.submit(TxRequest("capped-1", recipient(1), 1, max_fee_per_gas=1))
        record = await txm.submit(TxRequest("capped-2", recipient(1), 1, max_fee_per_gas=10**12))
        (done,) = await txm.wait([record.idempotency_key])
    assert done.status is TxStatus.CONFIRMED
    assert done.latest.max_fee_per_gas is not None
    assert done.latest.max_fee_per_gas <= 10**12
