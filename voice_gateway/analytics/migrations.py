"""Versioned schema migrations of the analytics store, one SQL file per version and dialect.

The files live in `migrations/<dialect>/NNNN_name.sql` inside this package (package data, read with
importlib.resources, so an installed wheel migrates like a checkout). Versions start at 1 and have no
gaps; a shipped file is never edited, a change is a new file. Each database records what it applied in
`schema_migrations(version, name, applied_at)`, and every pending migration is applied, with its
record, in the same transaction as the check that found it pending.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, TypeAlias

from voice_gateway.analytics.store import AnalyticsUnavailable

Dialect: TypeAlias = Literal["sqlite", "postgres"]

_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
_LINE_COMMENT = re.compile(r"--[^\n]*")

_SQLITE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL) STRICT"
)
_POSTGRES_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: its version, short name and SQL script."""

    version: int
    name: str
    sql: str


@functools.cache
def load_migrations(dialect: Dialect) -> tuple[Migration, ...]:
    """The shipped migrations of `dialect`, in version order.

    Raises:
        AnalyticsUnavailable: a file is misnamed or versions have a gap (a packaging mistake).
    """
    folder = resources.files(__package__ or "voice_gateway.analytics") / "migrations" / dialect
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise AnalyticsUnavailable(
                "migration_mismatch", f"unexpected file in migrations/{dialect}: {entry.name}"
            )
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise AnalyticsUnavailable(
            "migration_mismatch", f"migrations/{dialect} must be numbered 1, 2, 3... without gaps"
        )
    return tuple(found)


def pending_migrations(shipped: tuple[Migration, ...], applied: dict[int, str]) -> list[Migration]:
    """The shipped migrations not in `applied` (version to name, as stored in the database).

    Raises:
        AnalyticsUnavailable: schema_too_new if the database has versions this code does not ship
            (a newer release migrated it; running old code on it could corrupt data), or
            migration_mismatch if an applied version carries another name (a shipped file was
            renumbered).
    """
    known = {m.version: m for m in shipped}
    newer = sorted(v for v in applied if v not in known)
    if newer:
        raise AnalyticsUnavailable(
            "schema_too_new",
            f"the analytics schema has migration {newer[-1]}; this code knows up to {len(shipped)}",
        )
    for version, name in applied.items():
        if known[version].name != name:
            raise AnalyticsUnavailable(
                "migration_mismatch",
                f"migration {version} is {name!r} in the database but {known[version].name!r} in the code",
            )
    return [m for m in shipped if m.version not in applied]


def sqlite_statements(script: str) -> list[str]:
    """A migration script split into statements (`executescript` would commit our transaction).

    Raises:
        AnalyticsUnavailable: the script ends with an incomplete statement.
    """
    statements: list[str] = []
    current = ""
    # Split on every ";" and glue pieces back until SQLite says the statement is complete, so a ";"
    # inside a string literal or a trigger body does not end a statement.
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if _LINE_COMMENT.sub("", current).strip() not in ("", ";"):
                statements.append(current.strip())
            current = ""
    # The text after the last ";" got an extra ";" above: only comments or blanks may be there.
    if _LINE_COMMENT.sub("", current[:-1]).strip():
        raise AnalyticsUnavailable(
            "migration_mismatch", f"incomplete SQL statement at the end: {current:.80}"
        )
    return statements


def migrate_sqlite(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations on a connection in autocommit mode (call it off the event loop).

    BEGIN IMMEDIATE takes the write lock first, so of two processes opening a new file together one
    applies the migrations and the other then finds nothing pending.

    Returns:
        The versions applied now.
    """
    shipped = load_migrations("sqlite")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_SQLITE_TABLE)
        applied = {int(v): str(n) for v, n in conn.execute("SELECT version, name FROM schema_migrations")}
        todo = pending_migrations(shipped, applied)
        for migration in todo:
            for statement in sqlite_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return [m.version for m in todo]


async def migrate_postgres(conn: Any, schema: str, shipped: tuple[Migration, ...]) -> list[int]:
    """Apply pending migrations in `schema` (created if missing) on an asyncpg connection.

    Everything runs in one transaction holding a transaction-scoped advisory lock keyed by the schema,
    so replicas starting together take turns: the first applies, the others wait and find nothing
    pending. The scripts name no schema; `SET LOCAL search_path` puts their tables in `schema`.

    Args:
        conn: an asyncpg connection outside any transaction (asyncpg has no type information).
        schema: a plain lower-case identifier, already validated by the caller.
        shipped: `load_migrations("postgres")`, loaded by the caller off the event loop.

    Returns:
        The versions applied now.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(schema))
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(_POSTGRES_TABLE)
        rows = await conn.fetch("SELECT version, name FROM schema_migrations")
        todo = pending_migrations(shipped, {int(r["version"]): str(r["name"]) for r in rows})
        for migration in todo:
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
    return [m.version for m in todo]


def advisory_key(schema: str) -> int:
    """A signed 64-bit advisory lock key for migrating `schema`, the same in every process."""
    digest = hashlib.blake2b(f"voice_gateway.analytics:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
