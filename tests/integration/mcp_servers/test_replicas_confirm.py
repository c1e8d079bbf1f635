"""Two HTTP replicas of the chain server with sending tools, sharing a secret and SQLite ledgers: a
transfer prepared on one is confirmed on the other, exactly once; the handle then works on neither."""

from __future__ import annotations

import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from eth_account import Account
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token

from mcp_servers import build_chain_server
from mcp_servers.auth import mint_token
from mcp_servers.chain_send import SendingDeps, register_sending
from mcp_servers.confirmations import ConfirmationHandles, SqliteHandleLedger, SqliteSpendLedger
from mcp_servers.http import HttpServerSettings, build_http_app
from mcp_servers.policy import AssetCaps, PolicyConfig
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.tx import LocalSigner, TransactionManager
from zerog_client.tx.external import ExternalSender
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN_ID = 1_660_999
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SENDER = Account.from_key(KEY).address
TO = str(Account.from_key((31337).to_bytes(32, "big")).address)
ONE = 10**18


def principal() -> str:
    token = get_access_token()
    assert token is not None  # the HTTP stack authenticated the call
    return f"{token.client_id}"


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@contextlib.asynccontextmanager
async def replicas(reader: ChainReader, workdir: Path, count: int) -> AsyncIterator[list[tuple[str, str]]]:
    """`count` replicas: (endpoint URL, bearer token) each; all share the secret and the ledgers."""
    secret = secrets.token_hex(32)
    handle_key = secrets.token_bytes(32)
    policy = PolicyConfig(
        chain_ids=frozenset({CHAIN_ID}),
        native=AssetCaps(per_tx=ONE, per_24h=2 * ONE),
        max_fee_per_gas=100 * 10**9,
        max_total_fee=10**17,
    )
    socks = [listening_socket() for _ in range(count)]
    outbox = SqliteOutbox(workdir / "outbox.db")
    await outbox.open()
    servers: list[uvicorn.Server] = []
    endpoints: list[tuple[str, str]] = []
    async with contextlib.AsyncExitStack() as stack:
        for sock in socks:
            port = int(sock.getsockname()[1])
            manager = await stack.enter_async_context(
                TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox)
            )
            server = build_chain_server(reader)
            register_sending(
                server,
                SendingDeps(
                    reader=reader,
                    external=ExternalSender(reader, outbox),
                    policy=policy,
                    handles=ConfirmationHandles(handle_key),
                    used_handles=SqliteHandleLedger(workdir / "handles.db"),
                    spends=SqliteSpendLedger(workdir / "spends.db"),
                    principal=principal,
                    manager=manager,
                ),
            )
            settings = HttpServerSettings.model_validate(
                {
                    "resource_url": f"http://127.0.0.1:{port}/mcp",
                    "token_secret": secret,
                    "required_scopes": ["chain:read"],
                }
            )
            # Every replica is its own audience: a client holds one token per replica it talks to.
            token = mint_token(
                key=secret,
                subject="alice",
                audience=settings.audience,
                scopes=["chain:read"],
                ttl_s=600,
                issuer=settings.issuer_url,
                client_id="alice",
            )
            app = build_http_app(server, settings, host="127.0.0.1", port=port)
            servers.append(uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None)))
            endpoints.append((settings.audience, token))
        async with anyio.create_task_group() as group:
            for server, sock in zip(servers, socks, strict=True):
                group.start_soon(server.serve, [sock])
            try:
                yield endpoints
            finally:
                for server in servers:
                    server.should_exit = True
    await outbox.close()
    for sock in socks:
        sock.close()


async def call(endpoint: tuple[str, str], tool: str, **arguments: Any) -> Any:
    url, token = endpoint
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await client.call_tool(tool, arguments)


async def test_prepare_on_one_replica_confirm_on_the_other(anvil: AnvilNode, tmp_path: Path) -> None:
    async with ChainReader(anvil.rpc_url, CHAIN_ID) as reader:
        before = await reader.balance(TO)
        nonce = await reader.transaction_count(SENDER, "latest")
        async with replicas(reader, tmp_path, 2) as (a, b):
            prepared = await call(a, "prepare_transfer", to=TO, amount="0.25", asset="0G")
            assert not prepared.is_error, prepared.content
            handle = prepared.structured_content["handle"]
            confirmed = await call(b, "confirm_transfer", handle=handle)
            assert not confirmed.is_error, confirmed.content
            tx_hash = confirmed.structured_content["tx_hash"]
            waited = await call(a, "wait_for_transaction", tx_hash=tx_hash, timeout_s=30)
            assert not waited.is_error, waited.content
            for replica in (a, b):  # single use, across replicas
                again = await call(replica, "confirm_transfer", handle=handle)
                assert again.is_error
                assert again.structured_content["error"]["code"] == "confirmation_used"
        assert await reader.balance(TO) == before + ONE // 4
        assert await reader.transaction_count(SENDER, "latest") == nonce + 1
