from __future__ import annotations

import pytest

from nlp import Intent, IntentName
from task_interpreter import Plan, ToolCall, ToolResult, compose_reply
from task_interpreter.executor import ToolError
from task_interpreter.replies import shorten_address

pytestmark = pytest.mark.unit

ME = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BALANCE_CALL = ToolCall("chain", "get_balance", {"address": ME})


def balance_result(address: str, display: str) -> ToolResult:
    data = {"address": address, "display": display, "symbol": "0G", "balance": display, "balance_neuron": "1"}
    return ToolResult(BALANCE_CALL, data, None, 1.0)


def reply(intent: IntentName, results: list[ToolResult]) -> str:
    return compose_reply(Intent(intent, {}, 0.9), Plan(calls=(BALANCE_CALL,)), results, ME)


def test_own_balance_is_said_as_you_have() -> None:
    assert reply(IntentName.BALANCE, [balance_result(ME, "10000")]) == "You have 10,000 0G."


def test_other_balance_names_the_short_address() -> None:
    assert reply(IntentName.BALANCE, [balance_result(OTHER, "1.5")]) == "The address 0x7099…79C8 has 1.5 0G."


def test_block_numbers_are_grouped() -> None:
    result = ToolResult(ToolCall("chain", "get_block_number"), {"block_number": 1234567}, None, 1.0)
    assert reply(IntentName.BLOCK, [result]) == "The latest block is number 1,234,567."


def test_the_first_failure_decides_the_reply() -> None:
    failed = ToolResult(BALANCE_CALL, None, ToolError("chain_unreachable", "down"), 1.0)
    assert "can't reach" in reply(IntentName.BALANCE, [failed])


def test_invalid_address_explains_why() -> None:
    failed = ToolResult(BALANCE_CALL, None, ToolError("invalid_address", "bad checksum"), 1.0)
    assert reply(IntentName.BALANCE, [failed]) == "That address doesn't look right: bad checksum."


def test_direct_reply_wins() -> None:
    assert compose_reply(Intent(IntentName.HELP), Plan(direct_reply="hi"), [], ME) == "hi"


def test_shorten_address() -> None:
    assert shorten_address(OTHER) == "0x7099…79C8"
    assert shorten_address("0x12") == "0x12"
