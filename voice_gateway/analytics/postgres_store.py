"""The analytics store in PostgreSQL: the cluster profile.

Replicas of the gateway share one schema. Its tables come from the versioned scripts in
`migrations/postgres`, applied on `open()` under an advisory lock (see `migrations.migrate_postgres`).
Integrity is left to the database: foreign keys on (address, id) pairs keep every row under its own
user, and their violations become `AnalyticsError` codes, so no check-then-insert can race.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread

# asyncpg ships no type information; its objects stay inside this module and every value read from
# them is converted to a typed one before it leaves.
import asyncpg  # type: ignore[import-untyped]

from voice_gateway.analytics.migrations import load_migrations, migrate_postgres
from voice_gateway.analytics.rows import (
    AUDIT_COLUMNS,
    SESSION_COLUMNS,
    TOOL_CALL_COLUMNS,
    TURN_COLUMNS,
    TX_COLUMNS,
    TX_UPSERT,
    USER_COLUMNS,
    USER_UPSERT,
    audit_from_row,
    audit_values,
    export_document,
    session_from_row,
    tool_call_from_row,
    tool_call_values,
    transaction_from_row,
    turn_from_row,
    turn_values,
    tx_values,
    user_from_row,
)
from voice_gateway.analytics.store import (
    AnalyticsError,
    AnalyticsUnavailable,
    AppliedMigration,
    AuditEvent,
    JsonValue,
    Role,
    ToolCallRecord,
    TransactionRecord,
    TurnRecord,
)
from voice_gateway.analytics.validation import (
    check_address,
    check_audit,
    check_id,
    check_limit,
    check_name,
    check_role,
    check_time,
    check_tool_call,
    check_transaction,
    check_turn,
)

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# What export reads besides the user row: (columns, table, order), oldest first.
_EXPORTED = (
    (SESSION_COLUMNS, "sessions", "started_at, session_id"),
    (TURN_COLUMNS, "turns", "at, turn_id"),
    (TOOL_CALL_COLUMNS, "tool_calls", "at, id"),
    (TX_COLUMNS, "transactions", "at, chain_id, tx_hash"),
)

# Connection-level failures: the store is unavailable, and the caller may retry.
_UNAVAILABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class PostgresAnalyticsStore:
    """An `AnalyticsStore` in one schema of a PostgreSQL database (created and migrated on `open()`)."""

    def __init__(
        self, dsn: str, schema: str = "zgv", max_connections: int = 4, *, command_timeout_s: float = 30.0
    ) -> None:
        """Prepare the store; nothing is connected until `open()`.

        Args:
            dsn: a libpq-style URL, e.g. `postgresql://user@host:5432/db`.
            schema: the schema holding the tables (lower-case identifier; created if missing), so
                deployments and tests can share a database.
            max_connections: the most connections the pool opens.
            command_timeout_s: the longest a single statement may take.

        Raises:
            ValueError: `schema` is not a plain lower-case identifier.
        """
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema must match {_SCHEMA_NAME.pattern}, got {schema!r}")
        self.schema = schema
        self._dsn = dsn
        self._max = max_connections
        self._command_timeout_s = command_timeout_s
        self._pool: Any = None
        self._s = f'"{schema}"'

    def __repr__(self) -> str:
        # The DSN may hold a password: never shown.
        return f"PostgresAnalyticsStore(schema={self.schema!r})"

    async def open(self) -> None:
        """Connect the pool and apply pending migrations under an advisory lock.

        Raises:
            AnalyticsUnavailable: the server is unreachable, or the schema is newer than this code.
        """
        if self._pool is not None:
            return
        shipped = await anyio.to_thread.run_sync(load_migrations, "postgres")
        try:
            pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._max,
                command_timeout=self._command_timeout_s,
                server_settings={"application_name": "voice_gateway.analytics"},
            )
        except _UNAVAILABLE as exc:
            raise AnalyticsUnavailable("unavailable", f"cannot connect {self!r}: {exc}") from exc
        try:
            async with pool.acquire() as conn:
                await migrate_postgres(conn, self.schema, shipped)
        except _UNAVAILABLE as exc:
            await pool.close()
            raise AnalyticsUnavailable("unavailable", f"cannot migrate {self!r}: {exc}") from exc
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        """Close the pool, waiting for the calls in progress."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def upsert_user(self, address: str, role: Role = "user") -> None:
        """Create the user, or set its role if it exists."""
        check_address(address)
        check_role(role)
        now = time.time()
        async with self._connection() as conn:
            await conn.execute(
                f"INSERT INTO {self._s}.users (address, role, created_at, updated_at) "
                f"VALUES ($1, $2, $3, $3) {USER_UPSERT}",
                address,
                role,
                now,
            )

    async def start_session(self, session_id: str, address: str, at: float) -> None:
        """Open a session (see `AnalyticsStore.start_session`)."""
        check_id(session_id, "session id")
        check_address(address)
        started = check_time(at)
        async with self._transaction() as conn:
            try:
                inserted = await conn.fetchval(
                    f"INSERT INTO {self._s}.sessions (session_id, address, started_at) VALUES ($1, $2, $3) "
                    "ON CONFLICT (session_id) DO NOTHING RETURNING 1",
                    session_id,
                    address,
                    started,
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise AnalyticsError("unknown_user", f"no user {address}; upsert_user first") from exc
            if inserted is None:
                owner = await conn.fetchval(
                    f"SELECT address FROM {self._s}.sessions WHERE session_id = $1", session_id
                )
                if owner != address:
                    raise AnalyticsError("session_conflict", f"session {session_id} belongs to another user")

    async def end_session(self, session_id: str, at: float) -> None:
        """Close a session; the first end time is kept (see `AnalyticsStore.end_session`)."""
        check_id(session_id, "session id")
        ended = check_time(at)
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                f"SELECT started_at, ended_at FROM {self._s}.sessions WHERE session_id = $1 FOR UPDATE",
                session_id,
            )
            if row is None:
                raise AnalyticsError("unknown_session", f"no session {session_id}")
            if row["ended_at"] is not None:
                return
            if ended < float(row["started_at"]):
                raise AnalyticsError("invalid_number", f"session {session_id} cannot end before it started")
            await conn.execute(
                f"UPDATE {self._s}.sessions SET ended_at = $1 WHERE session_id = $2", ended, session_id
            )

    async def record_turn(self, turn: TurnRecord) -> None:
        """Store a turn (see `AnalyticsStore.record_turn`)."""
        latency = check_turn(turn)
        async with self._connection() as conn:
            try:
                await conn.execute(
                    f"INSERT INTO {self._s}.turns ({TURN_COLUMNS}) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
                    *turn_values(turn, latency),
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise AnalyticsError(
                    "unknown_session", f"{turn.address} has no session {turn.session_id}"
                ) from exc
            except asyncpg.UniqueViolationError as exc:
                raise AnalyticsError(
                    "duplicate_turn", f"turn {turn.turn_id} of {turn.address} exists"
                ) from exc

    async def record_tool_call(self, call: ToolCallRecord) -> None:
        """Store a tool call (see `AnalyticsStore.record_tool_call`)."""
        check_tool_call(call)
        async with self._connection() as conn:
            try:
                await conn.execute(
                    f"INSERT INTO {self._s}.tool_calls ({TOOL_CALL_COLUMNS}) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    *tool_call_values(call),
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise AnalyticsError("unknown_turn", f"{call.address} has no turn {call.turn_id}") from exc

    async def record_transaction(self, tx: TransactionRecord) -> None:
        """Store or update a transaction (see `AnalyticsStore.record_transaction`)."""
        check_transaction(tx)
        async with self._connection() as conn:
            try:
                await conn.execute(
                    f"INSERT INTO {self._s}.transactions ({TX_COLUMNS}) "
                    f"VALUES ($1, $2, $3, $4, $5::numeric, $6, $7) {TX_UPSERT}",
                    *tx_values(tx),
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise AnalyticsError("unknown_user", f"no user {tx.address}; upsert_user first") from exc

    async def record_audit(self, event: AuditEvent) -> None:
        """Append a security event."""
        detail = check_audit(event)
        async with self._connection() as conn:
            await conn.execute(
                f"INSERT INTO {self._s}.audit_events ({AUDIT_COLUMNS}) "
                "VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
                *audit_values(event, detail),
            )

    async def history(self, address: str, limit: int = 50, before: float | None = None) -> list[TurnRecord]:
        """The user's turns newest first (see `AnalyticsStore.history`)."""
        check_address(address)
        check_limit(limit)
        # Two statements rather than "$3 IS NULL OR at < $3", which hides the range from the planner.
        where = "address = $1"
        args: list[object] = [address, limit]
        if before is not None:
            where += " AND at < $3"
            args.append(check_time(before, "before"))
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT {TURN_COLUMNS} FROM {self._s}.turns WHERE {where} "
                "ORDER BY at DESC, turn_id DESC LIMIT $2",
                *args,
            )
        return [turn_from_row(r) for r in rows]

    async def export(self, address: str) -> dict[str, JsonValue]:
        """Everything stored about the user (see `AnalyticsStore.export`)."""
        check_address(address)
        s = self._s
        # One snapshot for all tables, taken without blocking writers.
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            user = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM {s}.users WHERE address = $1", address)
            sessions, turns, calls, txs = [
                await conn.fetch(
                    f"SELECT {columns} FROM {s}.{table} WHERE address = $1 ORDER BY {order}", address
                )
                for columns, table, order in _EXPORTED
            ]
        return export_document(
            address,
            None if user is None else user_from_row(user),
            [session_from_row(r) for r in sessions],
            [turn_from_row(r) for r in turns],
            [tool_call_from_row(r) for r in calls],
            [transaction_from_row(r) for r in txs],
        )

    async def delete_user(self, address: str) -> dict[str, int]:
        """Erase the user's rows; audit events stay with the address nulled (see the Protocol)."""
        check_address(address)
        s = self._s
        counts: dict[str, int] = {}
        async with self._transaction() as conn:
            # Lock the parents first, top down. An insert of a child takes a key-share lock on its
            # parent row, which waits for these: a turn or session written concurrently either
            # commits before (and is deleted below) or waits and then fails on its foreign key.
            for table in ("users", "sessions", "turns"):
                await conn.execute(f"SELECT 1 FROM {s}.{table} WHERE address = $1 FOR UPDATE", address)
            # Children first, so no foreign key ever points at a deleted row.
            for table in ("tool_calls", "turns", "sessions", "transactions"):
                counts[table] = _count(
                    await conn.execute(f"DELETE FROM {s}.{table} WHERE address = $1", address)
                )
            # The security record stays; only its link to the person goes (SECURITY.md 7.5, 7.7).
            counts["audit_events"] = _count(
                await conn.execute(f"UPDATE {s}.audit_events SET address = NULL WHERE address = $1", address)
            )
            counts["users"] = _count(await conn.execute(f"DELETE FROM {s}.users WHERE address = $1", address))
        return counts

    async def audit_events(self, limit: int = 100, kind: str | None = None) -> list[AuditEvent]:
        """Recent security events, newest first (see `AnalyticsStore.audit_events`)."""
        check_limit(limit)
        where = ""
        args: list[object] = [limit]
        if kind is not None:
            where = "WHERE kind = $2"
            args.append(check_name(kind, "kind"))
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT {AUDIT_COLUMNS} FROM {self._s}.audit_events {where} "
                "ORDER BY at DESC, id DESC LIMIT $1",
                *args,
            )
        return [audit_from_row(r) for r in rows]

    async def applied_migrations(self) -> list[AppliedMigration]:
        """The schema migrations applied to this schema, in version order."""
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT version, name, extract(epoch FROM applied_at)::float8 AS applied_at "
                f"FROM {self._s}.schema_migrations ORDER BY version"
            )
        return [AppliedMigration(int(r["version"]), str(r["name"]), float(r["applied_at"])) for r in rows]

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        pool = self._pool
        if pool is None:
            raise AnalyticsUnavailable("not_open", f"{self!r} is not open (call open() first)")
        try:
            async with pool.acquire() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise AnalyticsUnavailable("unavailable", f"analytics {self.schema}: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        async with self._connection() as conn, conn.transaction():
            yield conn


def _count(status: object) -> int:
    # asyncpg returns the command tag, e.g. "DELETE 3" or "UPDATE 1".
    return int(str(status).rsplit(" ", 1)[-1])
