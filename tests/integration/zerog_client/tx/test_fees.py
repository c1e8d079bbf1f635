"""`quote_from_chain` on the real anvil: the node's base fee, tip and gas price become a capped quote."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from zerog_client.chain.reader import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.networks import DEVNET
from zerog_client.tx.fees import FeeCapExceededError, FeeQuote, quote_from_chain

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

HIGH_CAP = 10**15


@pytest.fixture
async def reader(anvil: AnvilNode) -> AsyncIterator[ChainReader]:
    async with ChainReader(anvil.rpc_url, DEVNET.chain_id) as opened:
        yield opened


async def node_figures(reader: ChainReader) -> tuple[int, int, int]:
    latest = await reader.block("latest")
    assert latest is not None
    assert latest.base_fee_per_gas is not None
    tip = int(await reader.pool.call("eth_maxPriorityFeePerGas"), 16)
    return latest.base_fee_per_gas, tip, await reader.gas_price()


async def test_legacy_quotes_the_node_gas_price(reader: ChainReader) -> None:
    _, _, gas_price = await node_figures(reader)
    assert await quote_from_chain(reader, "legacy", HIGH_CAP) == FeeQuote(gas_price=gas_price)


async def test_eip1559_quotes_twice_the_base_fee_plus_the_node_tip(reader: ChainReader) -> None:
    base_fee, tip, _ = await node_figures(reader)
    assert base_fee > 0
    quoted = await quote_from_chain(reader, "eip1559", HIGH_CAP)
    assert quoted == FeeQuote(max_fee_per_gas=2 * base_fee + tip, max_priority_fee_per_gas=tip)


async def test_the_cap_is_enforced(reader: ChainReader) -> None:
    base_fee, tip, gas_price = await node_figures(reader)
    with pytest.raises(FeeCapExceededError):
        await quote_from_chain(reader, "legacy", gas_price - 1)
    trimmed = await quote_from_chain(reader, "eip1559", 2 * base_fee + tip - 1)
    assert trimmed.max_fee_per_gas == 2 * base_fee + tip - 1
    assert trimmed.max_priority_fee_per_gas == tip
