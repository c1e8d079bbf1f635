"""The KV node's state in SQLite: versioned values and access control, replay results, the queue.

Every row carries the tx seq that wrote it as its version, so a read at version `v` sees, per key
(or per role), the row with the largest version not above `v` (SPEC §4.4 snapshot semantics).
Keys are BLOBs, so SQLite orders them bytewise as the real node does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

SQLITE_MAX = (1 << 63) - 1
"""Versions above this (u64::MAX = "latest") are clamped: SQLite integers are signed 64-bit."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY, root TEXT NOT NULL, sender BLOB, tags BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS results (seq INTEGER PRIMARY KEY, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS streams (stream BLOB PRIMARY KEY, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (
    stream BLOB NOT NULL, key BLOB NOT NULL, version INTEGER NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (stream, key, version));
CREATE TABLE IF NOT EXISTS acl (
    stream BLOB NOT NULL, kind TEXT NOT NULL, key BLOB NOT NULL, account BLOB NOT NULL,
    version INTEGER NOT NULL, granted INTEGER NOT NULL,
    PRIMARY KEY (stream, kind, key, account, version));
"""


class Role(Enum):
    """The access-control facts the node tracks; `key`/`account` are empty where unused."""

    ADMIN = "admin"  # account
    WRITER = "writer"  # account
    SPECIAL_KEY = "special_key"  # key
    SPECIAL_WRITER = "special_writer"  # key, account


@dataclass(frozen=True, slots=True)
class PendingTx:
    """A synced flow transaction not yet replayed.

    Attributes:
        seq: its tx seq.
        root: the file root, `0x`-prefixed.
        sender: the chain transaction's `from` (None when its tags name no watched stream).
        tags: the submission's tags.
    """

    seq: int
    root: str
    sender: bytes | None
    tags: bytes


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored value as a read at some version sees it."""

    key: bytes
    version: int
    value: bytes


@dataclass(frozen=True, slots=True)
class AclChange:
    """One role row to write at the committing tx's version."""

    stream: bytes
    role: Role
    key: bytes
    account: bytes
    granted: bool


@dataclass(frozen=True, slots=True)
class Commit:
    """What a successfully replayed tx changes."""

    new_streams: tuple[bytes, ...]
    writes: tuple[tuple[bytes, bytes, bytes], ...]  # (stream, key, value); later ones win
    acl: tuple[AclChange, ...]


def _clamp(version: int) -> int:
    return min(version, SQLITE_MAX)


class KvStore:
    """The node's database file; one connection, used from the event loop thread."""

    def __init__(self, path: Path) -> None:
        """Prepare the store; `open()` creates or reopens the file.

        Args:
            path: the SQLite file.
        """
        self._path = path
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        """Create or reopen the database."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self._path, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        db, self._db = self._db, None
        if db is not None:
            db.close()

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection."""
        if self._db is None:
            raise RuntimeError("the KV store is not open")
        return self._db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- cursors -------------------------------------------------------------------------------

    def meta(self, name: str) -> int | None:
        """A stored counter (log sync height, applied seq, ...), None when never set."""
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def add_pending(self, txs: Sequence[PendingTx], height: int) -> None:
        """Queue synced transactions and move the log cursor to `height`, atomically."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO pending (seq, root, sender, tags) VALUES (?, ?, ?, ?)",
                [(tx.seq, tx.root, tx.sender, tx.tags) for tx in txs],
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('log_height', ?)", (height,))

    def next_pending(self) -> PendingTx | None:
        """The queued transaction with the lowest seq."""
        row = self.db.execute("SELECT seq, root, sender, tags FROM pending ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else PendingTx(int(row[0]), str(row[1]), row[2], bytes(row[3]))

    def last_queued_seq(self) -> int | None:
        """The highest seq ever queued (replayed or not)."""
        queued = self.db.execute("SELECT MAX(seq) FROM pending").fetchone()[0]
        applied = self.meta("applied_seq")
        values = [int(v) for v in (queued, applied) if v is not None]
        return max(values) if values else None

    def finish(self, seq: int, result: str | None, commit: Commit | None = None) -> None:
        """Record a replayed transaction: its result (None: skipped) and its changes, atomically."""
        with self._transaction() as db:
            if commit is not None:
                db.executemany(
                    "INSERT OR IGNORE INTO streams VALUES (?, ?)", [(s, seq) for s in commit.new_streams]
                )
                db.executemany(
                    "INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?)",
                    [(stream, key, seq, value) for stream, key, value in commit.writes],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO acl VALUES (?, ?, ?, ?, ?, ?)",
                    [(c.stream, c.role.value, c.key, c.account, seq, int(c.granted)) for c in commit.acl],
                )
            if result is not None:
                db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (seq, result))
            db.execute("DELETE FROM pending WHERE seq = ?", (seq,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('applied_seq', ?)", (seq,))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('first_tx_seq', ?)", (seq,))

    def result(self, seq: int) -> str | None:
        """`kv_getTransactionResult`."""
        row = self.db.execute("SELECT result FROM results WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else str(row[0])

    # --- values --------------------------------------------------------------------------------

    def value(self, stream: bytes, key: bytes, version: int) -> Entry | None:
        """The row of `key` a read at `version` sees (possibly an empty value: a delete)."""
        row = self.db.execute(
            "SELECT version, value FROM kv WHERE stream = ? AND key = ? AND version <= ?"
            " ORDER BY version DESC LIMIT 1",
            (stream, key, _clamp(version)),
        ).fetchone()
        return None if row is None else Entry(key, int(row[0]), bytes(row[1]))

    def latest_version(self, stream: bytes, key: bytes) -> int | None:
        """The tx seq that last wrote `key`, None if never written."""
        row = self.db.execute(
            "SELECT MAX(version) FROM kv WHERE stream = ? AND key = ?", (stream, key)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def neighbour(
        self, stream: bytes, key: bytes | None, version: int, *, forward: bool, inclusive: bool
    ) -> Entry | None:
        """The nearest live (non-deleted) key after (forward) or before `key`; None `key`: first/last."""
        order = "ASC" if forward else "DESC"
        bound = ""
        params: list[object] = [stream, _clamp(version)]
        if key is not None:
            op = (">" if forward else "<") + ("=" if inclusive else "")
            bound = f"AND k.key {op} ?"
            params.append(key)
        row = self.db.execute(
            "SELECT k.key, k.version, k.value FROM kv k WHERE k.stream = ?1"
            " AND k.version = (SELECT MAX(version) FROM kv WHERE stream = k.stream AND key = k.key"
            " AND version <= ?2)"
            f" AND length(k.value) > 0 {bound.replace('?', '?3')} ORDER BY k.key {order} LIMIT 1",
            params,
        ).fetchone()
        return None if row is None else Entry(bytes(row[0]), int(row[1]), bytes(row[2]))

    # --- access control ------------------------------------------------------------------------

    def stream_exists(self, stream: bytes, version: int) -> bool:
        """Whether a committed tx touched `stream` at or before `version`."""
        row = self.db.execute(
            "SELECT 1 FROM streams WHERE stream = ? AND created <= ?", (stream, _clamp(version))
        ).fetchone()
        return row is not None

    def has_role(
        self, stream: bytes, role: Role, version: int, key: bytes = b"", account: bytes = b""
    ) -> bool:
        """Whether the latest row of this role fact at `version` grants it."""
        row = self.db.execute(
            "SELECT granted FROM acl WHERE stream = ? AND kind = ? AND key = ? AND account = ?"
            " AND version <= ? ORDER BY version DESC LIMIT 1",
            (stream, role.value, key, account, _clamp(version)),
        ).fetchone()
        return row is not None and bool(row[0])

    def writes_any_key(self, stream: bytes, account: bytes, version: int) -> bool:
        """Whether `account` is a special-key writer of some key of `stream` at `version`."""
        row = self.db.execute(
            "SELECT 1 FROM acl a WHERE a.stream = ?1 AND a.kind = ?2 AND a.account = ?3 AND a.granted = 1"
            " AND a.version = (SELECT MAX(version) FROM acl WHERE stream = a.stream AND kind = a.kind"
            " AND key = a.key AND account = a.account AND version <= ?4) LIMIT 1",
            (stream, Role.SPECIAL_WRITER.value, account, _clamp(version)),
        ).fetchone()
        return row is not None


__all__ = ["SQLITE_MAX", "AclChange", "Commit", "Entry", "KvStore", "PendingTx", "Role"]
