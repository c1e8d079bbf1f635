"""Checks of what the analytics store is asked to persist, shared by every adapter.

Each raises `AnalyticsError` with a stable code before anything is written. Beyond types and sizes they
keep the two databases interchangeable (PostgreSQL refuses NUL characters that SQLite accepts) and
personal data where erasure can reach it (no raw IPs, no addresses inside audit details).
"""

from __future__ import annotations

import json
import math
import re

from eth_utils.address import is_checksum_address

from voice_gateway.analytics.store import (
    MAX_DETAIL_BYTES,
    MAX_LATENCY_ENTRIES,
    MAX_PAGE,
    MAX_TEXT_CHARS,
    ROLES,
    AnalyticsError,
    AuditEvent,
    Role,
    ToolCallRecord,
    TransactionRecord,
    TurnRecord,
)

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Intents, tool and server names, event kinds, reason and status codes, latency stage names.
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_TX_HASH = re.compile(r"0x[0-9a-f]{64}")
_WEI = re.compile(r"0|[1-9][0-9]{0,77}")
# A keyed hash in hex: a raw IP (dots, colons) can never pass for one.
_IP_HASH = re.compile(r"[0-9a-f]{16,128}")
_ADDRESS_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")
_MAX_JSON_DEPTH = 16
_UINT256_MAX = 2**256 - 1
_BIGINT_MAX = 2**63 - 1


def check_address(value: object, what: str = "address") -> str:
    """`value` if it is an EIP-55 checksummed address, else AnalyticsError(invalid_address)."""
    if not isinstance(value, str) or not is_checksum_address(value):
        raise AnalyticsError(
            "invalid_address", f"{what} must be an EIP-55 checksummed address: {value!r:.60}"
        )
    return value


def check_id(value: object, what: str) -> str:
    """`value` if it is 1..64 characters of [A-Za-z0-9_-] (session and turn ids)."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise AnalyticsError("invalid_id", f"{what} must be 1..64 characters of [A-Za-z0-9_-]: {value!r:.80}")
    return value


def check_name(value: object, what: str) -> str:
    """`value` if it is 1..64 characters of [A-Za-z0-9_.:-] (intents, tools, codes)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise AnalyticsError(
            "invalid_name", f"{what} must be 1..64 characters of [A-Za-z0-9_.:-]: {value!r:.80}"
        )
    return value


def check_time(value: object, what: str = "at") -> float:
    """`value` as a float if it is a finite, non-negative number of seconds or milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise AnalyticsError("invalid_number", f"{what} must be a finite number >= 0: {value!r:.40}")
    return float(value)


def check_limit(value: object) -> int:
    """`value` if it is an int in 1..200 (the page size of history and audit queries)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE:
        raise AnalyticsError("invalid_limit", f"limit must be an integer in 1..{MAX_PAGE}: {value!r:.40}")
    return value


def check_role(value: object) -> Role:
    """`value` if it is "user" or "admin"."""
    for role in ROLES:
        if value == role:
            return role
    raise AnalyticsError("invalid_role", f"role must be one of {', '.join(ROLES)}: {value!r:.40}")


def check_turn(turn: TurnRecord) -> str:
    """Validate a turn; returns its latency as the JSON text to store."""
    check_address(turn.address)
    check_id(turn.session_id, "session id")
    check_id(turn.turn_id, "turn id")
    check_time(turn.at)
    _check_text(turn.transcript, "transcript")
    _check_text(turn.reply, "reply")
    check_name(turn.intent, "intent")
    latency = turn.latency_ms
    if not isinstance(latency, dict) or len(latency) > MAX_LATENCY_ENTRIES:
        raise AnalyticsError(
            "too_large", f"latency_ms must be a dict of at most {MAX_LATENCY_ENTRIES} entries"
        )
    clean = {check_name(k, "latency stage"): check_time(v, f"latency of {k}") for k, v in latency.items()}
    return json.dumps(clean, separators=(",", ":"))


def check_tool_call(call: ToolCallRecord) -> None:
    """Validate a tool call."""
    check_address(call.address)
    check_id(call.turn_id, "turn id")
    check_name(call.server, "server")
    check_name(call.tool, "tool")
    if not isinstance(call.ok, bool):
        raise AnalyticsError("invalid_number", f"ok must be a bool: {call.ok!r:.40}")
    if call.error_code is not None:
        check_name(call.error_code, "error code")
    check_time(call.duration_ms, "duration_ms")
    check_time(call.at)


def check_transaction(tx: TransactionRecord) -> None:
    """Validate a transaction."""
    check_address(tx.address)
    if not isinstance(tx.tx_hash, str) or not _TX_HASH.fullmatch(tx.tx_hash):
        raise AnalyticsError(
            "invalid_tx", f"tx hash must be 0x and 64 lower-case hex digits: {tx.tx_hash!r:.80}"
        )
    chain_id = tx.chain_id
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 1 <= chain_id <= _BIGINT_MAX:
        raise AnalyticsError("invalid_tx", f"chain id must be a positive integer: {chain_id!r:.40}")
    if tx.to is not None:
        check_address(tx.to, "to")
    if not isinstance(tx.value, str) or not _WEI.fullmatch(tx.value) or int(tx.value) > _UINT256_MAX:
        raise AnalyticsError("invalid_tx", f"value must be a decimal uint256 string of wei: {tx.value!r:.90}")
    check_name(tx.status, "status")
    check_time(tx.at)


def check_audit(event: AuditEvent) -> str:
    """Validate an audit event; returns its detail as the JSON text to store."""
    check_name(event.kind, "kind")
    check_name(event.reason, "reason")
    if event.address is not None:
        check_address(event.address)
    if event.ip_hash is not None and (
        not isinstance(event.ip_hash, str) or not _IP_HASH.fullmatch(event.ip_hash)
    ):
        raise AnalyticsError("invalid_detail", "ip_hash must be 16..128 lower-case hex digits (a keyed hash)")
    check_time(event.at)
    return audit_detail_json(event.detail)


def audit_detail_json(detail: object) -> str:
    """`detail` as compact JSON text: an object of JSON values, at most 8 KiB, naming no address."""
    if not isinstance(detail, dict):
        raise AnalyticsError("invalid_detail", "detail must be a dict")
    # Checked by hand, not left to json.dumps: it would turn int keys and tuples into other types
    # (the round trip would differ) and PostgreSQL refuses NUL characters that SQLite accepts.
    _check_json(detail, 0)
    text = json.dumps(detail, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > MAX_DETAIL_BYTES:
        raise AnalyticsError("too_large", f"detail is larger than {MAX_DETAIL_BYTES} bytes as JSON")
    if _ADDRESS_IN_TEXT.search(text):
        raise AnalyticsError(
            "invalid_detail", "detail must not name addresses: put the user's in `address` (it is erasable)"
        )
    return text


def _check_text(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise AnalyticsError("invalid_text", f"{what} must be a string")
    if len(value) > MAX_TEXT_CHARS:
        raise AnalyticsError("too_large", f"{what} is longer than {MAX_TEXT_CHARS} characters")
    _check_string(value, what)


def _check_string(value: str, what: str, code: str = "invalid_text") -> None:
    if "\x00" in value:
        raise AnalyticsError(code, f"{what} contains a NUL character")
    try:
        value.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate: no database can store it as UTF-8
        raise AnalyticsError(code, f"{what} is not valid Unicode text") from exc


def _check_json(value: object, depth: int) -> None:
    if depth > _MAX_JSON_DEPTH:
        raise AnalyticsError("invalid_detail", f"detail is nested deeper than {_MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AnalyticsError("invalid_detail", "detail holds a NaN or infinite number")
    elif isinstance(value, str):
        _check_string(value, "detail", "invalid_detail")
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AnalyticsError("invalid_detail", f"detail keys must be strings: {key!r:.40}")
            _check_string(key, "detail", "invalid_detail")
            _check_json(item, depth + 1)
    else:
        raise AnalyticsError("invalid_detail", f"detail holds a {type(value).__name__}, not a JSON value")
