"""The whole text path against a real anvil: nlp -> planner -> MCP (in-memory) -> web3 -> reply."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from zerog_client.devnet import AnvilNode
from zgvoice.runtime import Runtime, open_runtime
from zgvoice.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def rpc(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["result"]


@pytest.fixture
async def runtime(anvil: AnvilNode) -> AsyncIterator[Runtime]:
    settings = load_settings(chain={"rpc_url": anvil.rpc_url})
    async with open_runtime(settings) as live:
        yield live


async def test_my_balance_is_the_dev_accounts_real_balance(runtime: Runtime, anvil: AnvilNode) -> None:
    me = to_checksum_address(rpc(anvil.rpc_url, "eth_accounts")[0])
    # Change the balance first so the answer cannot be a remembered constant.
    rpc(anvil.rpc_url, "anvil_setBalance", me, hex(1234 * 10**18 + 5 * 10**17))
    result = await runtime.service.ask("what is my balance", speak=False)
    body = result.as_json()
    assert body["intent"]["name"] == "balance"
    assert body["plan"] == [{"server": "chain", "tool": "get_balance", "arguments": {"address": me}}]
    assert body["tool_results"][0]["result"]["balance_neuron"] == str(
        int(rpc(anvil.rpc_url, "eth_getBalance", me, "latest"), 16)
    )
    assert body["reply"] == "You have 1,234.5 0G."


async def test_latest_block_matches_eth_block_number(runtime: Runtime, anvil: AnvilNode) -> None:
    rpc(anvil.rpc_url, "anvil_mine", hex(7))
    result = await runtime.service.ask("what is the latest block", speak=False)
    expected = int(rpc(anvil.rpc_url, "eth_blockNumber"), 16)
    assert expected >= 7
    assert result.outcome.results[0].data == {"block_number": expected}
    assert result.outcome.reply == f"The latest block is number {expected:,}."
    assert set(result.latency_ms) == {"nlp_ms", "plan_ms", "tools_ms", "reply_ms", "total_ms"}
    assert all(value >= 0 for value in result.latency_ms.values())


async def test_balance_of_another_address(runtime: Runtime, anvil: AnvilNode) -> None:
    rpc(anvil.rpc_url, "anvil_setBalance", OTHER, hex(3 * 10**18))
    result = await runtime.service.ask(f"how much does {OTHER.lower()} have", speak=False)
    assert result.outcome.reply == "The address 0x7099…79C8 has 3 0G."


async def test_a_bad_checksum_is_a_clear_reply_not_a_crash(runtime: Runtime) -> None:
    wrong = OTHER.replace("C51812", "c51812")
    result = await runtime.service.ask(f"balance of {wrong}", speak=False)
    error = result.outcome.results[0].error
    assert error is not None
    assert error.code == "invalid_address"
    assert result.outcome.reply.startswith("That address doesn't look right")


async def test_gas_price_and_chain_info(runtime: Runtime, anvil: AnvilNode) -> None:
    gas = await runtime.service.ask("what is the gas price", speak=False)
    price = int(rpc(anvil.rpc_url, "eth_gasPrice"), 16)
    assert gas.outcome.results[0].data is not None
    assert gas.outcome.results[0].data["gas_price_neuron"] == str(price)
    info = await runtime.service.ask("which network am i on", speak=False)
    assert "chain ID 1660999" in info.outcome.reply


async def test_unknown_intent_gets_a_helpful_reply(runtime: Runtime) -> None:
    result = await runtime.service.ask("tell me a joke about cats", speak=False)
    assert result.outcome.intent.name == "unknown"
    assert result.outcome.plan.calls == ()
    assert result.outcome.reply.startswith("Sorry, I didn't understand")


async def test_spoken_reply_is_real_audio(runtime: Runtime) -> None:
    result = await runtime.service.ask("what is the latest block", speak=True)
    assert result.audio is not None
    assert result.audio.sample_rate == 22050
    # "The latest block is number N." takes well over a second to say.
    assert 1.0 < result.audio.duration_s < 10.0
    assert (
        max(
            abs(int.from_bytes(result.audio.pcm[i : i + 2], "little", signed=True))
            for i in range(0, len(result.audio.pcm), 200)
        )
        > 1000
    )
    assert "tts_ms" in result.latency_ms
