"""A two-column SQLite table (text key -> bytes), one connection per operation in a worker thread:
the embedded adapters of the key store and the profile blobs."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio

_T = TypeVar("_T")


class SqliteTable:
    """`name` (k TEXT PRIMARY KEY, v BLOB) in the file at `path`, created on first use."""

    def __init__(self, path: str | Path, name: str) -> None:
        if not name.isidentifier():
            raise ValueError("a table name is an identifier")
        self._path = str(path)
        self._name = name
        self._lock = threading.Lock()
        self._ready = False

    async def get(self, key: str) -> bytes | None:
        """The value at `key`, or None."""
        row = await self._run(
            lambda c: c.execute(f"SELECT v FROM {self._name} WHERE k = ?", (key,)).fetchone()
        )
        return bytes(row[0]) if row else None

    async def put(self, key: str, value: bytes) -> None:
        """Store or replace."""
        await self._run(
            lambda c: c.execute(f"INSERT OR REPLACE INTO {self._name} (k, v) VALUES (?, ?)", (key, value))
        )

    async def put_if_absent(self, key: str, value: bytes) -> bytes:
        """Store unless present; the stored value either way (racing writers agree on one)."""

        def run(conn: sqlite3.Connection) -> bytes:
            conn.execute(f"INSERT OR IGNORE INTO {self._name} (k, v) VALUES (?, ?)", (key, value))
            return bytes(conn.execute(f"SELECT v FROM {self._name} WHERE k = ?", (key,)).fetchone()[0])

        return await self._run(run)

    async def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""
        return await self._run(
            lambda c: c.execute(f"DELETE FROM {self._name} WHERE k = ?", (key,)).rowcount > 0
        )

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        def run() -> _T:
            conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None)
            try:
                with self._lock:
                    if not self._ready:
                        conn.execute(
                            f"CREATE TABLE IF NOT EXISTS {self._name} (k TEXT PRIMARY KEY, v BLOB NOT NULL)"
                        )
                        self._ready = True
                return work(conn)
            finally:
                conn.close()

        return await anyio.to_thread.run_sync(run)
