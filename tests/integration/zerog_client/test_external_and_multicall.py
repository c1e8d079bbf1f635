"""Non-custodial signing (prepare, the wallet signs, we verify before anything is sent) and reads
through the Multicall3-compatible aggregator."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from eth_account import Account

from tests.support.processes import poll_until
from zerog_client import ChainReader
from zerog_client.chain.reader import encode_call
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import deploy_devnet_contracts
from zerog_client.errors import ChainRequestError
from zerog_client.tx import SignatureMismatchError, TxRequest, TxStatus
from zerog_client.tx.external import ExternalSender
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN_ID = 1_660_999
WALLET = Account.from_key(
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
)  # dev account 1
TO = Account.from_key((424242).to_bytes(32, "big")).address


@pytest.fixture
async def sender(reader: ChainReader, tmp_path: Path) -> AsyncIterator[ExternalSender]:
    outbox = SqliteOutbox(tmp_path / "outbox.db")
    await outbox.open()
    yield ExternalSender(reader, outbox)
    await outbox.close()


async def test_the_wallets_exact_signature_is_accepted_and_sent(
    reader: ChainReader, sender: ExternalSender
) -> None:
    prepared = await sender.prepare(TxRequest("ext-1", TO, 10**15), WALLET.address)
    raw = bytes(WALLET.sign_transaction(prepared.as_signable()).raw_transaction)
    record = await sender.submit_signed("ext-1", raw, prepared, WALLET.address)
    assert record.status is TxStatus.SUBMITTED

    async def mined() -> bool:
        return await reader.receipt(record.latest.tx_hash) is not None

    await poll_until(mined, 10, "the transaction to be mined")  # automine may lag under load
    receipt = await reader.receipt(record.latest.tx_hash)
    assert receipt is not None
    assert receipt.status == "success"
    assert await reader.balance(TO) == 10**15


@pytest.mark.parametrize(
    "change",
    [
        {"chain_id": 16602},  # signed for another chain (0G Galileo)
        {"value": 10**15 + 1},
        {"to": Account.from_key((7).to_bytes(32, "big")).address},
        {"nonce": 5},
        {"max_fee_per_gas": 10**12},
        {"data": b"\x01"},
    ],
)
async def test_any_difference_is_refused_before_broadcast(
    reader: ChainReader, sender: ExternalSender, change: dict[str, object]
) -> None:
    prepared = await sender.prepare(TxRequest("ext-2", TO, 10**15), WALLET.address)
    tampered = dataclasses.replace(prepared, **change)  # type: ignore[arg-type]
    raw = bytes(WALLET.sign_transaction(tampered.as_signable()).raw_transaction)
    with pytest.raises(SignatureMismatchError):
        await sender.submit_signed("ext-2", raw, prepared, WALLET.address)
    assert await reader.transaction_count(WALLET.address, "pending") == 0  # nothing reached the node


async def test_a_signature_by_another_account_is_refused(reader: ChainReader, sender: ExternalSender) -> None:
    prepared = await sender.prepare(TxRequest("ext-3", TO, 10**15), WALLET.address)
    raw = bytes(Account.create().sign_transaction(prepared.as_signable()).raw_transaction)
    with pytest.raises(SignatureMismatchError, match="different account"):
        await sender.submit_signed("ext-3", raw, prepared, WALLET.address)


async def test_multicall_reads_many_balances_in_one_call(node: AnvilNode, reader: ChainReader) -> None:
    accounts = await reader.node_accounts()
    contracts = await deploy_devnet_contracts(node.rpc_url, accounts[-1])
    calls = [
        (
            contracts.multicall3,
            bytes.fromhex(encode_call("getEthBalance(address)", ["address"], [a])[2:]),
            False,
        )
        for a in accounts
    ]
    results = await reader.multicall(contracts.multicall3, calls)
    expected = await reader.balances(accounts)
    assert [int.from_bytes(data, "big") for ok, data in results if ok] == expected
    failing = (
        contracts.test_token,
        bytes.fromhex(encode_call("transfer(address,uint256)", ["address", "uint256"], [TO, 1])[2:]),
    )
    allowed = await reader.multicall(contracts.multicall3, [(*failing, True)])
    assert allowed[0][0] is False
    with pytest.raises(ChainRequestError):
        await reader.multicall(contracts.multicall3, [(*failing, False)])
