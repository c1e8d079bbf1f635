from __future__ import annotations

import pytest

from nlp import Intent, IntentName
from task_interpreter import Planner, ToolCall, TurnContext

pytestmark = pytest.mark.unit

ME = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def plan_for(name: IntentName, slots: dict[str, str | int] | None = None, me: str | None = ME):  # type: ignore[no-untyped-def]
    return Planner().plan(Intent(name, slots or {}, 0.9), TurnContext(user_address=me))


def test_my_balance_reads_my_address() -> None:
    assert plan_for(IntentName.BALANCE).calls == (ToolCall("chain", "get_balance", {"address": ME}),)


def test_balance_of_an_address_reads_that_address() -> None:
    plan = plan_for(IntentName.BALANCE, {"address": OTHER})
    assert plan.calls == (ToolCall("chain", "get_balance", {"address": OTHER}),)


def test_my_balance_without_a_wallet_asks_to_connect_one() -> None:
    plan = plan_for(IntentName.BALANCE, me=None)
    assert plan.calls == ()
    assert plan.direct_reply is not None
    assert "wallet" in plan.direct_reply


def test_unknown_contact_is_not_replaced_by_my_address() -> None:
    plan = plan_for(IntentName.BALANCE, {"contact": "alice"})
    assert plan.calls == ()
    assert plan.direct_reply is not None
    assert "alice" in plan.direct_reply


@pytest.mark.parametrize(
    ("name", "tool"),
    [
        (IntentName.BLOCK, "get_block_number"),
        (IntentName.GAS_PRICE, "get_gas_price"),
        (IntentName.CHAIN_INFO, "chain_info"),
    ],
)
def test_read_intents_plan_one_chain_call(name: IntentName, tool: str) -> None:
    assert plan_for(name).calls == (ToolCall("chain", tool, {}),)


@pytest.mark.parametrize("name", [IntentName.UNKNOWN, IntentName.HELP])
def test_unknown_and_help_answer_without_tools(name: IntentName) -> None:
    plan = plan_for(name)
    assert plan.calls == ()
    assert plan.direct_reply is not None
    assert "balance" in plan.direct_reply
