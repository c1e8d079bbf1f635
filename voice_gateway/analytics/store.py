"""The analytics store interface: who talked to the agent, what was said and done, and security events.

Two adapters satisfy it (SQLite in the embedded profile, PostgreSQL in the cluster profile) and one
contract suite runs against both. Records are plain dataclasses; they are checked once, when a store
is asked to persist them (`validation`), never when they are built on the hot path.

Data protection (SECURITY.md section 7): every row that belongs to a user carries the user's address
and every query filters on it, so one user's history never reaches another. Audit events are the one
exception: they outlive `delete_user` with their address nulled, because the security record must
survive (incident response, 7.7) while the personal link must not (erasure, 7.5). For that to be true,
audit details may not name addresses themselves (`validation.audit_detail_json` refuses them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

JsonValue: TypeAlias = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
"""Any value a JSON document holds."""

Role: TypeAlias = Literal["user", "admin"]

ROLES: tuple[Role, ...] = ("user", "admin")
MAX_TEXT_CHARS = 10_000
MAX_LATENCY_ENTRIES = 32
MAX_DETAIL_BYTES = 8 * 1024
MAX_PAGE = 200
EXPORT_FORMAT = 1


class AnalyticsError(ValueError):
    """A record or argument the store refuses; `code` is stable, the message is for logs.

    Codes: invalid_address, invalid_id, invalid_name, invalid_text, invalid_number, invalid_limit,
    invalid_role, invalid_tx, invalid_detail, too_large, unknown_user, unknown_session, unknown_turn,
    session_conflict, duplicate_turn.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AnalyticsUnavailable(RuntimeError):
    """The store cannot serve: not open, unreachable, or its schema is not one this code knows.

    Codes: not_open, unavailable (retryable), schema_too_new, migration_mismatch, corrupt.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = code == "unavailable"


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as stored: role and when first seen (epoch seconds)."""

    address: str
    role: str
    created_at: float


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One voice session of a user; `ended_at` is None while it is open."""

    session_id: str
    address: str
    started_at: float
    ended_at: float | None


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One exchange: what the user said, what we understood, what we answered, and how long each
    stage took (`latency_ms`, stage name to milliseconds)."""

    address: str
    session_id: str
    turn_id: str
    at: float
    transcript: str
    intent: str
    reply: str
    latency_ms: dict[str, float]


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One MCP tool call made while answering a turn."""

    address: str
    turn_id: str
    server: str
    tool: str
    ok: bool
    error_code: str | None
    duration_ms: float
    at: float


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """A transaction made for a user; recording the same (chain, hash) again updates it.

    `value` is the amount in wei as a decimal string (uint256 does not fit a database integer).
    `to` is None for a contract creation.
    """

    address: str
    tx_hash: str
    chain_id: int
    to: str | None
    value: str
    status: str
    at: float


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A security event, e.g. kind "signin_failed" with reason "bad_nonce".

    `ip_hash` is a keyed hash of the client IP (hex), never the IP; `detail` is a small JSON object
    that must not name addresses (the `address` field is the only personal link).
    """

    kind: str
    reason: str
    address: str | None
    ip_hash: str | None
    detail: dict[str, JsonValue]
    at: float


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """A schema migration the database has applied (`applied_at` in epoch seconds)."""

    version: int
    name: str
    applied_at: float


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """A page of history as the HTTP API returns it: turns newest first, and the `before` value that
    fetches the next (older) page, None when this page is the last."""

    turns: tuple[TurnRecord, ...]
    next_before: float | None

    @classmethod
    def of(cls, turns: Sequence[TurnRecord], limit: int) -> HistoryPage:
        """The page for `turns` as returned by `AnalyticsStore.history(..., limit)`.

        A full page may be followed by more; a short one is the last. Paging on `at` alone skips a
        turn that has exactly the same timestamp as the last one of a page, which one user's turns
        (seconds apart, microsecond resolution) do not have.
        """
        last = turns[-1].at if turns and len(turns) >= limit else None
        return cls(tuple(turns), last)


class AnalyticsStore(Protocol):
    """Users, sessions, turns, tool calls, transactions and audit events.

    Every method is one transaction. Invalid input raises `AnalyticsError` before anything is
    written; a store that is not open, or a database that fails, raises `AnalyticsUnavailable`.
    """

    async def open(self) -> None:
        """Connect and apply pending migrations (safe to call again, and from several replicas)."""
        ...

    async def close(self) -> None:
        """Release connections; later calls raise `AnalyticsUnavailable` until `open()`."""
        ...

    async def upsert_user(self, address: str, role: Role = "user") -> None:
        """Create the user, or set its role if it exists."""
        ...

    async def start_session(self, session_id: str, address: str, at: float) -> None:
        """Open a session of an existing user; starting the same session again changes nothing.

        Raises:
            AnalyticsError: unknown_user, or session_conflict if the id belongs to another user.
        """
        ...

    async def end_session(self, session_id: str, at: float) -> None:
        """Close a session; the first end time is kept.

        Raises:
            AnalyticsError: unknown_session, or invalid_number if `at` is before its start.
        """
        ...

    async def record_turn(self, turn: TurnRecord) -> None:
        """Store a turn in a session of the same user.

        Raises:
            AnalyticsError: unknown_session, duplicate_turn, or a validation code.
        """
        ...

    async def record_tool_call(self, call: ToolCallRecord) -> None:
        """Store a tool call of a turn of the same user.

        Raises:
            AnalyticsError: unknown_turn, or a validation code.
        """
        ...

    async def record_transaction(self, tx: TransactionRecord) -> None:
        """Store a transaction of an existing user, or update its `to`, value, status and time.

        Raises:
            AnalyticsError: unknown_user, or a validation code.
        """
        ...

    async def record_audit(self, event: AuditEvent) -> None:
        """Append a security event (the address need not be a known user)."""
        ...

    async def history(self, address: str, limit: int = 50, before: float | None = None) -> list[TurnRecord]:
        """The user's turns newest first, at most `limit` (1..200), only those older than `before`."""
        ...

    async def export(self, address: str) -> dict[str, JsonValue]:
        """Everything stored about the user (user row, sessions, turns, tool calls, transactions) as
        one JSON-serialisable document, oldest first; `user` is None for an unknown address."""
        ...

    async def delete_user(self, address: str) -> dict[str, int]:
        """Erase the user's rows in every table in one transaction; audit events stay, address nulled.

        Returns:
            Rows affected per table: users, sessions, turns, tool_calls, transactions (deleted) and
            audit_events (anonymised).
        """
        ...

    async def audit_events(self, limit: int = 100, kind: str | None = None) -> list[AuditEvent]:
        """Recent security events, newest first, optionally of one kind (for admins)."""
        ...

    async def applied_migrations(self) -> list[AppliedMigration]:
        """The schema migrations applied to this database, in version order."""
        ...
