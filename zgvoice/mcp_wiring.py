"""Builds each of our MCP servers from the settings, with the clients it needs opened and closed."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer

from mcp_servers import build_chain_server
from mcp_servers.chain_send import SendingDeps, register_sending
from mcp_servers.confirmations import ConfirmationHandles, SqliteHandleLedger, SqliteSpendLedger
from mcp_servers.kv import KvDeps, build_kv_server
from mcp_servers.policy import AssetCaps, PolicyConfig
from mcp_servers.storage import StorageDeps, build_storage_server
from zerog_client import ChainReader, parse_amount
from zerog_client.storage.downloader import Downloader
from zerog_client.storage.kv_client import KvClient
from zerog_client.storage.kv_writer import KvUploader
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import TransactionManager
from zerog_client.tx.external import ExternalSender
from zerog_client.tx.signer import SignerError
from zerog_client.tx.sqlite_outbox import SqliteOutbox
from zgvoice.settings import PROJECT_ROOT, Settings
from zgvoice.storage_cli import flow_address, signer_for

log = logging.getLogger(__name__)

SERVERS = ("chain", "storage", "kv", "knowledge")


def policy_from(settings: Settings) -> PolicyConfig:
    """The spend policy of the settings' chain."""
    m = settings.mcp_tools
    per_tx, per_day = parse_amount(m.per_tx_0g), parse_amount(m.per_24h_0g)
    return PolicyConfig(
        chain_ids=frozenset({settings.chain.chain_id}),
        native=AssetCaps(per_tx=per_tx, per_24h=max(per_tx, per_day)),
        recipient_allowlist=frozenset(m.recipient_allowlist) if m.recipient_allowlist is not None else None,
        max_fee_per_gas=m.max_fee_per_gas_gwei * 10**9,
        max_total_fee=parse_amount(m.max_total_fee_0g),
    )


def _principal_for(settings: Settings) -> str:
    token = get_access_token()  # set by the HTTP auth stack; absent on stdio
    if token is None:
        return settings.mcp_tools.principal
    return str(token.client_id)


@asynccontextmanager
async def built_server(settings: Settings, name: str) -> AsyncIterator[MCPServer]:
    """The named server, ready to run; its clients close when the block ends."""
    if name == "knowledge":
        from mcp_servers.knowledge import DocIndex, build_knowledge_server

        yield build_knowledge_server(DocIndex.from_repo(PROJECT_ROOT))
        return
    async with AsyncExitStack() as stack:
        urls = [settings.chain.rpc_url, *settings.chain.fallback_rpc_urls]
        reader = await stack.enter_async_context(ChainReader(urls, settings.chain.chain_id))
        if name == "chain":
            yield await _chain(settings, reader, stack)
            return
        for path in (settings.storage.outbox_path, settings.mcp_tools.files_ledger):
            path.parent.mkdir(parents=True, exist_ok=True)
        outbox = SqliteOutbox(settings.storage.outbox_path)
        await outbox.open()
        stack.push_async_callback(outbox.close)
        manager = await stack.enter_async_context(TransactionManager(reader, signer_for(settings), outbox))
        nodes = [StorageNodeClient(url) for url in settings.storage.node_urls]
        for node in nodes:
            stack.push_async_callback(node.close)
        uploader = Uploader(
            manager,
            await flow_address(settings, reader),
            nodes,
            max_file_bytes=settings.storage.max_file_bytes,
        )
        if name == "storage":
            settings.mcp_tools.files_dir.mkdir(parents=True, exist_ok=True)
            yield build_storage_server(
                StorageDeps(
                    uploader,
                    Downloader(nodes),
                    settings.mcp_tools.files_dir.resolve(),
                    settings.mcp_tools.files_ledger,
                )
            )
        elif name == "kv":
            client = KvClient(settings.storage.kv_url)
            stack.push_async_callback(client.close)
            yield build_kv_server(
                KvDeps(KvUploader(uploader), client, frozenset(settings.mcp_tools.kv_streams))
            )
        else:
            raise ValueError(f"unknown MCP server {name!r}; choose one of {', '.join(SERVERS)}")


async def _chain(settings: Settings, reader: ChainReader, stack: AsyncExitStack) -> MCPServer:
    server = build_chain_server(reader)
    try:
        signer = signer_for(settings)
    except SignerError as exc:
        # Without a key the server still reads; it simply offers no value-moving tools.
        log.warning("no signing key: the chain server is read-only", extra={"reason": exc.message})
        return server
    tools = settings.mcp_tools
    for path in (settings.storage.outbox_path, tools.handles_path, tools.spends_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    outbox = SqliteOutbox(settings.storage.outbox_path)
    await outbox.open()
    stack.push_async_callback(outbox.close)
    manager = await stack.enter_async_context(TransactionManager(reader, signer, outbox))
    # Replicas share the configured secret (stretched to an AES-256 key); alone, a random key will do.
    secret = tools.handle_key
    key = hashlib.sha256(secret.get_secret_value().encode()).digest() if secret else secrets.token_bytes(32)
    register_sending(
        server,
        SendingDeps(
            reader=reader,
            external=ExternalSender(reader, outbox),
            policy=policy_from(settings),
            handles=ConfirmationHandles(key),
            used_handles=SqliteHandleLedger(tools.handles_path),
            spends=SqliteSpendLedger(tools.spends_path),
            principal=lambda: _principal_for(settings),
            manager=manager,
        ),
    )
    return server
