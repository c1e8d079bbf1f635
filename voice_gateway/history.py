"""Signed-in users' turns in the analytics store: what they said, what was understood and answered, the
latency breakdown, the tool calls and the transactions sent.

History observes turns; it never takes part in them. A failed write is logged and dropped here, at
this one boundary, because a user's answer (or their transfer) must not fail or wait because the
analytics database is slow or down; nothing else in the turn swallows errors. Every write has a time
budget for the same reason, and a socket's writes happen in an owned task off the turn's path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Final

import anyio

from task_interpreter import TurnOutcome
from voice_gateway.analytics.store import (
    AnalyticsStore,
    Role,
    ToolCallRecord,
    TransactionRecord,
    TurnRecord,
)

log = logging.getLogger(__name__)

# Tools whose result names a transaction sent for the user (single transfer, batch).
_SEND_TOOLS: Final = frozenset({"confirm_transfer", "send_signed_transfer"})
_BATCH_TOOL: Final = "confirm_batch_transfer"
_NATIVE: Final = "0G"
MAX_PENDING_TURNS: Final = 64


@dataclass(frozen=True, slots=True)
class CompletedTurn:
    """A finished turn as history records it.

    Attributes:
        turn_id: the turn's id on the wire.
        outcome: what the interpreter understood, did and answered.
        latency_ms: the turn's latency breakdown (stage to milliseconds).
        at: when it finished (Unix seconds).
        confirmed: the summary of the confirmation that was pending when the turn began (what a
            "yes" sent); None when none was.
    """

    turn_id: str
    outcome: TurnOutcome
    latency_ms: dict[str, float]
    at: float
    confirmed: dict[str, Any] | None = None


def http_session_id(access_session: str) -> str:
    """The analytics session of HTTP turns: one per sign-in session, named without revealing its id."""
    return "h" + hashlib.sha256(access_session.encode()).hexdigest()[:31]


def sent_transactions(address: str, turn: CompletedTurn) -> list[TransactionRecord]:
    """The transactions a turn sent, from its tool results and the summary the user confirmed.

    A native transfer goes to the recipient with the amount as value; a token transfer is a call of
    the token contract with no value.
    """
    summary = turn.confirmed
    if summary is None:
        return []
    chain_id = summary.get("chain_id")
    asset = summary.get("asset")
    if not isinstance(chain_id, int) or not isinstance(asset, str):
        return []
    sent: list[tuple[object, object, object, object]] = []
    for result in turn.outcome.results:
        data = result.data
        if not result.ok or data is None:
            continue
        if result.call.tool in _SEND_TOOLS:
            sent.append(
                (summary.get("to"), summary.get("amount_base_units"), data.get("tx_hash"), data.get("status"))
            )
        elif result.call.tool == _BATCH_TOOL:
            lines = summary.get("transfers")
            transfers = data.get("transfers")
            if isinstance(lines, list) and isinstance(transfers, list):
                for line, transfer in zip(lines, transfers, strict=False):
                    if isinstance(line, dict) and isinstance(transfer, dict):
                        sent.append(
                            (
                                line.get("to"),
                                line.get("amount_base_units"),
                                transfer.get("tx_hash"),
                                transfer.get("status"),
                            )
                        )
    records = []
    for to, value, tx_hash, status in sent:
        if not isinstance(tx_hash, str) or not isinstance(to, str) or not isinstance(value, str):
            continue
        native = asset == _NATIVE
        records.append(
            TransactionRecord(
                address=address,
                tx_hash=tx_hash.lower(),
                chain_id=chain_id,
                to=to if native else asset,
                value=value if native else "0",
                status=str(status or "submitted"),
                at=turn.at,
            )
        )
    return records


class HistoryRecorder:
    """Writes signed-in users' sessions and turns to an `AnalyticsStore`, never raising.

    Args:
        store: the analytics store (the caller owns its lifecycle).
        timeout_s: the most one write may take before it is abandoned.
    """

    def __init__(self, store: AnalyticsStore, timeout_s: float = 1.0) -> None:
        self._store = store
        self._timeout_s = timeout_s

    async def session_started(self, address: str, role: str, session_id: str) -> None:
        """The user's first contact in a session: the user row, then the session row."""
        if await self._guard("user", self._store.upsert_user(address, _role(role))):
            await self._guard("session start", self._store.start_session(session_id, address, time.time()))

    async def session_ended(self, session_id: str) -> None:
        """A socket session closed."""
        await self._guard("session end", self._store.end_session(session_id, time.time()))

    async def turn(self, address: str, session_id: str, turn: CompletedTurn) -> None:
        """One turn of a started session, then its tool calls and the transactions it sent."""
        outcome = turn.outcome
        record = TurnRecord(
            address=address,
            session_id=session_id,
            turn_id=turn.turn_id,
            at=turn.at,
            transcript=outcome.transcript,
            intent=outcome.intent.name.value,
            reply=outcome.reply,
            latency_ms={k: float(v) for k, v in turn.latency_ms.items()},
        )
        if not await self._guard("turn", self._store.record_turn(record)):
            return
        for result in outcome.results:
            call = ToolCallRecord(
                address=address,
                turn_id=turn.turn_id,
                server=result.call.server,
                tool=result.call.tool,
                ok=result.ok,
                error_code=None if result.error is None else result.error.code,
                duration_ms=float(result.latency_ms),
                at=turn.at,
            )
            await self._guard("tool call", self._store.record_tool_call(call))
        for tx in sent_transactions(address, turn):
            await self._guard("transaction", self._store.record_transaction(tx))

    async def http_turn(self, address: str, role: str, access_session: str, turn: CompletedTurn) -> None:
        """A turn asked over HTTP: recorded in the sign-in session's HTTP session."""
        session_id = http_session_id(access_session)
        await self.session_started(address, role, session_id)
        await self.turn(address, session_id, turn)

    async def _guard(self, what: str, write: Awaitable[None]) -> bool:
        # The one place history failures stop (see the module docstring): logged, then dropped.
        try:
            with anyio.fail_after(self._timeout_s):
                await write
        except Exception as exc:
            log.warning("history not recorded (%s): %s", what, getattr(exc, "code", type(exc).__name__))
            return False
        return True


class SessionHistory:
    """One socket's history, written in order by `run` (an owned task) while turns go on.

    `add` never waits: past `MAX_PENDING_TURNS` unwritten turns (a stalled database), turns are
    dropped and logged rather than held in memory.
    """

    def __init__(self, recorder: HistoryRecorder, address: str, role: str) -> None:
        self._recorder = recorder
        self._address = address
        self._role = role
        self._queue: asyncio.Queue[CompletedTurn | None] = asyncio.Queue()
        self._pending = 0

    def add(self, turn: CompletedTurn) -> None:
        """Queue a finished turn for writing."""
        if self._pending >= MAX_PENDING_TURNS:
            log.warning("history not recorded (turn): too many turns waiting")
            return
        self._pending += 1
        self._queue.put_nowait(turn)

    def close(self) -> None:
        """No more turns: `run` writes what is queued, ends the session and returns."""
        self._queue.put_nowait(None)

    async def run(self, session_id: str) -> None:
        """Start the session, write turns as they come until `close`, then end the session."""
        await self._recorder.session_started(self._address, self._role, session_id)
        while (turn := await self._queue.get()) is not None:
            self._pending -= 1
            await self._recorder.turn(self._address, session_id, turn)
        await self._recorder.session_ended(session_id)

    async def finish(self, task: asyncio.Task[None], timeout_s: float) -> None:
        """Close, give the writer `task` up to `timeout_s` to finish, then cancel it."""
        self.close()
        await asyncio.wait([task], timeout=timeout_s)
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            log.error("the history writer failed", exc_info=task.exception())


def _role(role: str) -> Role:
    return "admin" if role == "admin" else "user"
