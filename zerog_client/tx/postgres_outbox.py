"""The outbox in PostgreSQL: the cluster profile's durable record of every transaction.

Several managers (processes or hosts) may share one schema. Uniqueness is left to the database: the
idempotency key, the (chain, sender, nonce) triple and every attempt hash carry UNIQUE constraints, so
two writers racing on the same key end with one intent whatever the interleaving. Status changes lock
the intent rows (`FOR UPDATE`, in id order so concurrent batches cannot deadlock) before checking the
life-cycle rules.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

# asyncpg ships no type information; its objects stay inside this module and every value read
# from them is converted to a typed one before it leaves.
import asyncpg  # type: ignore[import-untyped]

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

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_STATUS_LIST = ", ".join(f"'{s.value}'" for s in TxStatus)
_OPEN_LIST = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
_NONCE_CONSTRAINT = "intents_chain_sender_nonce_key"
_HASH_CONSTRAINT = "attempts_tx_hash_key"

# Ordered migrations, `{s}` standing for the quoted schema. Append, never edit a shipped one.
# NUMERIC(78, 0) holds any uint256 (78 decimal digits). Timestamps are epoch seconds in DOUBLE
# PRECISION so they round-trip the float the SDK hands over, exactly as in the SQLite adapter.
# Addresses and hashes use the "C" collation: byte order, identical to SQLite's, whatever the locale.
_MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE {{s}}.intents (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        idempotency_key TEXT COLLATE "C" NOT NULL CONSTRAINT intents_idempotency_key_key UNIQUE,
        chain_id BIGINT NOT NULL,
        sender TEXT COLLATE "C" NOT NULL,
        nonce BIGINT NOT NULL CHECK (nonce >= 0),
        to_address TEXT COLLATE "C",
        value NUMERIC(78, 0) NOT NULL CHECK (value >= 0),
        data BYTEA NOT NULL,
        gas_limit BIGINT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({_STATUS_LIST})),
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        mined_tx_hash TEXT COLLATE "C",
        mined_block_number BIGINT,
        mined_block_hash TEXT COLLATE "C",
        error TEXT,
        CONSTRAINT {_NONCE_CONSTRAINT} UNIQUE (chain_id, sender, nonce)
    );
    -- Recovery scans only the open intents; a partial index stays small as history grows.
    CREATE INDEX intents_open_idx ON {{s}}.intents (chain_id, sender, nonce) WHERE status IN ({_OPEN_LIST});
    CREATE TABLE {{s}}.attempts (
        intent_id BIGINT NOT NULL REFERENCES {{s}}.intents (id),
        seq INTEGER NOT NULL,
        tx_hash TEXT COLLATE "C" NOT NULL CONSTRAINT {_HASH_CONSTRAINT} UNIQUE,
        raw BYTEA NOT NULL,
        gas_price NUMERIC(78, 0),
        max_fee_per_gas NUMERIC(78, 0),
        max_priority_fee_per_gas NUMERIC(78, 0),
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (intent_id, seq)
    );
    """,
)

# Connection-level failures: the outbox is unavailable, and the caller may retry.
_UNAVAILABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class PostgresOutbox:
    """An `Outbox` in one schema of a PostgreSQL database (created and migrated on `open()`)."""

    def __init__(
        self,
        dsn: str,
        schema: str = "zgv_tx",
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        command_timeout_s: float = 30.0,
    ) -> None:
        """Prepare the adapter; nothing is connected until `open()`.

        Args:
            dsn: a libpq-style URL, e.g. `postgresql://user@host:5432/db`.
            schema: the schema holding the tables (lower-case identifier; created if missing).
            min_connections: connections the pool keeps open.
            max_connections: the most connections the pool opens.
            command_timeout_s: the longest a single statement may take.

        Raises:
            ValueError: `schema` is not a plain lower-case identifier.
        """
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema must match {_SCHEMA_NAME.pattern}, got {schema!r}")
        self.schema = schema
        self._dsn = dsn
        self._min = min_connections
        self._max = max_connections
        self._command_timeout_s = command_timeout_s
        self._pool: Any = None
        s = f'"{schema}"'
        self._s = s
        self._intents = f"{s}.intents"
        self._attempts = f"{s}.attempts"

    def __repr__(self) -> str:
        # The DSN may hold a password: never shown.
        return f"PostgresOutbox(schema={self.schema!r})"

    async def open(self) -> None:
        """Connect the pool and apply pending migrations under an advisory lock.

        Raises:
            OutboxError: the server is unreachable, or the schema is newer than this code.
        """
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self._dsn,
                min_size=self._min,
                max_size=self._max,
                command_timeout=self._command_timeout_s,
                server_settings={"application_name": "zerog_client.outbox"},
            )
        except _UNAVAILABLE as exc:
            raise OutboxError(f"cannot connect the outbox ({self!r}): {exc}") from exc
        try:
            async with pool.acquire() as conn, conn.transaction():
                await self._migrate(conn)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        """Close the pool, waiting for the calls in progress."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

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
        # First occurrence of each key, sorted so two batches sharing keys meet them in the same order.
        unique = sorted({item.idempotency_key: item for item in reversed(new)}.values(), key=_key)
        now = time.time()
        async with self._transaction() as conn:
            # ON CONFLICT without a target makes every unique constraint an arbiter. Naming only the
            # key would let a writer racing on the same key fail on the (chain, sender, nonce) index
            # instead of waiting and skipping; here it waits for the other transaction, then skips.
            # A skipped row whose key is not stored afterwards lost to another key's nonce.
            rows = await conn.fetch(
                f"INSERT INTO {self._intents} (idempotency_key, chain_id, sender, nonce, to_address, "
                "value, data, gas_limit, status, created_at, updated_at) "
                "SELECT k, c, s, n, t, v, d, g, $9, $10, $10 FROM unnest($1::text[], $2::bigint[], "
                "$3::text[], $4::bigint[], $5::text[], $6::numeric[], $7::bytea[], $8::bigint[]) "
                "AS u(k, c, s, n, t, v, d, g) "
                "ON CONFLICT DO NOTHING RETURNING id, idempotency_key",
                [i.idempotency_key for i in unique],
                [i.chain_id for i in unique],
                [i.sender for i in unique],
                [i.nonce for i in unique],
                [i.to for i in unique],
                [i.value for i in unique],
                [i.data for i in unique],
                [i.gas_limit for i in unique],
                TxStatus.SIGNED.value,
                now,
            )
            ids: dict[str, int] = {str(r["idempotency_key"]): int(r["id"]) for r in rows}
            created = [i for i in unique if i.idempotency_key in ids]
            # Visible now: READ COMMITTED gives each statement a fresh snapshot, taken after the INSERT
            # waited for any concurrent writer of these keys.
            others = [i.idempotency_key for i in unique if i.idempotency_key not in ids]
            existing = {
                r.idempotency_key: r
                for r in await self._load(conn, "idempotency_key = ANY($1::text[])", others)
            }
            lost = [i for i in unique if i.idempotency_key not in ids and i.idempotency_key not in existing]
            if lost:
                raise await self._nonce_conflict(conn, lost[0])
            try:
                await self._insert_attempts(
                    conn, [(ids[i.idempotency_key], 0, i.first_attempt) for i in created]
                )
            except asyncpg.UniqueViolationError as exc:
                raise _conflict(exc) from exc
        records = {i.idempotency_key: new_record(ids[i.idempotency_key], i, now) for i in created} | existing
        results: list[tuple[TxRecord, bool]] = []
        seen: set[str] = set()
        for item in new:
            key = item.idempotency_key
            results.append((records[key], key in ids and key not in seen))
            seen.add(key)
        return results

    async def add_attempt(self, record_id: int, attempt: TxAttempt) -> TxRecord:
        """Append a replacement attempt; adding a hash the intent already has changes nothing.

        Raises:
            IntentNotFound: no intent has this id.
            InvalidTransition: the intent is terminal.
            NonceConflict: the hash belongs to another intent.
        """
        check_attempt(attempt)
        async with self._transaction() as conn:
            current = (await self._lock_status(conn, [record_id])).get(record_id)
            if current is None:
                raise IntentNotFound(f"no intent with id {record_id}")
            owner = await conn.fetchval(
                f"SELECT intent_id FROM {self._attempts} WHERE tx_hash = $1", attempt.tx_hash
            )
            if owner is not None and int(owner) == record_id:
                # A retry of an add that already committed: idempotent, like insert_many.
                return (await self._load(conn, "id = $1", record_id))[0]
            if current.status.terminal:
                raise InvalidTransition(
                    f"intent {record_id} is {current.status.value}; it takes no new attempt"
                )
            # The intent row is locked, so no concurrent add can take the same seq.
            seq = int(
                await conn.fetchval(
                    f"SELECT coalesce(max(seq), -1) + 1 FROM {self._attempts} WHERE intent_id = $1", record_id
                )
            )
            try:
                await self._insert_attempts(conn, [(record_id, seq, attempt)])
            except asyncpg.UniqueViolationError as exc:
                raise _conflict(exc) from exc
            await conn.execute(
                f"UPDATE {self._intents} SET updated_at = $1 WHERE id = $2", time.time(), record_id
            )
            return (await self._load(conn, "id = $1", record_id))[0]

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
        async with self._transaction() as conn:
            current = (await self._lock_status(conn, [record_id])).get(record_id)
            if current is None:
                raise IntentNotFound(f"no intent with id {record_id}")
            hashes = [
                str(r["tx_hash"])
                for r in await conn.fetch(
                    f"SELECT tx_hash FROM {self._attempts} WHERE intent_id = $1", record_id
                )
            ]
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
                await self._update_statuses(conn, {record_id: fields})
            return (await self._load(conn, "id = $1", record_id))[0]

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
        async with self._transaction() as conn:
            current = await self._lock_status(conn, sorted({record_id for record_id, _ in updates}))
            await self._update_statuses(conn, next_statuses(current, updates))

    async def get(self, idempotency_key: str) -> TxRecord | None:
        """The intent stored under `idempotency_key`, or None."""
        async with self._snapshot() as conn:
            found = await self._load(conn, "idempotency_key = $1", idempotency_key)
        return found[0] if found else None

    async def get_by_id(self, record_id: int) -> TxRecord | None:
        """The intent with this id, or None."""
        async with self._snapshot() as conn:
            found = await self._load(conn, "id = $1", record_id)
        return found[0] if found else None

    async def open_intents(self, chain_id: int, sender: str | None = None) -> list[TxRecord]:
        """Non-terminal intents of a chain (optionally one sender), ordered by (sender, nonce)."""
        # The status list is spelled as in the partial index so the planner can match it.
        where = f"chain_id = $1 AND status IN ({_OPEN_LIST})"
        args: list[object] = [chain_id]
        if sender is not None:
            where += " AND sender = $2"
            args.append(sender)
        async with self._snapshot() as conn:
            return await self._load(conn, where, *args, order="sender, nonce")

    async def highest_nonce(self, chain_id: int, sender: str) -> int | None:
        """The highest nonce ever written for the sender on the chain, or None."""
        async with self._connection() as conn:
            value = await conn.fetchval(
                f"SELECT max(nonce) FROM {self._intents} WHERE chain_id = $1 AND sender = $2",
                chain_id,
                sender,
            )
        return None if value is None else int(value)

    async def _nonce_conflict(self, conn: Any, item: NewTx) -> NonceConflict:
        holder = await conn.fetchval(
            f"SELECT idempotency_key FROM {self._intents} WHERE chain_id = $1 AND sender = $2 AND nonce = $3",
            item.chain_id,
            item.sender,
            item.nonce,
        )
        # No stored holder: the nonce is taken twice within this batch.
        held_by = f"intent {holder!r}" if holder is not None else "another intent of the same batch"
        return NonceConflict(
            f"nonce {item.nonce} of {item.sender} on chain {item.chain_id} is held by {held_by}; "
            f"{item.idempotency_key!r} cannot take it"
        )

    async def _migrate(self, conn: Any) -> None:
        # Held until the transaction ends: a second process starting now waits, then finds the
        # schema at the latest version and applies nothing.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(self.schema))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._s}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self._s}.schema_version "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        current = int(await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {self._s}.schema_version"))
        if current > len(_MIGRATIONS):
            raise OutboxError(
                f"the outbox schema {self.schema} is at version {current}, newer than this code "
                f"({len(_MIGRATIONS)})"
            )
        for version, sql in enumerate(_MIGRATIONS[current:], start=current + 1):
            await conn.execute(sql.format(s=self._s))
            await conn.execute(f"INSERT INTO {self._s}.schema_version (version) VALUES ($1)", version)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        pool = self._pool
        if pool is None:
            raise OutboxError(f"{self!r} is not open")
        try:
            async with pool.acquire() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise OutboxError(f"outbox {self.schema}: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        async with self._connection() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[Any]:
        # One snapshot for an intent and its attempts, taken without blocking writers.
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            yield conn

    async def _insert_attempts(self, conn: Any, attempts: Sequence[tuple[int, int, TxAttempt]]) -> None:
        if not attempts:
            return
        await conn.execute(
            f"INSERT INTO {self._attempts} (intent_id, seq, tx_hash, raw, gas_price, max_fee_per_gas, "
            "max_priority_fee_per_gas, created_at) SELECT * FROM unnest($1::bigint[], $2::integer[], "
            "$3::text[], $4::bytea[], $5::numeric[], $6::numeric[], $7::numeric[], $8::float8[])",
            [record_id for record_id, _, _ in attempts],
            [seq for _, seq, _ in attempts],
            [a.tx_hash for _, _, a in attempts],
            [a.raw for _, _, a in attempts],
            [a.gas_price for _, _, a in attempts],
            [a.max_fee_per_gas for _, _, a in attempts],
            [a.max_priority_fee_per_gas for _, _, a in attempts],
            [a.created_at for _, _, a in attempts],
        )

    async def _lock_status(self, conn: Any, ids: Sequence[int]) -> dict[int, StatusFields]:
        # Locked in id order: two batches touching the same intents queue instead of deadlocking.
        rows = await conn.fetch(
            f"SELECT {STATUS_COLUMNS} FROM {self._intents} WHERE id = ANY($1::bigint[]) "
            "ORDER BY id FOR UPDATE",
            list(ids),
        )
        return {int(r["id"]): status_from_row(r) for r in rows}

    async def _update_statuses(self, conn: Any, changes: dict[int, StatusFields]) -> None:
        if not changes:
            return
        await conn.execute(
            f"UPDATE {self._intents} AS i SET status = u.status, mined_tx_hash = u.mth, "
            "mined_block_number = u.mbn, mined_block_hash = u.mbh, error = u.err, updated_at = $7 "
            "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]) "
            "AS u(id, status, mth, mbn, mbh, err) WHERE i.id = u.id",
            list(changes),
            [f.status.value for f in changes.values()],
            [f.mined_tx_hash for f in changes.values()],
            [f.mined_block_number for f in changes.values()],
            [f.mined_block_hash for f in changes.values()],
            [f.error for f in changes.values()],
            time.time(),
        )

    async def _load(self, conn: Any, where: str, *args: object, order: str = "id") -> list[TxRecord]:
        """Intents matching `where`, each with its attempts in order (two queries, no N+1)."""
        rows = await conn.fetch(
            f"SELECT {INTENT_COLUMNS} FROM {self._intents} WHERE {where} ORDER BY {order}", *args
        )
        if not rows:
            return []
        attempts: dict[int, list[TxAttempt]] = {}
        for a in await conn.fetch(
            f"SELECT {ATTEMPT_COLUMNS} FROM {self._attempts} "
            "WHERE intent_id = ANY($1::bigint[]) ORDER BY intent_id, seq",
            [int(r["id"]) for r in rows],
        ):
            attempts.setdefault(int(a["intent_id"]), []).append(attempt_from_row(a))
        return [record_from_row(r, attempts.get(int(r["id"]), ())) for r in rows]


def _conflict(exc: Any) -> Exception:
    """NonceConflict for the nonce or hash constraints; any other unique violation is a bug."""
    detail = getattr(exc, "detail", None) or str(exc)
    constraint = getattr(exc, "constraint_name", None)
    if constraint == _NONCE_CONSTRAINT:
        return NonceConflict(f"the (chain, sender, nonce) is held by another intent: {detail}")
    if constraint == _HASH_CONSTRAINT:
        # A hash commits to its nonce, so a hash already stored elsewhere means that nonce is held.
        return NonceConflict(f"the tx hash is already an attempt of another intent: {detail}")
    return OutboxError(f"unexpected unique violation ({constraint}): {detail}")


def _lock_key(schema: str) -> int:
    # A stable signed 64-bit key per schema: every process computes the same one.
    digest = hashlib.blake2b(f"zerog_client.tx.outbox:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _key(item: NewTx) -> str:
    return item.idempotency_key
