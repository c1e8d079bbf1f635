"""What the contract cannot see: each adapter's schema versioning and connection settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs; only connect/fetch/execute are used here
import pytest

from tests.support.processes import free_port
from zerog_client.tx.outbox import OutboxError
from zerog_client.tx.postgres_outbox import PostgresOutbox
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_sqlite_commits_are_durable(tmp_path: Path) -> None:
    outbox = SqliteOutbox(tmp_path / "o.db")
    await outbox.open()
    try:
        conn = outbox._conn  # the settings are per connection: only the adapter's own one tells
        assert conn is not None
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        await outbox.close()


async def test_sqlite_migrations_run_once_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    for _ in range(2):
        outbox = SqliteOutbox(path)
        await outbox.open()
        await outbox.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        conn.execute("INSERT INTO schema_version VALUES (99, 0)")
    conn.close()

    with pytest.raises(OutboxError, match="newer than this code"):
        await SqliteOutbox(path).open()


async def test_postgres_migrations_run_once_and_a_newer_schema_is_refused(postgres_dsn: str) -> None:
    for _ in range(2):
        outbox = PostgresOutbox(postgres_dsn, schema="versions")
        await outbox.open()
        await outbox.close()
    conn = await asyncpg.connect(postgres_dsn)
    try:
        assert [r["version"] for r in await conn.fetch("SELECT version FROM versions.schema_version")] == [1]
        await conn.execute("INSERT INTO versions.schema_version (version) VALUES (99)")
    finally:
        await conn.close()

    with pytest.raises(OutboxError, match="newer than this code"):
        await PostgresOutbox(postgres_dsn, schema="versions").open()


async def test_postgres_unreachable_is_an_outbox_error_without_the_password() -> None:
    outbox = PostgresOutbox(f"postgresql://zgv:s3cret@127.0.0.1:{free_port()}/none")
    with pytest.raises(OutboxError) as err:
        await outbox.open()
    assert err.value.retryable
    assert "s3cret" not in str(err.value)
    assert "s3cret" not in repr(outbox)


@pytest.mark.parametrize("schema", ["", "Upper", "a-b", 'x"; DROP TABLE t; --', "a" * 64])
def test_postgres_schema_names_are_plain_identifiers(schema: str) -> None:
    with pytest.raises(ValueError, match="schema"):
        PostgresOutbox("postgresql://127.0.0.1/x", schema=schema)
