"""The analytics store in one SQLite file: the embedded profile.

One connection per store, used by one worker thread at a time (a capacity limiter of one), so every
method is a single SQLite transaction that never blocks the event loop. Writes take the database lock
up front (BEGIN IMMEDIATE), which makes each check-then-insert below race-free, even against other
processes sharing the file. WAL with `synchronous=NORMAL`: a commit survives a crash of the process;
a power cut may lose the last few, which analytics can afford (the outbox, which cannot, syncs fully).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from voice_gateway.analytics.migrations import migrate_sqlite
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

_T = TypeVar("_T")

# STRICT tables (no silent type coercion) need 3.37.
_MIN_SQLITE = (3, 37, 0)
_USER = "SELECT 1 FROM users WHERE address = ?"
_SESSION_OF = "SELECT 1 FROM sessions WHERE address = ? AND session_id = ?"
_TURN_OF = "SELECT 1 FROM turns WHERE address = ? AND turn_id = ?"
# What export reads besides the user row: (columns, table, order), oldest first.
_EXPORTED = (
    (SESSION_COLUMNS, "sessions", "started_at, session_id"),
    (TURN_COLUMNS, "turns", "at, turn_id"),
    (TOOL_CALL_COLUMNS, "tool_calls", "at, id"),
    (TX_COLUMNS, "transactions", "at, chain_id, tx_hash"),
)


class SqliteAnalyticsStore:
    """An `AnalyticsStore` in a SQLite database file (created and migrated on `open()`)."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 10.0) -> None:
        """Prepare the store; nothing is opened until `open()`.

        Args:
            path: the database file (its directory must exist).
            busy_timeout_s: how long a write waits for another connection's transaction.
        """
        self.path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        # Held by the worker thread for every use of the connection and for closing it: a task
        # cancelled while its thread runs returns its limiter token at once, and closing the
        # connection under a running statement would crash the process.
        self._in_use = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteAnalyticsStore(path={str(self.path)!r})"

    async def open(self) -> None:
        """Open the file in WAL mode with foreign keys enforced, and apply pending migrations.

        Raises:
            AnalyticsUnavailable: the file cannot be opened, or its schema is newer than this code.
        """
        if self._conn is not None:
            return
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise AnalyticsUnavailable("unavailable", f"SQLite {sqlite3.sqlite_version} is older than 3.37")
        limiter = anyio.CapacityLimiter(1)
        try:
            self._conn = await anyio.to_thread.run_sync(self._connect, limiter=limiter)
        except sqlite3.Error as exc:
            raise AnalyticsUnavailable("unavailable", f"cannot open analytics at {self.path}: {exc}") from exc
        self._limiter = limiter

    async def close(self) -> None:
        """Close the connection once the call in progress, if any, has finished."""
        conn, limiter = self._conn, self._limiter
        self._conn = self._limiter = None
        if conn is not None and limiter is not None:
            await anyio.to_thread.run_sync(self._locked, conn.close, limiter=limiter)

    async def upsert_user(self, address: str, role: Role = "user") -> None:
        """Create the user, or set its role if it exists."""
        check_address(address)
        check_role(role)

        def run(conn: sqlite3.Connection) -> None:
            now = time.time()
            with _write(conn):
                conn.execute(
                    f"INSERT INTO users (address, role, created_at, updated_at) "
                    f"VALUES (?, ?, ?, ?) {USER_UPSERT}",
                    (address, role, now, now),
                )

        await self._call(run)

    async def start_session(self, session_id: str, address: str, at: float) -> None:
        """Open a session (see `AnalyticsStore.start_session`)."""
        check_id(session_id, "session id")
        check_address(address)
        started = check_time(at)

        def run(conn: sqlite3.Connection) -> None:
            with _write(conn):
                owner = conn.execute(
                    "SELECT address FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
                if owner is not None:
                    if owner[0] != address:
                        raise AnalyticsError(
                            "session_conflict", f"session {session_id} belongs to another user"
                        )
                    return
                if not _exists(conn, _USER, address):
                    raise AnalyticsError("unknown_user", f"no user {address}; upsert_user first")
                conn.execute(
                    "INSERT INTO sessions (session_id, address, started_at) VALUES (?, ?, ?)",
                    (session_id, address, started),
                )

        await self._call(run)

    async def end_session(self, session_id: str, at: float) -> None:
        """Close a session; the first end time is kept (see `AnalyticsStore.end_session`)."""
        check_id(session_id, "session id")
        ended = check_time(at)

        def run(conn: sqlite3.Connection) -> None:
            with _write(conn):
                row = conn.execute(
                    "SELECT started_at, ended_at FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
                if row is None:
                    raise AnalyticsError("unknown_session", f"no session {session_id}")
                if row["ended_at"] is not None:
                    return
                if ended < row["started_at"]:
                    raise AnalyticsError(
                        "invalid_number", f"session {session_id} cannot end before it started"
                    )
                conn.execute("UPDATE sessions SET ended_at = ? WHERE session_id = ?", (ended, session_id))

        await self._call(run)

    async def record_turn(self, turn: TurnRecord) -> None:
        """Store a turn (see `AnalyticsStore.record_turn`)."""
        latency = check_turn(turn)

        def run(conn: sqlite3.Connection) -> None:
            with _write(conn):
                if not _exists(conn, _SESSION_OF, turn.address, turn.session_id):
                    raise AnalyticsError(
                        "unknown_session", f"{turn.address} has no session {turn.session_id}"
                    )
                if _exists(conn, _TURN_OF, turn.address, turn.turn_id):
                    raise AnalyticsError("duplicate_turn", f"turn {turn.turn_id} of {turn.address} exists")
                conn.execute(
                    f"INSERT INTO turns ({TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    turn_values(turn, latency),
                )

        await self._call(run)

    async def record_tool_call(self, call: ToolCallRecord) -> None:
        """Store a tool call (see `AnalyticsStore.record_tool_call`)."""
        check_tool_call(call)

        def run(conn: sqlite3.Connection) -> None:
            with _write(conn):
                if not _exists(conn, _TURN_OF, call.address, call.turn_id):
                    raise AnalyticsError("unknown_turn", f"{call.address} has no turn {call.turn_id}")
                conn.execute(
                    f"INSERT INTO tool_calls ({TOOL_CALL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    tool_call_values(call),
                )

        await self._call(run)

    async def record_transaction(self, tx: TransactionRecord) -> None:
        """Store or update a transaction (see `AnalyticsStore.record_transaction`)."""
        check_transaction(tx)

        def run(conn: sqlite3.Connection) -> None:
            with _write(conn):
                if not _exists(conn, _USER, tx.address):
                    raise AnalyticsError("unknown_user", f"no user {tx.address}; upsert_user first")
                conn.execute(
                    f"INSERT INTO transactions ({TX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) {TX_UPSERT}",
                    tx_values(tx),
                )

        await self._call(run)

    async def record_audit(self, event: AuditEvent) -> None:
        """Append a security event."""
        detail = check_audit(event)

        def run(conn: sqlite3.Connection) -> None:
            with _write(conn):
                conn.execute(
                    f"INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    audit_values(event, detail),
                )

        await self._call(run)

    async def history(self, address: str, limit: int = 50, before: float | None = None) -> list[TurnRecord]:
        """The user's turns newest first (see `AnalyticsStore.history`)."""
        check_address(address)
        check_limit(limit)
        where = "address = ?"
        params: tuple[object, ...] = (address,)
        if before is not None:
            where += " AND at < ?"
            params += (check_time(before, "before"),)
        sql = f"SELECT {TURN_COLUMNS} FROM turns WHERE {where} ORDER BY at DESC, turn_id DESC LIMIT {limit}"

        def run(conn: sqlite3.Connection) -> list[TurnRecord]:
            return [turn_from_row(row) for row in conn.execute(sql, params)]

        return await self._call(run)

    async def export(self, address: str) -> dict[str, JsonValue]:
        """Everything stored about the user (see `AnalyticsStore.export`)."""
        check_address(address)

        def run(conn: sqlite3.Connection) -> dict[str, JsonValue]:
            with _read(conn):
                user = conn.execute(
                    f"SELECT {USER_COLUMNS} FROM users WHERE address = ?", (address,)
                ).fetchone()
                sessions, turns, calls, txs = [
                    conn.execute(
                        f"SELECT {columns} FROM {table} WHERE address = ? ORDER BY {order}", (address,)
                    ).fetchall()
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

        return await self._call(run)

    async def delete_user(self, address: str) -> dict[str, int]:
        """Erase the user's rows; audit events stay with the address nulled (see the Protocol)."""
        check_address(address)

        def run(conn: sqlite3.Connection) -> dict[str, int]:
            counts: dict[str, int] = {}
            with _write(conn):
                # Children first, so no foreign key ever points at a deleted row.
                for table in ("tool_calls", "turns", "sessions", "transactions"):
                    counts[table] = conn.execute(
                        f"DELETE FROM {table} WHERE address = ?", (address,)
                    ).rowcount
                # The security record stays; only its link to the person goes (SECURITY.md 7.5, 7.7).
                counts["audit_events"] = conn.execute(
                    "UPDATE audit_events SET address = NULL WHERE address = ?", (address,)
                ).rowcount
                counts["users"] = conn.execute("DELETE FROM users WHERE address = ?", (address,)).rowcount
            return counts

        return await self._call(run)

    async def audit_events(self, limit: int = 100, kind: str | None = None) -> list[AuditEvent]:
        """Recent security events, newest first (see `AnalyticsStore.audit_events`)."""
        check_limit(limit)
        where = ""
        params: tuple[str, ...] = ()
        if kind is not None:
            where, params = "WHERE kind = ?", (check_name(kind, "kind"),)
        sql = f"SELECT {AUDIT_COLUMNS} FROM audit_events {where} ORDER BY at DESC, id DESC LIMIT {limit}"

        def run(conn: sqlite3.Connection) -> list[AuditEvent]:
            return [audit_from_row(r) for r in conn.execute(sql, params)]

        return await self._call(run)

    async def applied_migrations(self) -> list[AppliedMigration]:
        """The schema migrations applied to this file, in version order."""

        def run(conn: sqlite3.Connection) -> list[AppliedMigration]:
            rows = conn.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
            return [AppliedMigration(int(r[0]), str(r[1]), float(r[2])) for r in rows]

        return await self._call(run)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so each method is exactly one
        # transaction. check_same_thread=False is safe: the limiter admits one thread at a time.
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            conn.row_factory = sqlite3.Row
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate_sqlite(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite answers "locked" at once
        # instead of calling the busy handler, so two stores opening a new file together would fail.
        # Retry for as long as a write would wait. (A no-op once the file is in WAL mode.)
        deadline = time.monotonic() + self._busy_timeout_s
        while True:
            try:
                row = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                break
            except sqlite3.OperationalError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)  # in the worker thread, never on the event loop
        if row is None or str(row[0]).lower() != "wal":
            raise AnalyticsUnavailable(
                "unavailable", f"cannot switch {self.path} to WAL (journal mode {row})"
            )

    def _locked(self, work: Callable[[], _T]) -> _T:
        with self._in_use:
            return work()

    async def _call(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        conn, limiter = self._conn, self._limiter
        if conn is None or limiter is None:
            raise AnalyticsUnavailable("not_open", f"{self!r} is not open (call open() first)")
        try:
            # Not abandoned on cancellation: a transaction, once started, runs to COMMIT or ROLLBACK.
            return await anyio.to_thread.run_sync(self._locked, lambda: fn(conn), limiter=limiter)
        except sqlite3.Error as exc:
            raise AnalyticsUnavailable("unavailable", f"analytics at {self.path}: {exc}") from exc


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction; IMMEDIATE takes the lock up front so two writers never deadlock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def _read(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction, so an export comes from a single snapshot."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def _exists(conn: sqlite3.Connection, sql: str, *params: object) -> bool:
    return conn.execute(sql, params).fetchone() is not None
