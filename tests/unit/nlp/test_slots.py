"""Slot finders on utterances written for these tests (the evaluation suites are never used here)."""

from __future__ import annotations

import pytest

from nlp.entities import (
    checksum,
    find_address,
    find_amount,
    find_block,
    find_file_name,
    find_owner,
    find_recipients,
    find_spelled_address,
)
from nlp.free_text import find_fact, find_mode, find_note, find_persona
from nlp.intent import IntentName
from nlp.recognizer import Recognizer
from nlp.speech import light_form, speech_form

pytestmark = pytest.mark.unit

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.mark.parametrize(
    ("said", "form"),
    [
        ("Send half a 0G to Alice.", "send 0.5 0g to alice"),
        ("what's the latest black", "what is the latest block"),
        ("sand 5 oh gee to bob", "send 5 0g to bob"),
        ("uh store report dot pdf on zero g", "store report.pdf on 0g"),
        ("pay 1,000 usdc to carol", "pay 1000 usdc to carol"),
        ("check the gas prize", "check the gas price"),
        ("what happened to my last trans action", "what happened to my last transaction"),
    ],
)
def test_speech_form(said: str, form: str) -> None:
    assert speech_form(said) == form


def test_light_form_keeps_the_words_as_said() -> None:
    assert (
        light_form("Um, remember I'm turning twenty-one on Friday.")
        == "remember i'm turning twenty one on friday"
    )


@pytest.mark.parametrize(
    ("said", "value", "asset", "unit"),
    [
        ("send 0.5 0g to alice", "0.5", "0G", None),
        ("send 20 usdc to bob", "20", "USDC", None),
        ("send 300 gwei to bob", "300", "0G", "gwei"),
        ("transfer 2.50 to dave", "2.5", "0G", None),
        ("send 7 zork to erin", "7", "ZORK", None),
    ],
)
def test_amounts(said: str, value: str, asset: str, unit: str | None) -> None:
    amount = find_amount(speech_form(said))
    assert amount is not None
    assert (amount.value, amount.asset, amount.unit) == (value, asset, unit)


def test_an_amount_is_never_taken_from_a_block_number() -> None:
    assert find_amount(speech_form("show block 42")) is None


def test_addresses_typed_spelled_and_malformed() -> None:
    assert checksum(ADDRESS.lower()) == ADDRESS
    assert checksum(ADDRESS[:-1] + "c") is None  # mixed case with a wrong checksum
    assert find_address(f"send 1 0g to {ADDRESS.lower()}", "") == ADDRESS
    spelled = "zero x " + " ".join(ADDRESS[2:].lower())
    assert find_spelled_address(speech_form(spelled)) == ADDRESS
    assert find_spelled_address(speech_form("zero x seven zero nine")) is None  # too short
    assert find_address("balance of 0x1234", "balance of 0x1234") == "0x1234"  # kept to be refused


@pytest.mark.parametrize(
    ("said", "names"),
    [
        ("send 1 0g to alice", ["alice"]),
        ("send 1 0g each to alice bob and carol", ["alice", "bob", "carol"]),
        ("give dave and erin 3 0g each", ["dave", "erin"]),
        ("pay back frank 2 0g", ["frank"]),
        ("send it to him", []),
    ],
)
def test_recipients(said: str, names: list[str]) -> None:
    assert find_recipients(speech_form(said)) == names


@pytest.mark.parametrize(
    ("said", "owner"),
    [("what is alice's balance", "alice"), ("does bob have any 0g", "bob"), ("what is my balance", None)],
)
def test_owners(said: str, owner: str | None) -> None:
    assert find_owner(speech_form(said)) == owner


@pytest.mark.parametrize(
    ("said", "block"),
    [("block 1234", 1234), ("the genesis block", 0), ("latest block", "latest"), ("the 5th block", 5)],
)
def test_blocks(said: str, block: int | str) -> None:
    assert find_block(speech_form(said)) == block


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("upload tax return dot pdf", "tax return.pdf"),
        ("store the file called archive dot tar dot gz", "archive.tar.gz"),
        ("fetch notes.md from storage", "notes.md"),
        ("store 0.5", None),
    ],
)
def test_file_names(said: str, name: str | None) -> None:
    assert find_file_name(speech_form(said)) == name


def test_free_text_slots_keep_the_users_words() -> None:
    assert (
        find_note(light_form("save a note to oh gee saying call the bank at nine")) == "call the bank at nine"
    )
    assert find_note(light_form("note to self water the ferns")) == "water the ferns"
    assert find_fact(light_form("remember that I'm left handed.")) == "i'm left handed"
    assert find_fact(light_form("i drive a blue van remember that")) == "i drive a blue van"
    assert find_persona(light_form("talk like a robot from now on")) == "a robot"
    assert find_mode(light_form("give me shorter answers")) == "short"
    assert find_mode(light_form("please explain in more depth")) == "detailed"


@pytest.mark.parametrize(
    ("said", "intent", "slots"),
    [
        ("yes do it", IntentName.CONFIRM, {}),
        ("no cancel that", IntentName.CANCEL, {}),
        (
            "send half a 0g to alice",
            IntentName.TRANSFER,
            {"amount": "0.5", "asset": "0G", "contact": "alice"},
        ),
        (
            f"remember zoe is {ADDRESS.lower()}",
            IntentName.REMEMBER_CONTACT,
            {"contact": "zoe", "address": ADDRESS},
        ),
        ("store a note saying buy milk", IntentName.STORE_NOTE, {"note": "buy milk"}),
        ("did my payment go through", IntentName.TX_STATUS, {"tx_ref": "last"}),
        ("swap 10 usdc for 0g", IntentName.UNKNOWN, {}),
    ],
)
def test_rules_alone_recognize_the_clear_cases(
    said: str, intent: IntentName, slots: dict[str, object]
) -> None:
    recognized = Recognizer().recognize(said)
    assert recognized.name is intent
    assert recognized.slots == slots
