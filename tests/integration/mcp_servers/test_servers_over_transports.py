"""Every server as users run it (`zgv mcp storage|kv|knowledge`), over stdio and over streamable HTTP,
driven by the MCP SDK's client against `zgv devnet` (chain, storage node, KV node). The chain server
has its own stdio and HTTP tests (test_mcp_chain_stdio, test_chain_http, test_cluster_replicas)."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from mcp_servers.auth import mint_token
from mcp_servers.scopes import SERVER_SCOPES, TOOL_SCOPES
from tests.integration.test_devnet_process import running_devnet
from tests.support.cli import ZGV, zgv_env
from tests.support.processes import free_port, wait_listening

pytestmark = [pytest.mark.integration, pytest.mark.anyio, pytest.mark.slow]

TRANSPORTS = ["stdio", "http"]
START_TIMEOUT_S = 60.0
KV_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def devnet_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_devnet() as (_, info):
        yield zgv_env(
            ZGV_CHAIN__RPC_URL=str(info["rpc_url"]),
            ZGV_STORAGE__NODE_URLS=json.dumps(info["storage_nodes"]),
            ZGV_STORAGE__OUTBOX_PATH=str(tmp_path_factory.mktemp("zgv") / "outbox.db"),
            ZGV_STORAGE__KV_URL=str(info["kv"]),
            ZGV_MCP__TOKEN_SECRET=secrets.token_hex(32),
            ZGV_LOG__LEVEL="WARNING",
        )


@contextlib.asynccontextmanager
async def connected(env: dict[str, str], server: str, transport: str) -> AsyncIterator[Client]:
    """An SDK client of `zgv mcp SERVER` over `transport`, with every scope the server knows."""
    if transport == "stdio":
        async with Client(StdioServerParameters(command=str(ZGV), args=["mcp", server], env=env)) as client:
            yield client
        return
    port = free_port()
    process = await anyio.open_process([str(ZGV), "mcp", server, "--http", f"127.0.0.1:{port}"], env=env)
    try:
        await wait_listening(port, process, START_TIMEOUT_S)
        url = f"http://127.0.0.1:{port}/mcp"
        scopes = [*SERVER_SCOPES[server], *TOOL_SCOPES[server].values()]
        token = mint_token(
            env["ZGV_MCP__TOKEN_SECRET"], "alice", url, scopes, 600, issuer=f"http://127.0.0.1:{port}"
        )
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            yield client
    finally:
        process.terminate()
        with anyio.fail_after(20):
            await process.wait()
        await process.aclose()


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_storage_uploads_and_downloads(devnet_env: dict[str, str], transport: str) -> None:
    content = f"notes of {transport}: {secrets.token_hex(16)}"
    async with connected(devnet_env, "storage", transport) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"upload_content", "download_content", "file_info", "my_files"} <= tools
        uploaded = await ok(client, "upload_content", content=content, name="notes.txt")
        back = await ok(client, "download_content", root=uploaded["root"])
        assert (back["encoding"], back["content"]) == ("utf-8", content)
        info = await ok(client, "file_info", root=uploaded["root"])
        assert info["size"] == len(content.encode())
        mine = await ok(client, "my_files")
        assert uploaded["root"] in json.dumps(mine)
        bad = await client.call_tool("download_content", {"root": "0x1234"})
        assert bad.is_error
        assert bad.structured_content is not None
        assert bad.structured_content["error"]["code"] == "invalid_root"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_kv_set_then_get(devnet_env: dict[str, str], transport: str) -> None:
    key, value = f"k-{transport}-{secrets.token_hex(4)}", secrets.token_hex(8)
    async with connected(devnet_env, "kv", transport) as client:
        await ok(client, "kv_set", stream="zgvoice", entries=[{"key": key, "value": value}])
        # The KV node applies the write once it sees it on chain; poll with a deadline.
        deadline = time.monotonic() + KV_TIMEOUT_S
        while True:
            got = await ok(client, "kv_get", stream="zgvoice", key=key)
            if got["found"] and got["value"] == value:
                break
            assert time.monotonic() < deadline, f"the KV node did not serve {key} within {KV_TIMEOUT_S} s"
            await anyio.sleep(0.2)  # poll interval of a deadline loop
        refused = await client.call_tool("kv_get", {"stream": "not-served", "key": key})
        assert refused.is_error


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_knowledge_search(devnet_env: dict[str, str], transport: str) -> None:
    async with connected(devnet_env, "knowledge", transport) as client:
        found = await ok(client, "search_docs", query="how do I run the tests", limit=3)
    assert found["results"]
    assert any(hit["source"] == "README.md" for hit in found["results"])
