"""`zgv mcp chain` over stdio, driven by the MCP SDK's own client."""

from __future__ import annotations

import pytest
from mcp import Client, StdioServerParameters

from tests.integration.test_ask_path import rpc
from tests.support.cli import ZGV, zgv_env
from zerog_client.devnet import AnvilNode

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def params(anvil: AnvilNode) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(ZGV), args=["mcp", "chain"], env=zgv_env(ZGV_CHAIN__RPC_URL=anvil.rpc_url)
    )


async def test_tools_are_listed_with_read_only_annotations(anvil: AnvilNode) -> None:
    async with Client(params(anvil)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert sorted(tools) == [
        "chain_info",
        "confirm_batch_transfer",
        "confirm_transfer",
        "get_balance",
        "get_block",
        "get_block_number",
        "get_gas_price",
        "get_receipt",
        "get_token_balance",
        "get_token_info",
        "get_transaction",
        "multicall_read",
        "prepare_batch_transfer",
        "prepare_transfer",
        "read_contract",
        "wait_for_transaction",
    ]
    for tool in tools.values():
        assert tool.annotations is not None
        moves_value = tool.name in {
            "prepare_transfer",
            "confirm_transfer",
            "prepare_batch_transfer",
            "confirm_batch_transfer",
        }
        assert tool.annotations.read_only_hint is (not moves_value)
        assert tool.annotations.destructive_hint is moves_value
        assert tool.output_schema is not None


async def test_balance_over_stdio_is_the_nodes_balance(anvil: AnvilNode) -> None:
    async with Client(params(anvil)) as client:
        result = await client.call_tool("get_balance", {"address": OTHER})
    assert not result.is_error
    assert result.structured_content is not None
    assert int(result.structured_content["balance_neuron"]) == int(
        rpc(anvil.rpc_url, "eth_getBalance", OTHER, "latest"), 16
    )


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"address": "0x1234"}, "invalid_address"),
        ({"address": OTHER.replace("C51812", "c51812")}, "invalid_address"),
    ],
)
async def test_bad_addresses_are_tool_errors_with_codes(
    anvil: AnvilNode, arguments: dict[str, str], code: str
) -> None:
    async with Client(params(anvil)) as client:
        result = await client.call_tool("get_balance", arguments)
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error"]["code"] == code


async def test_wrong_argument_types_are_tool_errors(anvil: AnvilNode) -> None:
    async with Client(params(anvil)) as client:
        missing = await client.call_tool("get_balance", {})
        oversized = await client.call_tool("get_balance", {"address": "0x" + "a" * 5000})
    assert missing.is_error
    assert oversized.is_error
