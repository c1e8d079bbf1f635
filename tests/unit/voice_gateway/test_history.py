"""History recording: the transactions a confirmed turn sent, and a store that fails or hangs never
reaching the turn."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from nlp import Intent, IntentName
from task_interpreter import Plan, ToolResult, TurnOutcome
from task_interpreter.plan import ToolCall
from voice_gateway.analytics import AnalyticsUnavailable, TurnRecord
from voice_gateway.history import CompletedTurn, HistoryRecorder, sent_transactions

pytestmark = pytest.mark.unit

ME = "0x" + "11" * 20
BOB = "0x" + "22" * 20
CAROL = "0x" + "33" * 20
TOKEN = "0x" + "44" * 20
HASH = "0x" + "AB" * 32


def _turn(tool: str, data: dict[str, Any], confirmed: dict[str, Any] | None) -> CompletedTurn:
    call = ToolCall("chain", tool, {"handle": "h"})
    outcome = TurnOutcome(
        "yes", Intent(IntentName.CONFIRM), Plan((call,)), [ToolResult(call, data, None, 12.0)], "Sent."
    )
    return CompletedTurn("t1", outcome, {"reply_ms": 3.0}, 1_700_000_000.0, confirmed)


def test_a_confirmed_native_transfer_is_one_transaction_to_the_recipient() -> None:
    summary = {"chain_id": 16602, "asset": "0G", "to": BOB, "amount_base_units": "5000"}
    [tx] = sent_transactions(ME, _turn("confirm_transfer", {"tx_hash": HASH, "status": "submitted"}, summary))
    assert (tx.address, tx.tx_hash, tx.chain_id, tx.to, tx.value, tx.status) == (
        ME,
        HASH.lower(),
        16602,
        BOB,
        "5000",
        "submitted",
    )


def test_a_token_batch_is_one_contract_call_per_line_without_value() -> None:
    summary = {
        "chain_id": 16602,
        "asset": TOKEN,
        "transfers": [{"to": BOB, "amount_base_units": "1"}, {"to": CAROL, "amount_base_units": "2"}],
    }
    sent = {
        "transfers": [{"tx_hash": HASH, "status": "submitted"}, {"tx_hash": HASH[:-1] + "c", "status": "x"}]
    }
    txs = sent_transactions(ME, _turn("confirm_batch_transfer", sent, summary))
    assert [(tx.to, tx.value) for tx in txs] == [(TOKEN, "0"), (TOKEN, "0")]


def test_nothing_was_sent_without_a_confirmation_or_a_hash() -> None:
    assert sent_transactions(ME, _turn("confirm_transfer", {"tx_hash": HASH}, None)) == []
    summary = {"chain_id": 16602, "asset": "0G", "to": BOB, "amount_base_units": "5"}
    assert sent_transactions(ME, _turn("get_balance", {"balance": "1"}, summary)) == []


class _BrokenStore:
    def __init__(self, hang: bool) -> None:
        self.hang = hang

    async def _fail(self, *args: object) -> None:
        if self.hang:
            await anyio.sleep_forever()
        raise AnalyticsUnavailable("unavailable", "the database is down")

    upsert_user = start_session = end_session = _fail

    async def record_turn(self, turn: TurnRecord) -> None:
        await self._fail()


@pytest.mark.anyio
@pytest.mark.parametrize("hang", [False, True])
async def test_a_failing_or_hanging_store_is_logged_and_never_raised(
    hang: bool, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = HistoryRecorder(_BrokenStore(hang), timeout_s=0.05)  # type: ignore[arg-type]  # partial fake
    with anyio.fail_after(2):
        await recorder.http_turn(ME, "user", "family", _turn("get_balance", {}, None))
        await recorder.turn(ME, "s1", _turn("get_balance", {}, None))
    assert [r.getMessage() for r in caplog.records if r.name == "voice_gateway.history"]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "voice_gateway.history")
