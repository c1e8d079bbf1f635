"""The outbox in one SQLite file: the embedded profile's durable record of every transaction.

One connection per adapter, used by one worker thread at a time (a capacity limiter of one), so each
method runs as a single SQLite transaction without blocking the event loop. Durability comes first:
WAL with `synchronous=FULL` makes every commit survive a power cut, not only a process crash, since
an intent acknowledged here may already be on its way to the chain.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from zerog_client.tx.outbox import NonceConflict, OutboxError
from zerog_client.tx.outbox_rules import (
    ATTEMPT_COLUMNS,
    INTENT_COLUMNS,
    OPEN_STATUSES,
    STATUS_COLUMNS,
    IntentNotFound,
    InvalidTransition,
    StatusFields,
    attempt_from_row,
    check_attempt,
    check_new,
    new_record,
    next_status,
    next_statuses,
    record_from_row,
    status_from_row,
)
from zerog_client.tx.records import NewTx, TxAttempt, TxRecord, TxStatus

_T = TypeVar("_T")

# STRICT tables (no silent type coercion) need 3.37; RETURNING-free SQL keeps the rest portable.
_MIN_SQLITE = (3, 37, 0)
# Keeps each IN (...) list far below SQLite's bound-parameter limit whatever the batch size.
_CHUNK = 500

_STATUS_LIST = ", ".join(f"'{s.value}'" for s in TxStatus)
_OPEN_LIST = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)

# Each migration is a list of statements run in one transaction; append, never edit a shipped one.
# uint256 amounts are decimal TEXT: SQLite integers stop at 2**63 - 1.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""
        CREATE TABLE intents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            idempotency_key TEXT NOT NULL UNIQUE,
            chain_id INTEGER NOT NULL,
            sender TEXT NOT NULL,
            nonce INTEGER NOT NULL CHECK (nonce >= 0),
            to_address TEXT,
            value TEXT NOT NULL,
            data BLOB NOT NULL,
            gas_limit INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ({_STATUS_LIST})),
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            mined_tx_hash TEXT,
            mined_block_number INTEGER,
            mined_block_hash TEXT,
            error TEXT,
            UNIQUE (chain_id, sender, nonce)
        ) STRICT
        """,
        # Recovery scans only the open intents; a partial index stays small as history grows.
        f"CREATE INDEX intents_open ON intents (chain_id, sender, nonce) WHERE status IN ({_OPEN_LIST})",
        """
        CREATE TABLE attempts (
            intent_id INTEGER NOT NULL REFERENCES intents (id),
            seq INTEGER NOT NULL,
            tx_hash TEXT NOT NULL UNIQUE,
            raw BLOB NOT NULL,
            gas_price TEXT,
            max_fee_per_gas TEXT,
            max_priority_fee_per_gas TEXT,
            created_at REAL NOT NULL,
            PRIMARY KEY (intent_id, seq)
        ) STRICT
        """,
    ),
)


class SqliteOutbox:
    """An `Outbox` in a SQLite database file (created with its schema on `open()`).

    Several instances, even in several processes, may share a file: writers take the database lock
    at the start of each transaction (`BEGIN IMMEDIATE`) and wait up to `busy_timeout_s` for it.
    """

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        """Prepare the adapter; nothing is opened until `open()`.

        Args:
            path: the database file (its directory must exist).
            busy_timeout_s: how long a write waits for another connection's transaction.
        """
        self.path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        # Held by the worker thread for every use of the connection, and for closing it. The limiter
        # alone is not enough: a task cancelled while its thread runs gives its limiter token back at
        # once, and closing the connection under a running statement crashes the process.
        self._in_use = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteOutbox(path={str(self.path)!r})"

    async def open(self) -> None:
        """Open the file, switch it to WAL with full sync, and apply pending migrations.

        Raises:
            OutboxError: the file cannot be opened, or its schema is newer than this code.
        """
        if self._conn is not None:
            return
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise OutboxError(f"SQLite {sqlite3.sqlite_version} is too old; the outbox needs 3.37 or later")
        self._limiter = anyio.CapacityLimiter(1)
        try:
            self._conn = await anyio.to_thread.run_sync(self._connect, limiter=self._limiter)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the outbox at {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Close the connection once the call in progress, if any, has finished."""
        conn, self._conn = self._conn, None
        if conn is not None and self._limiter is not None:
            await anyio.to_thread.run_sync(self._locked, conn.close, limiter=self._limiter)

    async def insert_many(self, new: list[NewTx]) -> list[tuple[TxRecord, bool]]:
        """Write intents with their first attempt in one transaction (see `Outbox.insert_many`).

        Raises:
            NonceConflict: a new intent reuses a (chain, sender, nonce) or a tx hash already stored;
                nothing of the batch is written.
            ValueError: a field is out of range (nothing is written).
        """
        for item in new:
            check_new(item)
        if not new:
            return []
        return await self._call(lambda conn: _insert_many(conn, new))

    async def add_attempt(self, record_id: int, attempt: TxAttempt) -> TxRecord:
        """Append a replacement attempt; adding a hash the intent already has changes nothing.

        Raises:
            IntentNotFound: no intent has this id.
            InvalidTransition: the intent is terminal.
            NonceConflict: the hash belongs to another intent.
        """
        check_attempt(attempt)
        return await self._call(lambda conn: _add_attempt(conn, record_id, attempt))

    async def set_status(
        self,
        record_id: int,
        status: TxStatus,
        *,
        mined_tx_hash: str | None = None,
        mined_block_number: int | None = None,
        mined_block_hash: str | None = None,
        error: str | None = None,
    ) -> TxRecord:
        """Move an intent to `status` under the rules of `outbox_rules.next_status`.

        Raises:
            IntentNotFound: no intent has this id.
            InvalidTransition: the move or the fields are not allowed.
        """

        def run(conn: sqlite3.Connection) -> TxRecord:
            with _write(conn):
                current = _status_fields(conn, [record_id]).get(record_id)
                if current is None:
                    raise IntentNotFound(f"no intent with id {record_id}")
                hashes = [row[0] for row in conn.execute(_HASHES_SQL, (record_id,))]
                fields = next_status(
                    current,
                    hashes,
                    status,
                    mined_tx_hash=mined_tx_hash,
                    mined_block_number=mined_block_number,
                    mined_block_hash=mined_block_hash,
                    error=error,
                )
                if fields != current:
                    _update_statuses(conn, {record_id: fields})
                return _records_by_ids(conn, [record_id])[0]

        return await self._call(run)

    async def set_status_many(self, updates: list[tuple[int, TxStatus]]) -> None:
        """Apply (id, status) pairs in order, all or nothing, only ever moving intents forward.

        A pair that would leave a terminal status or lower the rank is skipped (see
        `outbox_rules.next_statuses`): progress recorded meanwhile is never undone.

        Raises:
            IntentNotFound: an id is unknown (nothing is written).
            InvalidTransition: MINED or CONFIRMED without a stored receipt (nothing is written).
        """
        if not updates:
            return

        def run(conn: sqlite3.Connection) -> None:
            with _write(conn):
                current = _status_fields(conn, sorted({record_id for record_id, _ in updates}))
                _update_statuses(conn, next_statuses(current, updates))

        await self._call(run)

    async def get(self, idempotency_key: str) -> TxRecord | None:
        """The intent stored under `idempotency_key`, or None."""

        def run(conn: sqlite3.Connection) -> TxRecord | None:
            with _read(conn):
                found = _records(conn, "idempotency_key = ?", (idempotency_key,))
            return found[0] if found else None

        return await self._call(run)

    async def get_by_id(self, record_id: int) -> TxRecord | None:
        """The intent with this id, or None."""

        def run(conn: sqlite3.Connection) -> TxRecord | None:
            with _read(conn):
                found = _records_by_ids(conn, [record_id])
            return found[0] if found else None

        return await self._call(run)

    async def open_intents(self, chain_id: int, sender: str | None = None) -> list[TxRecord]:
        """Non-terminal intents of a chain (optionally one sender), ordered by (sender, nonce)."""
        # The status list is spelled exactly as in the partial index so SQLite can use it.
        where = f"chain_id = ? AND status IN ({_OPEN_LIST})"
        params: tuple[object, ...] = (chain_id,)
        if sender is not None:
            where += " AND sender = ?"
            params += (sender,)

        def run(conn: sqlite3.Connection) -> list[TxRecord]:
            with _read(conn):
                return _records(conn, where, params, order="sender, nonce")

        return await self._call(run)

    async def highest_nonce(self, chain_id: int, sender: str) -> int | None:
        """The highest nonce ever written for the sender on the chain, or None."""

        def run(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT max(nonce) FROM intents WHERE chain_id = ? AND sender = ?", (chain_id, sender)
            ).fetchone()
            return None if row is None or row[0] is None else int(row[0])

        return await self._call(run)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so each method is exactly one
        # transaction. check_same_thread=False is safe because the limiter admits one thread at a time.
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            conn.row_factory = sqlite3.Row
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite answers "locked" at once
        # instead of calling the busy handler, so two processes opening a new outbox together would
        # fail. Retry for as long as any other write would wait. (A no-op once the file is in WAL.)
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
            raise OutboxError(f"cannot switch {self.path} to WAL (journal mode is {row})")

    def _locked(self, work: Callable[[], _T]) -> _T:
        with self._in_use:
            return work()

    async def _call(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        conn, limiter = self._conn, self._limiter
        if conn is None or limiter is None:
            raise OutboxError(f"{self!r} is not open")
        try:
            # Not abandoned on cancellation: a transaction, once started, runs to COMMIT or ROLLBACK.
            return await anyio.to_thread.run_sync(self._locked, lambda: fn(conn), limiter=limiter)
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox at {self.path}: {exc}") from exc


_HASHES_SQL = "SELECT tx_hash FROM attempts WHERE intent_id = ? ORDER BY seq"
_INSERT_INTENT_SQL = (
    "INSERT INTO intents (idempotency_key, chain_id, sender, nonce, to_address, value, data, gas_limit, "
    "status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_ATTEMPT_SQL = (
    "INSERT INTO attempts (intent_id, seq, tx_hash, raw, gas_price, max_fee_per_gas, "
    "max_priority_fee_per_gas, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


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
    """One read transaction, so an intent and its attempts come from the same snapshot."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:  # an I/O error may already have ended it; keep that error visible
            conn.execute("COMMIT")


def _migrate(conn: sqlite3.Connection) -> None:
    with _write(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        current = int(row[0]) if row is not None else 0
        if current > len(_MIGRATIONS):
            raise OutboxError(
                f"the outbox schema is at version {current}, newer than this code ({len(_MIGRATIONS)})"
            )
        for version, statements in enumerate(_MIGRATIONS[current:], start=current + 1):
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time.time()))


def _insert_many(conn: sqlite3.Connection, new: Sequence[NewTx]) -> list[tuple[TxRecord, bool]]:
    now = time.time()
    with _write(conn):
        existing = {r.idempotency_key: r for r in _records_by_keys(conn, [n.idempotency_key for n in new])}
        results: list[tuple[TxRecord, bool]] = []
        stored: dict[str, TxRecord] = {}
        for item in new:
            key = item.idempotency_key
            known = existing.get(key) or stored.get(key)
            if known is not None:
                results.append((known, False))
                continue
            record = _insert_one(conn, item, now)
            stored[key] = record
            results.append((record, True))
        return results


def _insert_one(conn: sqlite3.Connection, item: NewTx, now: float) -> TxRecord:
    try:
        cursor = conn.execute(
            _INSERT_INTENT_SQL,
            (
                item.idempotency_key,
                item.chain_id,
                item.sender,
                item.nonce,
                item.to,
                str(item.value),
                item.data,
                item.gas_limit,
                TxStatus.SIGNED.value,
                now,
                now,
            ),
        )
    except sqlite3.IntegrityError as exc:
        holder = conn.execute(
            "SELECT idempotency_key FROM intents WHERE chain_id = ? AND sender = ? AND nonce = ?",
            (item.chain_id, item.sender, item.nonce),
        ).fetchone()
        if holder is None:
            raise
        raise NonceConflict(
            f"nonce {item.nonce} of {item.sender} on chain {item.chain_id} is held by intent "
            f"{holder[0]!r}; {item.idempotency_key!r} cannot take it"
        ) from exc
    record_id = cursor.lastrowid
    if record_id is None:  # only possible if the INSERT did not insert, which it raised for above
        raise OutboxError("SQLite returned no id for a new intent")
    _insert_attempt(conn, record_id, 0, item.first_attempt)
    return new_record(record_id, item, now)


def _insert_attempt(conn: sqlite3.Connection, record_id: int, seq: int, attempt: TxAttempt) -> None:
    try:
        conn.execute(
            _INSERT_ATTEMPT_SQL,
            (
                record_id,
                seq,
                attempt.tx_hash,
                attempt.raw,
                _text(attempt.gas_price),
                _text(attempt.max_fee_per_gas),
                _text(attempt.max_priority_fee_per_gas),
                attempt.created_at,
            ),
        )
    except sqlite3.IntegrityError as exc:
        owner = conn.execute(
            "SELECT intent_id FROM attempts WHERE tx_hash = ?", (attempt.tx_hash,)
        ).fetchone()
        if owner is None:
            raise
        # A hash commits to its nonce, so a hash already stored elsewhere means that nonce is held.
        raise NonceConflict(f"{attempt.tx_hash} is already an attempt of intent {owner[0]}") from exc


def _add_attempt(conn: sqlite3.Connection, record_id: int, attempt: TxAttempt) -> TxRecord:
    with _write(conn):
        current = _status_fields(conn, [record_id]).get(record_id)
        if current is None:
            raise IntentNotFound(f"no intent with id {record_id}")
        owner = conn.execute(
            "SELECT intent_id FROM attempts WHERE tx_hash = ?", (attempt.tx_hash,)
        ).fetchone()
        if owner is not None and int(owner[0]) == record_id:
            # A retry of an add that already committed: idempotent, like insert_many.
            return _records_by_ids(conn, [record_id])[0]
        if current.status.terminal:
            raise InvalidTransition(f"intent {record_id} is {current.status.value}; it takes no new attempt")
        row = conn.execute(
            "SELECT coalesce(max(seq), -1) + 1 FROM attempts WHERE intent_id = ?", (record_id,)
        ).fetchone()
        _insert_attempt(conn, record_id, int(row[0]) if row is not None else 0, attempt)
        conn.execute("UPDATE intents SET updated_at = ? WHERE id = ?", (time.time(), record_id))
        return _records_by_ids(conn, [record_id])[0]


def _status_fields(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, StatusFields]:
    fields: dict[int, StatusFields] = {}
    for chunk in _chunks(ids):
        marks = ", ".join("?" * len(chunk))
        for row in conn.execute(f"SELECT {STATUS_COLUMNS} FROM intents WHERE id IN ({marks})", chunk):
            fields[int(row["id"])] = status_from_row(row)
    return fields


def _update_statuses(conn: sqlite3.Connection, changes: dict[int, StatusFields]) -> None:
    now = time.time()
    conn.executemany(
        "UPDATE intents SET status = ?, mined_tx_hash = ?, mined_block_number = ?, mined_block_hash = ?, "
        "error = ?, updated_at = ? WHERE id = ?",
        [
            (
                f.status.value,
                f.mined_tx_hash,
                f.mined_block_number,
                f.mined_block_hash,
                f.error,
                now,
                record_id,
            )
            for record_id, f in changes.items()
        ],
    )


def _records_by_ids(conn: sqlite3.Connection, ids: Sequence[int]) -> list[TxRecord]:
    records: list[TxRecord] = []
    for chunk in _chunks(ids):
        records += _records(conn, f"id IN ({', '.join('?' * len(chunk))})", tuple(chunk))
    return records


def _records_by_keys(conn: sqlite3.Connection, keys: Sequence[str]) -> list[TxRecord]:
    records: list[TxRecord] = []
    for chunk in _chunks(sorted(set(keys))):
        records += _records(conn, f"idempotency_key IN ({', '.join('?' * len(chunk))})", tuple(chunk))
    return records


def _records(
    conn: sqlite3.Connection, where: str, params: tuple[object, ...], order: str = "id"
) -> list[TxRecord]:
    """Intents matching `where`, each with its attempts in order (two queries, no N+1)."""
    intents = conn.execute(
        f"SELECT {INTENT_COLUMNS} FROM intents WHERE {where} ORDER BY {order}", params
    ).fetchall()
    if not intents:
        return []
    attempts: dict[int, list[TxAttempt]] = {}
    for row in conn.execute(
        f"SELECT {ATTEMPT_COLUMNS} FROM attempts "
        f"WHERE intent_id IN (SELECT id FROM intents WHERE {where}) ORDER BY intent_id, seq",
        params,
    ):
        attempts.setdefault(int(row["intent_id"]), []).append(attempt_from_row(row))
    return [record_from_row(row, attempts.get(int(row["id"]), ())) for row in intents]


def _chunks(items: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)
