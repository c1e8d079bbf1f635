"""The cluster profile's ledgers: used confirmation handles in Redis, spending in PostgreSQL.

Replicas on different hosts share these, so a handle is redeemed once across the whole deployment
and the 24 h caps count every replica's sends. Both honour the injected clock exactly as the SQLite
adapters do, so one contract suite covers all of them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

# asyncpg ships no type information; its objects stay inside this module.
import asyncpg  # type: ignore[import-untyped]
from redis.asyncio import Redis

from mcp_servers.confirmations import PURGE_GRACE_S, asset_key, check_spend

# One sorted set of used handle ids scored by expiry. The purge, the membership test and the insert
# run as one script, which Redis executes atomically: of any number of racing replicas, one wins.
_USE_ONCE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
return 1
"""
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class RedisHandleLedger:
    """Used handle ids in Redis, shared by every replica that redeems handles.

    Args:
        url: e.g. `redis://127.0.0.1:6379/0`.
        key: the sorted set's name; replicas of one deployment share it.
        clock: seconds since the epoch (injected by tests).
    """

    def __init__(
        self, url: str, key: str = "zgv:mcp:used-handles", clock: Callable[[], float] = time.time
    ) -> None:
        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._key = key
        self._clock = clock
        self._script: Any = self._redis.register_script(_USE_ONCE)

    async def use_once(self, handle_id: str, expires_at: float) -> bool:
        """Record `handle_id`; True only for the first caller across every replica."""
        horizon = self._clock() - PURGE_GRACE_S
        won = await self._script(keys=[self._key], args=[repr(horizon), handle_id, repr(expires_at)])
        return int(won) == 1

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


class PostgresSpendLedger:
    """Spending in PostgreSQL, shared by every replica. Amounts are NUMERIC(78, 0): any uint256.

    Args:
        dsn: a PostgreSQL URL.
        schema: the schema holding the table (created if missing), so deployments and tests can
            share a database.
    """

    def __init__(self, dsn: str, schema: str = "zgv_mcp", max_connections: int = 4) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError("a schema name is lower-case letters, digits and underscores")
        self._dsn = dsn
        self._schema = schema
        self._max = max_connections
        self._pool: Any = None

    async def open(self) -> None:
        """Connect and create the table if needed."""
        pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self._max)
        s = f'"{self._schema}"'
        async with pool.acquire() as conn, conn.transaction():
            # Serialise first-time creation between replicas starting together.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._schema + ".spends")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {s}.spends (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    principal TEXT COLLATE "C" NOT NULL,
                    asset TEXT COLLATE "C" NOT NULL,
                    amount NUMERIC(78, 0) NOT NULL CHECK (amount >= 0),
                    at DOUBLE PRECISION NOT NULL
                )"""
            )
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS spends_by_principal ON {s}.spends (principal, asset, at)"
            )
        self._pool = pool

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def record(self, principal: str, asset: str, amount: int, at: float) -> None:
        """Record a sent amount."""
        check_spend(principal, asset, amount)
        await self._ready().execute(
            f'INSERT INTO "{self._schema}".spends (principal, asset, amount, at) VALUES ($1, $2, $3, $4)',
            principal,
            asset_key(asset),
            Decimal(amount),
            at,
        )

    async def spent_since(self, principal: str, asset: str, since: float) -> int:
        """Total sent at or after `since`."""
        total = await self._ready().fetchval(
            f'SELECT COALESCE(SUM(amount), 0) FROM "{self._schema}".spends '
            "WHERE principal = $1 AND asset = $2 AND at >= $3",
            principal,
            asset_key(asset),
            since,
        )
        return int(total)

    def _ready(self) -> Any:
        if self._pool is None:
            raise RuntimeError("open() the spend ledger first")
        return self._pool
