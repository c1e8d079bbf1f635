"""`ChainReader` against the real anvil: batched balances, the test token, blocks, receipts and
transactions, and ABI reads that do not decode.

Transactions here come from the node's last dev account (unlocked in anvil), so account 0 keeps its
nonce and balance for other tests; every test deploys its own token.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from eth_abi.abi import decode
from eth_utils.address import to_checksum_address

from tests.support.processes import free_port
from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.chain.reader import ChainReader, InvalidHashError, ReceiptSummary, TokenInfo, encode_call
from zerog_client.contracts import load_artifact
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import (
    TEST_TOKEN_SUPPLY,
    DevnetContracts,
    contract_address,
    deploy_devnet_contracts,
)
from zerog_client.errors import ChainRequestError, ChainUnreachableError, InvalidAddressError, WrongChainError
from zerog_client.networks import DEVNET, GALILEO

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

UNKNOWN_HASH = "0x" + "ab" * 32


def random_address() -> str:
    return to_checksum_address(secrets.token_bytes(20))


@pytest.fixture
async def reader(anvil: AnvilNode) -> AsyncIterator[ChainReader]:
    async with ChainReader(anvil.rpc_url, DEVNET.chain_id) as opened:
        yield opened


@pytest.fixture
async def deployer(reader: ChainReader) -> str:
    return (await reader.node_accounts())[-1]


@pytest.fixture
async def contracts(anvil: AnvilNode, deployer: str) -> DevnetContracts:
    return await deploy_devnet_contracts(anvil.rpc_url, deployer)


async def send(reader: ChainReader, tx: dict[str, Any]) -> str:
    """Send from an unlocked dev account and wait (with a deadline) for the receipt."""
    tx_hash = str(await reader.pool.call("eth_sendTransaction", [tx]))
    with anyio.fail_after(10):
        while True:
            if await reader.pool.call("eth_getTransactionReceipt", [tx_hash]) is not None:
                return tx_hash
            await anyio.sleep(0.02)  # poll interval of a deadline loop


async def transfer(
    reader: ChainReader, contracts: DevnetContracts, to: str, amount: int, **extra: Any
) -> str:
    data = encode_call("transfer(address,uint256)", ["address", "uint256"], [to, amount])
    return await send(reader, {"from": contracts.deployer, "to": contracts.test_token, "data": data, **extra})


# --- opening ---------------------------------------------------------------------------------------


async def test_the_reader_knows_its_network_and_chain(reader: ChainReader, anvil: AnvilNode) -> None:
    assert reader.network == DEVNET
    assert await reader.chain_id() == DEVNET.chain_id
    assert await reader.gas_price() > 0
    assert await reader.block_number() >= 0
    assert reader.rpc_url == anvil.rpc_url
    assert repr(reader) == f"ChainReader(rpc_urls=[{anvil.rpc_url!r}], chain_id={DEVNET.chain_id})"


async def test_a_reader_for_another_chain_fails_closed(anvil: AnvilNode) -> None:
    with pytest.raises(WrongChainError):
        async with ChainReader(anvil.rpc_url, GALILEO.chain_id):
            pass


async def test_a_reader_with_nothing_to_reach_is_unreachable() -> None:
    with pytest.raises(ChainUnreachableError):
        async with ChainReader(f"http://127.0.0.1:{free_port()}", DEVNET.chain_id, timeout_s=2):
            pass


# --- balances --------------------------------------------------------------------------------------


async def test_a_batch_of_1000_balances_equals_the_balances_one_by_one(reader: ChainReader) -> None:
    dev_accounts = await reader.node_accounts()
    funded = [random_address() for _ in range(20)]
    for i, address in enumerate(funded):
        await reader.pool.call("anvil_setBalance", [address, hex(10**18 * (i + 1) + i)])
    addresses = dev_accounts + funded + [random_address() for _ in range(1000 - len(dev_accounts) - 20)]
    # Mixed spellings: the reader normalizes every one.
    addresses = [a.lower() if i % 3 == 0 else a for i, a in enumerate(addresses)]
    block = hex(await reader.block_number())

    batched = await reader.balances(addresses, block)
    one_by_one = [await reader.balance(a, block) for a in addresses]

    assert len(batched) == 1000
    assert batched == one_by_one
    start = len(dev_accounts)
    assert batched[start : start + 20] == [10**18 * (i + 1) + i for i in range(20)]
    assert all(b > 0 for b in batched[:start])
    assert batched[start + 20 :] == [0] * (1000 - start - 20)


async def test_balances_refuse_a_bad_address_before_sending_anything(reader: ChainReader) -> None:
    good = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    wrong_checksum = "0x70997970c51812dc3A010C7d01b50e0d17dc79C8"
    with pytest.raises(InvalidAddressError):
        await reader.balances([good, wrong_checksum])
    with pytest.raises(InvalidAddressError):
        await reader.balance("0x1234")
    assert await reader.balances([]) == []


# --- the test token --------------------------------------------------------------------------------


async def test_token_info_and_balances(reader: ChainReader, contracts: DevnetContracts) -> None:
    token = contracts.test_token
    assert await reader.token_info(token.lower()) == TokenInfo(token, "Test USD", "TUSD", 6)
    assert await reader.token_balance(token, contracts.deployer) == TEST_TOKEN_SUPPLY
    alice = random_address()
    assert await reader.token_balance(token, alice) == 0
    await transfer(reader, contracts, alice, 1234)
    assert await reader.token_balance(token, alice) == 1234
    assert await reader.token_balance(token, contracts.deployer) == TEST_TOKEN_SUPPLY - 1234
    (total,) = await reader.read(token, "totalSupply()", [], [], ["uint256"])
    assert total == TEST_TOKEN_SUPPLY


async def test_an_account_without_code_is_not_a_token(reader: ChainReader) -> None:
    with pytest.raises(ChainRequestError, match="ERC-20") as info:
        await reader.token_info(random_address())
    assert not isinstance(info.value, JsonRpcError)


async def test_a_contract_without_the_erc20_functions_is_not_a_token(
    reader: ChainReader, contracts: DevnetContracts
) -> None:
    # Multicall3 has no name(): the call reverts, which the node reports as a JSON-RPC error.
    with pytest.raises(ChainRequestError):
        await reader.token_info(contracts.multicall3)


@pytest.mark.parametrize(
    ("signature", "out_types"),
    [("decimals()", ["string"]), ("decimals()", ["bool", "bool"]), ("totalSupply()", ["bool"])],
)
async def test_read_with_an_answer_that_does_not_decode(
    reader: ChainReader, contracts: DevnetContracts, signature: str, out_types: list[str]
) -> None:
    with pytest.raises(ChainRequestError, match="undecodable") as info:
        await reader.read(contracts.test_token, signature, [], [], out_types)
    assert not isinstance(info.value, JsonRpcError)


async def test_read_from_an_account_without_code_does_not_decode(reader: ChainReader) -> None:
    with pytest.raises(ChainRequestError, match="undecodable"):
        await reader.read(
            random_address(), "balanceOf(address)", ["address"], [random_address()], ["uint256"]
        )


async def test_read_that_reverts_carries_the_revert_data(
    reader: ChainReader, contracts: DevnetContracts
) -> None:
    with pytest.raises(JsonRpcError) as info:
        await reader.read(
            contracts.test_token,
            "transfer(address,uint256)",
            ["address", "uint256"],
            [random_address(), 1],
            ["bool"],
        )
    assert isinstance(info.value.data, str)
    assert info.value.data.startswith("0x")


async def test_call_with_a_sender(reader: ChainReader, contracts: DevnetContracts) -> None:
    data = encode_call("transfer(address,uint256)", ["address", "uint256"], [random_address(), 1])
    raw = await reader.call(contracts.test_token, data, sender=contracts.deployer)
    assert decode(["bool"], raw) == (True,)


# --- blocks, receipts, transactions ----------------------------------------------------------------


async def test_block_summaries_match_the_node(reader: ChainReader, contracts: DevnetContracts) -> None:
    tx_hash = await transfer(reader, contracts, random_address(), 1)
    receipt = await reader.receipt(tx_hash)
    assert receipt is not None
    raw = await reader.pool.call("eth_getBlockByNumber", [hex(receipt.block_number), False])
    summary = await reader.block(receipt.block_number)
    assert summary is not None
    assert summary.number == receipt.block_number
    assert summary.hash == raw["hash"] == receipt.block_hash
    assert summary.parent_hash == raw["parentHash"]
    assert summary.timestamp == int(raw["timestamp"], 16)
    assert summary.gas_used == int(raw["gasUsed"], 16) == receipt.gas_used
    assert summary.base_fee_per_gas == int(raw["baseFeePerGas"], 16)
    assert summary.transaction_count == len(raw["transactions"]) == 1

    latest = await reader.block("latest")
    assert latest is not None
    assert latest.number >= receipt.block_number
    genesis = await reader.block(0)
    assert genesis is not None
    assert (genesis.number, genesis.parent_hash) == (0, "0x" + "00" * 32)
    assert await reader.block(latest.number + 1_000_000) is None


async def test_receipts_of_success_revert_creation_and_unknown(
    reader: ChainReader, contracts: DevnetContracts
) -> None:
    ok = await transfer(reader, contracts, random_address(), 5)
    # More than the deployer holds, with an explicit gas limit so the node sends it anyway.
    reverted = await transfer(reader, contracts, random_address(), TEST_TOKEN_SUPPLY + 1, gas=hex(100_000))
    nonce = await reader.transaction_count(contracts.deployer, "latest")
    created = await send(
        reader, {"from": contracts.deployer, "data": "0x" + load_artifact("Multicall3").bytecode.hex()}
    )

    success = await reader.receipt(ok)
    assert isinstance(success, ReceiptSummary)
    assert (success.tx_hash, success.status, success.logs, success.contract_address) == (
        ok,
        "success",
        1,
        None,
    )
    assert success.effective_gas_price is not None
    assert success.effective_gas_price > 0
    failure = await reader.receipt(reverted)
    assert failure is not None
    assert (failure.status, failure.logs) == ("reverted", 0)
    creation = await reader.receipt(created)
    assert creation is not None
    assert creation.status == "success"
    assert to_checksum_address(str(creation.contract_address)) == contract_address(contracts.deployer, nonce)

    assert await reader.receipt(UNKNOWN_HASH) is None
    batch = await reader.receipts([ok, UNKNOWN_HASH, reverted.upper().replace("0X", "0x"), created])
    assert batch == [success, None, failure, creation]


async def test_transactions_as_the_node_returns_them(reader: ChainReader, contracts: DevnetContracts) -> None:
    alice = random_address()
    tx_hash = await transfer(reader, contracts, alice, 9)
    tx = await reader.transaction(tx_hash)
    assert tx is not None
    assert tx["hash"] == tx_hash
    assert tx["from"].lower() == contracts.deployer.lower()
    assert tx["to"].lower() == contracts.test_token.lower()
    assert tx["input"] == encode_call("transfer(address,uint256)", ["address", "uint256"], [alice, 9])
    assert await reader.transaction(UNKNOWN_HASH) is None


@pytest.mark.parametrize("bad", ["", "0x1234", "0x" + "g" * 64, "ab" * 33, "0x" + "a" * 65])
async def test_hash_lookups_refuse_malformed_hashes(reader: ChainReader, bad: str) -> None:
    with pytest.raises(InvalidHashError):
        await reader.receipt(bad)
    with pytest.raises(InvalidHashError):
        await reader.transaction(bad)
    with pytest.raises(InvalidHashError):
        await reader.receipts([UNKNOWN_HASH, bad])
