"""The interpreter's executor reaches the chain server over streamable HTTP with a bearer token, as in
a cluster deployment; a wrong token gets nothing."""

from __future__ import annotations

import secrets
from pathlib import Path

import anyio
import pytest
import uvicorn

from mcp_servers import build_chain_server
from mcp_servers.auth import mint_token
from mcp_servers.http import HttpServerSettings, build_http_app
from task_interpreter import ToolCall, ToolExecutor
from task_interpreter.executor import HttpTarget, McpConnectError
from tests.integration.mcp_servers.test_replicas_confirm import listening_socket
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zgvoice.pins import load_pins

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


async def test_tools_over_http_with_a_token_and_pins(anvil: AnvilNode, tmp_path: Path) -> None:
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    secret = secrets.token_hex(32)
    settings = HttpServerSettings.model_validate(
        {"resource_url": f"http://127.0.0.1:{port}/mcp", "token_secret": secret}
    )
    good = mint_token(
        key=secret,
        subject="interpreter",
        audience=settings.audience,
        scopes=["chain:read"],
        ttl_s=600,
        issuer=settings.issuer_url,
    )
    async with ChainReader(anvil.rpc_url, 1_660_999) as reader:
        server = uvicorn.Server(
            uvicorn.Config(
                build_http_app(build_chain_server(reader), settings, host="127.0.0.1", port=port),
                lifespan="on",
                log_config=None,
            )
        )
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [sock])
            try:
                target = {"chain": HttpTarget(settings.audience, good)}
                async with ToolExecutor(target, pins=load_pins()) as executor:
                    result = await executor.run(ToolCall("chain", "get_balance", {"address": OTHER}))
                assert result.ok, result.error
                assert result.data is not None
                assert int(result.data["balance_neuron"]) == await reader.balance(OTHER)
                assert "token=<hidden>" in repr(target["chain"])
                with pytest.raises(McpConnectError, match="chain tool server"):
                    async with ToolExecutor({"chain": HttpTarget(settings.audience, "not-a-token")}):
                        pass
            finally:
                server.should_exit = True
    sock.close()
