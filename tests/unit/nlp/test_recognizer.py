from __future__ import annotations

import pytest

from nlp import IntentName, RuleRecognizer, clean_text

pytestmark = pytest.mark.unit

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def recognize(text: str) -> tuple[IntentName, dict[str, str | int]]:
    intent = RuleRecognizer().recognize(clean_text(text))
    return intent.name, intent.slots


@pytest.mark.parametrize(
    "text",
    [
        "what is my balance",
        "What's my balance?",
        "how much 0G do I have",
        "check my wallet",
        "balance",
        "how much money do i have",
    ],
)
def test_own_balance_has_no_address_slot(text: str) -> None:
    assert recognize(text) == (IntentName.BALANCE, {})


@pytest.mark.parametrize(
    "text",
    [
        f"how much does {ADDRESS} have",
        f"what is the balance of {ADDRESS}",
        f"balance of {ADDRESS.lower()}?",
        ADDRESS,
    ],
)
def test_balance_of_an_address_keeps_the_address_as_typed(text: str) -> None:
    name, slots = recognize(text)
    assert name is IntentName.BALANCE
    assert str(slots["address"]).lower() == ADDRESS.lower()


def test_a_malformed_address_is_kept_so_the_user_hears_it_is_wrong() -> None:
    assert recognize("how much does 0x1234 have") == (IntentName.BALANCE, {"address": "0x1234"})


@pytest.mark.parametrize(
    ("text", "contact"),
    [("what is alice's balance", "alice"), ("how much does bob have", "bob"), ("balance of carol", "carol")],
)
def test_someone_elses_balance_is_never_answered_with_mine(text: str, contact: str) -> None:
    assert recognize(text) == (IntentName.BALANCE, {"contact": contact})


@pytest.mark.parametrize(
    "text",
    [
        "what is the latest block",
        "what's the latest block?",
        "current block number",
        "what is the black number",
        "what is the latest log",
        "what's the latest clock",
        "What is the latest luck?",
        "what is the current lock number",
        "block height please",
        "how many blocks are there",
    ],
)
def test_latest_block(text: str) -> None:
    assert recognize(text) == (IntentName.BLOCK, {"block": "latest"})


@pytest.mark.parametrize("text", ["what is the gas price", "how much is gas right now", "gas fees?"])
def test_gas_price(text: str) -> None:
    assert recognize(text)[0] is IntentName.GAS_PRICE


@pytest.mark.parametrize("text", ["which network am i on", "what chain is this", "chain id"])
def test_chain_info(text: str) -> None:
    assert recognize(text)[0] is IntentName.CHAIN_INFO


@pytest.mark.parametrize("text", ["help", "what can you do"])
def test_help(text: str) -> None:
    assert recognize(text)[0] is IntentName.HELP


@pytest.mark.parametrize("text", ["tell me a joke", "asdf qwer", "the weather in paris", "send"])
def test_unknown_has_zero_confidence(text: str) -> None:
    intent = RuleRecognizer().recognize(clean_text(text))
    assert intent.name is IntentName.UNKNOWN
    assert intent.confidence == 0.0
