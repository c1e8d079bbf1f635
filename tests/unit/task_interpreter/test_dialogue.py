"""Dialogue references and the planner's transfer decisions, without any tool server."""

from __future__ import annotations

import pytest

from nlp import Intent, IntentName
from task_interpreter.dialogue import Dialogue, PendingConfirmation, PendingQuestion, resolve_references
from task_interpreter.plan import ResultRef
from task_interpreter.planner import Planner, TurnContext, native_amount

pytestmark = pytest.mark.unit

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CONTACTS = {"alice": ALICE, "bob": BOB}


def transfer(**slots: object) -> Intent:
    return Intent(IntentName.TRANSFER, dict(slots), 0.95)  # type: ignore[arg-type]


def plan(intent: Intent):  # type: ignore[no-untyped-def]
    return Planner().plan(intent, TurnContext(ALICE, CONTACTS))


def test_a_transfer_to_a_contact_prepares_exactly_that() -> None:
    made = plan(transfer(amount="0.5", asset="0G", contact="alice"))
    assert [(c.tool, c.arguments) for c in made.calls] == [
        ("prepare_transfer", {"to": ALICE, "amount": "0.5", "asset": "0G"})
    ]


def test_several_contacts_are_one_batch() -> None:
    made = plan(transfer(amount="1", asset="0G", contacts=["alice", "bob"]))
    assert made.calls[0].tool == "prepare_batch_transfer"
    assert made.calls[0].arguments["transfers"] == [{"to": ALICE, "amount": "1"}, {"to": BOB, "amount": "1"}]


@pytest.mark.parametrize(
    ("intent", "question", "words"),
    [
        (transfer(amount="1", asset="0G"), "recipient", "Who"),
        (transfer(asset="0G", contact="alice"), "amount", "How much"),
        (transfer(amount="1", asset="0G", contact="zed"), None, "don't know who zed"),
        (transfer(amount="1", asset="USDC", contact="alice"), None, "USDC token"),
    ],
)
def test_what_cannot_be_prepared_is_asked_or_explained(
    intent: Intent, question: str | None, words: str
) -> None:
    made = plan(intent)
    assert made.calls == ()
    assert made.question == question
    assert made.direct_reply is not None
    assert words in made.direct_reply


def test_sub_units_become_whole_0g_exactly() -> None:
    assert native_amount({"amount": "300", "unit": "gwei"}) == "0.0000003"
    assert native_amount({"amount": "5000", "unit": "neuron"}) == "0.000000000000005"
    assert native_amount({"amount": "2"}) == "2"
    assert native_amount({}) is None


def test_confirming_waits_for_the_transaction_it_sent() -> None:
    made = Planner.confirm("confirm_transfer", "h")
    assert [c.tool for c in made.calls] == ["confirm_transfer", "wait_for_transaction"]
    assert made.calls[1].arguments["tx_hash"] == ResultRef(0, "tx_hash")
    assert [c.tool for c in Planner.confirm("confirm_batch_transfer", "h").calls] == [
        "confirm_batch_transfer"
    ]


def test_references_to_earlier_turns() -> None:
    dialogue = Dialogue(last_intent=Intent(IntentName.BALANCE, {"contact": "alice"}, 0.95))
    about = resolve_references(Intent(IntentName.UNKNOWN), "what about bob", dialogue)
    assert (about.name, about.slots) == (IntentName.BALANCE, {"contact": "bob"})
    dialogue.last_intent = transfer(amount="0.5", asset="0G", contact="alice")
    same = resolve_references(transfer(asset="0G", contact="bob"), "send the same to bob", dialogue)
    assert same.slots == {"asset": "0G", "contact": "bob", "amount": "0.5"}
    again = resolve_references(Intent(IntentName.UNKNOWN), "do it again", dialogue)
    assert again == dialogue.last_intent


def test_an_answer_fills_the_pending_question() -> None:
    dialogue = Dialogue(question=PendingQuestion(transfer(amount="1", asset="0G"), "recipient"))
    filled = resolve_references(Intent(IntentName.UNKNOWN), "bob", dialogue)
    assert filled.slots == {"amount": "1", "asset": "0G", "contact": "bob"}
    dialogue = Dialogue(question=PendingQuestion(transfer(asset="0G", contact="bob"), "amount"))
    assert resolve_references(Intent(IntentName.UNKNOWN), "0.25", dialogue).slots["amount"] == "0.25"


def test_a_pending_confirmation_lapses_and_an_interruption_unhears_it() -> None:
    now = [0.0]
    dialogue = Dialogue(clock=lambda: now[0])
    dialogue.pending = PendingConfirmation("confirm_transfer", "h", "Send?", {}, ["alice"], expires_at=100.0)
    dialogue.prompt_interrupted()
    assert dialogue.pending_confirmation() is not None
    assert dialogue.pending is not None
    assert dialogue.pending.heard is False
    now[0] = 100.0
    assert dialogue.pending_confirmation() is None


def test_a_slightly_misheard_contact_is_the_closest_saved_one() -> None:
    made = plan(transfer(amount="1", asset="0G", contact="alise"))
    assert made.calls[0].arguments["to"] == ALICE
    # Too far from every contact, or close to two: not guessed.
    assert plan(transfer(amount="1", asset="0G", contact="above")).calls == ()
    twins = Planner().plan(
        transfer(amount="1", asset="0G", contact="jon"), TurnContext(ALICE, {"jan": ALICE, "jen": BOB})
    )
    assert twins.calls == ()
