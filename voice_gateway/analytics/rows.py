"""How records map to table rows, the same for both dialects: column lists, row to record
conversions (a `sqlite3.Row` and an asyncpg `Record` are read alike, by column name) and the export
document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Protocol

from voice_gateway.analytics.store import (
    EXPORT_FORMAT,
    AnalyticsUnavailable,
    AuditEvent,
    JsonValue,
    SessionRecord,
    ToolCallRecord,
    TransactionRecord,
    TurnRecord,
    UserRecord,
)

USER_COLUMNS = "address, role, created_at"
SESSION_COLUMNS = "session_id, address, started_at, ended_at"
TURN_COLUMNS = "address, session_id, turn_id, at, transcript, intent, reply, latency_ms"
TOOL_CALL_COLUMNS = "address, turn_id, server, tool, ok, error_code, duration_ms, at"
TX_COLUMNS = "address, tx_hash, chain_id, to_address, value, status, at"
AUDIT_COLUMNS = "kind, reason, address, ip_hash, detail, at"
# Recording a known transaction again updates it (a status moving from submitted to mined, say).
TX_UPSERT = (
    "ON CONFLICT (address, chain_id, tx_hash) DO UPDATE SET to_address = excluded.to_address, "
    "value = excluded.value, status = excluded.status, at = excluded.at"
)
USER_UPSERT = "ON CONFLICT (address) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at"


def turn_values(turn: TurnRecord, latency_json: str) -> tuple[object, ...]:
    """A turn's values in TURN_COLUMNS order, latency as checked and encoded by validation."""
    t = turn
    return (t.address, t.session_id, t.turn_id, float(t.at), t.transcript, t.intent, t.reply, latency_json)


def tool_call_values(call: ToolCallRecord) -> tuple[object, ...]:
    """A tool call's values in TOOL_CALL_COLUMNS order."""
    c = call
    return (c.address, c.turn_id, c.server, c.tool, c.ok, c.error_code, float(c.duration_ms), float(c.at))


def tx_values(tx: TransactionRecord) -> tuple[object, ...]:
    """A transaction's values in TX_COLUMNS order (the value stays a decimal string in both dialects)."""
    return (tx.address, tx.tx_hash, tx.chain_id, tx.to, tx.value, tx.status, float(tx.at))


def audit_values(event: AuditEvent, detail_json: str) -> tuple[object, ...]:
    """An audit event's values in AUDIT_COLUMNS order, detail as checked and encoded by validation."""
    e = event
    return (e.kind, e.reason, e.address, e.ip_hash, detail_json, float(e.at))


class Row(Protocol):
    """A database row read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


def user_from_row(r: Row) -> UserRecord:
    """A `UserRecord` from a row of USER_COLUMNS."""
    return UserRecord(str(r["address"]), str(r["role"]), float(r["created_at"]))


def session_from_row(r: Row) -> SessionRecord:
    """A `SessionRecord` from a row of SESSION_COLUMNS."""
    ended = r["ended_at"]
    return SessionRecord(
        str(r["session_id"]),
        str(r["address"]),
        float(r["started_at"]),
        None if ended is None else float(ended),
    )


def turn_from_row(r: Row) -> TurnRecord:
    """A `TurnRecord` from a row of TURN_COLUMNS."""
    return TurnRecord(
        str(r["address"]),
        str(r["session_id"]),
        str(r["turn_id"]),
        float(r["at"]),
        str(r["transcript"]),
        str(r["intent"]),
        str(r["reply"]),
        latency_from_json(str(r["latency_ms"])),
    )


def tool_call_from_row(r: Row) -> ToolCallRecord:
    """A `ToolCallRecord` from a row of TOOL_CALL_COLUMNS."""
    return ToolCallRecord(
        str(r["address"]),
        str(r["turn_id"]),
        str(r["server"]),
        str(r["tool"]),
        bool(r["ok"]),
        _str(r["error_code"]),
        float(r["duration_ms"]),
        float(r["at"]),
    )


def transaction_from_row(r: Row) -> TransactionRecord:
    """A `TransactionRecord` from a row of TX_COLUMNS."""
    return TransactionRecord(
        str(r["address"]),
        str(r["tx_hash"]),
        int(r["chain_id"]),
        _str(r["to_address"]),
        # TEXT in SQLite, a Decimal from NUMERIC(78, 0) in PostgreSQL: int() prints both without exponent.
        str(int(r["value"])),
        str(r["status"]),
        float(r["at"]),
    )


def audit_from_row(r: Row) -> AuditEvent:
    """An `AuditEvent` from a row of AUDIT_COLUMNS."""
    return AuditEvent(
        str(r["kind"]),
        str(r["reason"]),
        _str(r["address"]),
        _str(r["ip_hash"]),
        json_object(str(r["detail"])),
        float(r["at"]),
    )


def json_object(text: str) -> dict[str, JsonValue]:
    """A JSON object read back from the database."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise AnalyticsUnavailable("corrupt", f"expected a JSON object in the store, found {text:.40}")
    return value


def latency_from_json(text: str) -> dict[str, float]:
    """A turn's latency dict read back from the database."""
    return {key: float(value) for key, value in json.loads(text).items()}


def export_document(
    address: str,
    user: UserRecord | None,
    sessions: Sequence[SessionRecord],
    turns: Sequence[TurnRecord],
    tool_calls: Sequence[ToolCallRecord],
    transactions: Sequence[TransactionRecord],
) -> dict[str, JsonValue]:
    """The document `AnalyticsStore.export` returns, built the same way by every adapter."""
    return {
        "format": EXPORT_FORMAT,
        "address": address,
        "user": None if user is None else _row(user),
        "sessions": [_row(s) for s in sessions],
        "turns": [_row(t) for t in turns],
        "tool_calls": [_row(c) for c in tool_calls],
        "transactions": [_row(t) for t in transactions],
    }


def _row(
    record: UserRecord | SessionRecord | TurnRecord | ToolCallRecord | TransactionRecord,
) -> dict[str, JsonValue]:
    # The records hold only JSON scalars and dicts of floats; asdict copies those dicts.
    row: dict[str, JsonValue] = asdict(record)
    return row


def _str(value: object) -> str | None:
    return None if value is None else str(value)
