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
from mcp_servers.confirmations import ConfirmationHandles
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
from zerog_client.tx.outbox import Outbox
from zerog_client.tx.signer import SignerError
from zgvoice.settings import PROJECT_ROOT, Settings
from zgvoice.storage_cli import flow_address, signer_for
from zgvoice.stores import open_ledgers, open_outbox

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


class ServerParts:
    """The clients our servers need, opened once per process and shared: one chain reader, and one
    outbox and transaction manager per sender, so two servers in one process never race for the
    same account's nonces. Close with `aclose` (or use as an async context manager)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack = AsyncExitStack()
        self._reader: ChainReader | None = None
        self._outbox: Outbox | None = None
        self._manager: TransactionManager | None = None

    async def __aenter__(self) -> ServerParts:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close everything opened."""
        await self._stack.aclose()

    @property
    def stack(self) -> AsyncExitStack:
        return self._stack

    async def reader(self) -> ChainReader:
        if self._reader is None:
            urls = [self.settings.chain.rpc_url, *self.settings.chain.fallback_rpc_urls]
            self._reader = await self._stack.enter_async_context(
                ChainReader(urls, self.settings.chain.chain_id)
            )
        return self._reader

    async def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = await open_outbox(self.settings, self._stack)
        return self._outbox

    async def manager(self) -> TransactionManager:
        """The sending account's manager.

        Raises:
            SignerError: no usable key is configured.
        """
        if self._manager is None:
            signer = signer_for(self.settings)
            manager = TransactionManager(await self.reader(), signer, await self.outbox())
            self._manager = await self._stack.enter_async_context(manager)
        return self._manager


@asynccontextmanager
async def built_server(
    settings: Settings, name: str, parts: ServerParts | None = None
) -> AsyncIterator[MCPServer]:
    """The named server, ready to run; its clients close when the block ends (or with `parts`,
    which servers built in one process share)."""
    if name == "knowledge":
        from mcp_servers.knowledge import DocIndex, build_knowledge_server

        yield build_knowledge_server(DocIndex.from_repo(PROJECT_ROOT))
        return
    async with AsyncExitStack() as stack:
        if parts is None:
            parts = await stack.enter_async_context(ServerParts(settings))
        yield await _build(settings, name, parts)


async def _build(settings: Settings, name: str, parts: ServerParts) -> MCPServer:
    reader = await parts.reader()
    if name == "chain":
        return await _chain(settings, reader, parts)
    if name not in SERVERS:
        raise ValueError(f"unknown MCP server {name!r}; choose one of {', '.join(SERVERS)}")
    settings.mcp_tools.files_ledger.parent.mkdir(parents=True, exist_ok=True)
    manager = await parts.manager()
    nodes = [StorageNodeClient(url) for url in settings.storage.node_urls]
    for node in nodes:
        parts.stack.push_async_callback(node.close)
    uploader = Uploader(
        manager,
        await flow_address(settings, reader),
        nodes,
        max_file_bytes=settings.storage.max_file_bytes,
    )
    if name == "storage":
        settings.mcp_tools.files_dir.mkdir(parents=True, exist_ok=True)
        return build_storage_server(
            StorageDeps(
                uploader,
                Downloader(nodes),
                settings.mcp_tools.files_dir.resolve(),
                settings.mcp_tools.files_ledger,
            )
        )
    client = KvClient(settings.storage.kv_url)
    parts.stack.push_async_callback(client.close)
    return build_kv_server(KvDeps(KvUploader(uploader), client, frozenset(settings.mcp_tools.kv_streams)))


async def _chain(settings: Settings, reader: ChainReader, parts: ServerParts) -> MCPServer:
    server = build_chain_server(reader)
    try:
        manager = await parts.manager()
    except SignerError as exc:
        # Without a key the server still reads; it simply offers no value-moving tools.
        log.warning("no signing key: the chain server is read-only", extra={"reason": exc.message})
        return server
    tools = settings.mcp_tools
    outbox = await parts.outbox()
    used_handles, spends = await open_ledgers(settings, parts.stack)
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
            used_handles=used_handles,
            spends=spends,
            principal=lambda: _principal_for(settings),
            manager=manager,
        ),
    )
    return server
