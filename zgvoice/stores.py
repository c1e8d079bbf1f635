"""The stores each profile uses, opened into an exit stack: SQLite files on the embedded profile,
PostgreSQL and Redis on the cluster one. Callers see only the interfaces."""

from __future__ import annotations

from contextlib import AsyncExitStack

from mcp_servers.confirmations import HandleLedger, SpendLedger, SqliteHandleLedger, SqliteSpendLedger
from zerog_client.tx.outbox import Outbox
from zerog_client.tx.sqlite_outbox import SqliteOutbox
from zgvoice.settings import Settings


def _postgres_dsn(settings: Settings) -> str:
    dsn = settings.cluster.postgres_dsn
    if dsn is None:  # the settings validator already demands it on the cluster profile
        raise ValueError("ZGV_CLUSTER__POSTGRES_DSN is not set")
    return dsn.get_secret_value()


async def open_outbox(settings: Settings, stack: AsyncExitStack) -> Outbox:
    """The transaction outbox, open until `stack` closes."""
    outbox: Outbox
    if settings.profile == "cluster":
        from zerog_client.tx.postgres_outbox import PostgresOutbox

        outbox = PostgresOutbox(_postgres_dsn(settings), schema=settings.cluster.postgres_schema)
    else:
        settings.storage.outbox_path.parent.mkdir(parents=True, exist_ok=True)
        outbox = SqliteOutbox(settings.storage.outbox_path)
    await outbox.open()
    stack.push_async_callback(outbox.close)
    return outbox


async def open_ledgers(settings: Settings, stack: AsyncExitStack) -> tuple[HandleLedger, SpendLedger]:
    """The used-handle and spending ledgers of the sending tools, open until `stack` closes."""
    if settings.profile == "cluster":
        from mcp_servers.cluster_ledgers import PostgresSpendLedger, RedisHandleLedger

        assert settings.cluster.redis_url is not None  # the settings validator demands it
        # One key per deployment (schema), so deployments sharing a Redis never share handles.
        key = f"zgv:{settings.cluster.postgres_schema}:mcp:used-handles"
        handles = RedisHandleLedger(settings.cluster.redis_url, key=key)
        stack.push_async_callback(handles.close)
        spends = PostgresSpendLedger(_postgres_dsn(settings), schema=settings.cluster.postgres_schema)
        await spends.open()
        stack.push_async_callback(spends.close)
        return handles, spends
    tools = settings.mcp_tools
    for path in (tools.handles_path, tools.spends_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHandleLedger(tools.handles_path), SqliteSpendLedger(tools.spends_path)
