"""The chain server's read tools through the MCP SDK's in-memory client, against anvil with our token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from mcp_servers import build_chain_server
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import DevnetContracts, deploy_devnet_contracts

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN_ID = 1_660_999


@pytest.fixture
async def setup(anvil: AnvilNode) -> AsyncIterator[tuple[Client, DevnetContracts, ChainReader]]:
    async with ChainReader(anvil.rpc_url, CHAIN_ID) as reader:
        accounts = await reader.node_accounts()
        contracts = await deploy_devnet_contracts(anvil.rpc_url, accounts[-2])
        async with Client(build_chain_server(reader)) as client:
            yield client, contracts, reader


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None, result.content
    return dict(result.structured_content)


async def test_token_tools(setup: tuple[Client, DevnetContracts, ChainReader]) -> None:
    client, contracts, _ = setup
    info = await call(client, "get_token_info", token=contracts.test_token)
    assert info == {"token": contracts.test_token, "name": "Test USD", "symbol": "TUSD", "decimals": 6}
    balance = await call(client, "get_token_balance", token=contracts.test_token, owner=contracts.deployer)
    assert balance["balance_base_units"] == str(1_000_000 * 10**6)
    assert balance["balance"] == "1000000"


async def test_block_transaction_and_receipt(setup: tuple[Client, DevnetContracts, ChainReader]) -> None:
    client, _, reader = setup
    latest = await call(client, "get_block")
    assert latest["number"] == await reader.block_number()
    block = await reader.block(latest["number"])
    assert block is not None
    raw = await reader.pool.call("eth_getBlockByNumber", [hex(latest["number"]), False])
    tx_hash = raw["transactions"][0]
    tx = await call(client, "get_transaction", tx_hash=tx_hash)
    assert tx["hash"] == tx_hash
    receipt = await call(client, "get_receipt", tx_hash=tx_hash)
    assert receipt["status"] == "success"
    assert receipt["block_number"] == latest["number"]


async def test_read_contract_decodes_outputs(setup: tuple[Client, DevnetContracts, ChainReader]) -> None:
    client, contracts, _ = setup
    out = await call(
        client,
        "read_contract",
        contract=contracts.test_token,
        signature="balanceOf(address)",
        args=[contracts.deployer],
        output_types=["uint256"],
    )
    assert out == {"outputs": [str(1_000_000 * 10**6)]}
    symbol = await call(
        client,
        "read_contract",
        contract=contracts.test_token,
        signature="symbol()",
        args=[],
        output_types=["string"],
    )
    assert symbol == {"outputs": ["TUSD"]}


@pytest.mark.parametrize(
    ("tool", "arguments", "code"),
    [
        ("get_token_info", {"token": "0x" + "00" * 20}, "chain_request_failed"),
        ("get_transaction", {"tx_hash": "0x" + "ab" * 32}, "not_found"),
        ("get_receipt", {"tx_hash": "0x" + "zz" * 32}, "invalid_hash"),
        ("get_block", {"number": 10**9}, "not_found"),
        (
            "read_contract",
            {"contract": "TOKEN", "signature": "balanceOf(address", "args": [], "output_types": ["uint256"]},
            "invalid_abi",
        ),
        (
            "read_contract",
            {"contract": "TOKEN", "signature": "balanceOf(address)", "args": [], "output_types": ["uint256"]},
            "invalid_abi",
        ),
        (
            "read_contract",
            {
                "contract": "TOKEN",
                "signature": "balanceOf(address)",
                "args": ["0x12"],
                "output_types": ["uint256"],
            },
            "invalid_address",
        ),
        (
            "read_contract",
            {"contract": "TOKEN", "signature": "f()", "args": [], "output_types": ["uint999"]},
            "invalid_abi",
        ),
    ],
)
async def test_bad_input_is_a_tool_error_with_a_code(
    setup: tuple[Client, DevnetContracts, ChainReader], tool: str, arguments: dict[str, Any], code: str
) -> None:
    client, contracts, _ = setup
    arguments = {k: (contracts.test_token if v == "TOKEN" else v) for k, v in arguments.items()}
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error"]["code"] == code


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("get_token_balance", {"token": "0x12", "owner": "0x12"}),
        ("get_block", {"number": -1}),
        ("get_transaction", {"tx_hash": 5}),
        (
            "read_contract",
            {
                "contract": "0x" + "00" * 20,
                "signature": "f()",
                "args": list(range(20)),
                "output_types": ["uint256"],
            },
        ),
    ],
)
async def test_schema_violations_are_refused(
    setup: tuple[Client, DevnetContracts, ChainReader], tool: str, arguments: dict[str, Any]
) -> None:
    client, _, _ = setup
    result = await client.call_tool(tool, arguments)
    assert result.is_error


async def test_multicall_reads_many_values_at_one_block(
    setup: tuple[Client, DevnetContracts, ChainReader],
) -> None:
    client, contracts, reader = setup
    accounts = (await reader.node_accounts())[:2]
    calls = [
        {
            "target": contracts.multicall3,
            "signature": "getEthBalance(address)",
            "args": [a],
            "output_types": ["uint256"],
        }
        for a in accounts
    ]
    calls.append(
        {
            "target": contracts.test_token,
            "signature": "balanceOf(address)",
            "args": [contracts.deployer],
            "output_types": ["uint256"],
        }
    )
    calls.append(  # reverts (the aggregator holds no tokens): allowed to fail
        {
            "target": contracts.test_token,
            "signature": "transfer(address,uint256)",
            "args": [accounts[0], 1],
            "output_types": ["bool"],
            "allow_failure": True,
        }
    )
    out = await call(client, "multicall_read", multicall=contracts.multicall3, calls=calls)
    results = out["results"]
    assert [int(r["outputs"][0]) for r in results[:2]] == await reader.balances(accounts)
    assert results[2] == {"success": True, "outputs": [str(1_000_000 * 10**6)]}
    assert results[3] == {"success": False, "outputs": []}
    bad = await client.call_tool(
        "multicall_read",
        {
            "multicall": contracts.multicall3,
            "calls": [{"target": contracts.test_token, "signature": "nope(", "output_types": ["uint256"]}],
        },
    )
    assert bad.is_error
    assert bad.structured_content is not None
    assert bad.structured_content["error"]["code"] == "invalid_abi"
