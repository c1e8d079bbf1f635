"""`classify` against the errors anvil really sends for the cases the transaction manager meets:
a duplicate, a used nonce, a too-small replacement, another chain's transaction, missing funds.

Each test signs with a fresh account that it funds itself, so the shared node's dev accounts keep
their nonces. The pending transactions use a nonce gap (anvil queues them, never mines them), so
nothing here needs to switch the node's automine off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from zerog_client.chain.jsonrpc import HttpJsonRpc, JsonRpcError
from zerog_client.devnet import AnvilNode
from zerog_client.networks import DEVNET
from zerog_client.tx.broadcast import SendOutcome, classify

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

PAYEE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
GWEI = 10**9


@pytest.fixture
async def rpc(anvil: AnvilNode) -> AsyncIterator[HttpJsonRpc]:
    client = HttpJsonRpc(anvil.rpc_url)
    yield client
    await client.close()


@pytest.fixture
async def sender(rpc: HttpJsonRpc) -> LocalAccount:
    account: LocalAccount = Account.create()
    await rpc.call("anvil_setBalance", [account.address, hex(10**18)])
    return account


def signed(account: LocalAccount, **fields: Any) -> str:
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": DEVNET.chain_id,
        "nonce": 0,
        "to": PAYEE,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 100 * GWEI,
        "maxPriorityFeePerGas": GWEI,
    } | fields
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


async def send(rpc: HttpJsonRpc, raw: str) -> JsonRpcError | None:
    """The node's error for `raw`, or None when it took it."""
    try:
        await rpc.call("eth_sendRawTransaction", [raw])
    except JsonRpcError as exc:
        return exc
    return None


async def test_a_duplicate_is_accepted(rpc: HttpJsonRpc, sender: LocalAccount) -> None:
    raw = signed(sender, nonce=1)  # queued behind the missing nonce 0
    assert await send(rpc, raw) is None
    duplicate = await send(rpc, raw)
    assert duplicate is not None
    assert duplicate.rpc_message == "transaction already imported"
    assert classify(duplicate) is SendOutcome.ACCEPTED


async def test_a_used_nonce_is_nonce_used(rpc: HttpJsonRpc, sender: LocalAccount) -> None:
    assert await send(rpc, signed(sender, nonce=0)) is None  # mined at once
    used = await send(rpc, signed(sender, nonce=0, value=2))
    assert used is not None
    assert used.rpc_message == "nonce too low"
    assert classify(used) is SendOutcome.NONCE_USED


async def test_a_replacement_without_a_big_enough_bump_is_underpriced(
    rpc: HttpJsonRpc, sender: LocalAccount
) -> None:
    assert await send(rpc, signed(sender, nonce=1)) is None
    same_price = await send(rpc, signed(sender, nonce=1, value=2))
    assert same_price is not None
    assert same_price.rpc_message == "replacement transaction underpriced"
    assert classify(same_price) is SendOutcome.UNDERPRICED


async def test_a_transaction_for_another_chain_is_rejected(rpc: HttpJsonRpc, sender: LocalAccount) -> None:
    other_chain = await send(rpc, signed(sender, chainId=16602))
    assert other_chain is not None
    assert other_chain.rpc_message == "invalid chain id for signer"
    assert classify(other_chain) is SendOutcome.REJECTED


async def test_a_transaction_beyond_the_balance_is_rejected(rpc: HttpJsonRpc, sender: LocalAccount) -> None:
    broke = await send(rpc, signed(sender, value=10**18))
    assert broke is not None
    assert broke.rpc_message.lower() == "insufficient funds for gas * price + value"
    assert classify(broke) is SendOutcome.REJECTED


async def test_a_max_fee_under_the_base_fee_is_rejected(rpc: HttpJsonRpc, sender: LocalAccount) -> None:
    too_cheap = await send(rpc, signed(sender, maxFeePerGas=1, maxPriorityFeePerGas=1))
    assert too_cheap is not None
    assert classify(too_cheap) is SendOutcome.REJECTED
