"""The chain server over streamable HTTP with tokens from `zgv token` (the `zgvoice.mcp_cli` handlers)."""

from __future__ import annotations

import argparse
import socket

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_servers import build_chain_server
from mcp_servers.auth import JwtTokenVerifier
from mcp_servers.http import serve_http
from tests.integration.test_ask_path import rpc
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zgvoice import mcp_cli
from zgvoice.cli_errors import UsageError
from zgvoice.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SECRET = "cli-secret-" + "z" * 40


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    mcp_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


async def mint(audience: str, *scopes: str, capsys: pytest.CaptureFixture[str]) -> str:
    args = parse("token", "--audience", audience, *[f"--scope={scope}" for scope in scopes], "--ttl", "120")
    await mcp_cli.run(Settings(), args)
    return capsys.readouterr().out.strip()


async def test_token_command_mints_a_verifiable_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZGV_MCP__TOKEN_SECRET", SECRET)
    token = await mint("http://127.0.0.1:8765/mcp/", "chain:read", "kv:read", capsys=capsys)
    verifier = JwtTokenVerifier(SECRET, audience="http://127.0.0.1:8765/mcp", issuer="http://127.0.0.1:8765")
    access = await verifier.verify_token(token)
    assert access is not None
    assert sorted(access.scopes) == ["chain:read", "kv:read"]
    assert access.expires_at is not None
    assert access.subject == "zgv-cli"


async def test_token_command_needs_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ZGV_MCP__TOKEN_SECRET", raising=False)
    with pytest.raises(UsageError, match="ZGV_MCP__TOKEN_SECRET"):
        await mcp_cli.run(
            Settings(), parse("token", "--audience", "http://127.0.0.1:1/mcp", "--scope", "chain:read")
        )


def test_non_loopback_bind_needs_a_resource_url() -> None:
    env = mcp_cli.McpEnv(token_secret=SECRET)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="ZGV_MCP__RESOURCE_URL"):
        mcp_cli.http_settings(env, "0.0.0.0", 8765)
    assert mcp_cli.parse_host_port("[::1]:8765") == ("::1", 8765)
    with pytest.raises(UsageError):
        mcp_cli.parse_host_port("8765")


async def test_chain_server_over_http_reads_the_devnet(
    anvil: AnvilNode, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZGV_MCP__TOKEN_SECRET", SECRET)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = int(sock.getsockname()[1])
    settings = mcp_cli.http_settings(mcp_cli.McpEnv(), "127.0.0.1", port)
    url = f"http://127.0.0.1:{port}/mcp"
    token = await mint(url, "chain:read", capsys=capsys)
    async with (
        ChainReader(anvil.rpc_url, anvil.config.chain_id) as reader,
        anyio.create_task_group() as group,
    ):
        group.start_soon(
            lambda: serve_http(build_chain_server(reader), "127.0.0.1", port, settings, sock=sock)
        )
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            names = sorted(tool.name for tool in (await client.list_tools()).tools)
            result = await client.call_tool("get_block_number", {})
        group.cancel_scope.cancel()
    sock.close()
    assert {"chain_info", "get_balance", "get_block_number", "get_gas_price"} <= set(names)
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["block_number"] <= int(rpc(anvil.rpc_url, "eth_blockNumber"), 16)
