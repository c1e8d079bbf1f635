"""A chain server with the sending tools over a fresh anvil, driven through the SDK's in-memory client,
with a clock the test moves by hand."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from mcp import Client

from mcp_servers import build_chain_server
from mcp_servers.chain_send import SendingDeps, register_sending
from mcp_servers.confirmations import ConfirmationHandles, InMemoryHandleLedger, InMemorySpendLedger
from mcp_servers.policy import AssetCaps, PolicyConfig
from zerog_client import ChainReader
from zerog_client.tx import LocalSigner, TransactionManager
from zerog_client.tx.external import ExternalSender
from zerog_client.tx.sqlite_outbox import SqliteOutbox

CHAIN_ID = 1_660_999
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil dev account 0
SENDER = Account.from_key(KEY).address
ONE = 10**18
PRINCIPAL = "local"
SECRET = bytes(range(32))


def recipient(i: int) -> str:
    return str(Account.from_key((i + 7).to_bytes(32, "big")).address)


def policy(**overrides: Any) -> PolicyConfig:
    fields: dict[str, Any] = {
        "chain_ids": frozenset({CHAIN_ID}),
        "native": AssetCaps(per_tx=ONE, per_24h=3 * ONE // 2),
        "max_fee_per_gas": 100 * 10**9,
        "max_total_fee": 10**17,
    }
    fields.update(overrides)
    return PolicyConfig(**fields)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    client: Client
    reader: ChainReader
    handles: ConfirmationHandles
    clock: Clock

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.client.call_tool(tool, arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return dict(result.structured_content)

    async def refused(self, tool: str, **arguments: Any) -> str:
        result = await self.client.call_tool(tool, arguments)
        assert result.is_error, result.content
        assert result.structured_content is not None, result.content
        return str(result.structured_content["error"]["code"])

    async def nonce(self) -> int:
        return await self.reader.transaction_count(SENDER, "pending")


@contextlib.asynccontextmanager
async def rig(
    reader: ChainReader, outbox: SqliteOutbox, config: PolicyConfig, *, custodial: bool = True
) -> AsyncIterator[Rig]:
    clock = Clock()
    handles = ConfirmationHandles(SECRET, ttl_s=120, clock=clock)
    manager = TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) if custodial else None
    deps = SendingDeps(
        reader=reader,
        external=ExternalSender(reader, outbox),
        policy=config,
        handles=handles,
        used_handles=InMemoryHandleLedger(clock),
        spends=InMemorySpendLedger(),
        principal=lambda: PRINCIPAL,
        manager=manager,
        wallet=None if custodial else SENDER,
        clock=clock,
    )
    server = build_chain_server(reader)
    register_sending(server, deps)
    async with contextlib.AsyncExitStack() as stack:
        if manager is not None:
            await stack.enter_async_context(manager)
        client = await stack.enter_async_context(Client(server))
        yield Rig(client, reader, handles, clock)
