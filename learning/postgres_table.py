"""A two-column PostgreSQL table (text key -> bytes) shared by every replica: the cluster adapters of
the key store and the profile blobs. One replica destroying a user's key destroys it for all.

`open()` creates the schema and table if needed (serialised between replicas starting together)
and `close()` ends the pool; the embedded twin is `SqliteTable`.
"""

from __future__ import annotations

import re
from typing import Any

# asyncpg ships no type information; its objects stay inside this module.
import asyncpg  # type: ignore[import-untyped]

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresTable:
    """`schema.name` (k TEXT PRIMARY KEY, v BYTEA) on the server at `dsn`.

    Raises:
        ValueError: a schema or table name that is not a plain lower-case identifier.
    """

    def __init__(self, dsn: str, schema: str, name: str, max_connections: int = 4) -> None:
        if not (_IDENTIFIER.fullmatch(schema) and _IDENTIFIER.fullmatch(name)):
            raise ValueError("schema and table names are lower-case letters, digits and underscores")
        self._dsn = dsn
        self._table = f'"{schema}"."{name}"'
        self._schema = schema
        self._name = name
        self._max = max_connections
        self._pool: Any = None

    async def open(self) -> None:
        """Connect, and create the schema and table if they are missing."""
        pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self._max)
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1))", f"{self._schema}.{self._name}"
                )
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                columns = '(k TEXT COLLATE "C" PRIMARY KEY, v BYTEA NOT NULL)'
                await conn.execute(f"CREATE TABLE IF NOT EXISTS {self._table} {columns}")
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def get(self, key: str) -> bytes | None:
        """The value at `key`, or None."""
        value = await self._ready().fetchval(f"SELECT v FROM {self._table} WHERE k = $1", key)
        return None if value is None else bytes(value)

    async def put(self, key: str, value: bytes) -> None:
        """Store or replace."""
        await self._ready().execute(
            f"INSERT INTO {self._table} (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
            key,
            value,
        )

    async def put_if_absent(self, key: str, value: bytes) -> bytes:
        """Store unless present; the stored value either way (racing replicas agree on one)."""
        pool = self._ready()
        await pool.execute(
            f"INSERT INTO {self._table} (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING", key, value
        )
        stored = await pool.fetchval(f"SELECT v FROM {self._table} WHERE k = $1", key)
        return bytes(stored)

    async def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""
        status = await self._ready().execute(f"DELETE FROM {self._table} WHERE k = $1", key)
        return str(status) != "DELETE 0"

    def _ready(self) -> Any:
        if self._pool is None:
            raise RuntimeError("open() the table first")
        return self._pool
