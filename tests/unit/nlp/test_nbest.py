"""Choosing among speech hypotheses: sense breaks near-ties in sound, never a clear first choice,
and never promotes a yes."""

from __future__ import annotations

import pytest

from nlp.intent import IntentName
from nlp.nbest import choose, sense
from nlp.recognizer import Recognizer

pytestmark = pytest.mark.unit

recognize = Recognizer().recognize


def test_a_runner_up_that_makes_sense_wins_a_near_tie() -> None:
    choice = choose(
        [
            ("can you send a quarter 0G today please", -0.21),
            ("can you send a quarter 0G to dave please", -0.33),
        ],
        recognize,
    )
    assert choice is not None
    assert choice.index == 1
    assert choice.intent.slots["contact"] == "dave"


def test_clear_speech_keeps_the_first_choice() -> None:
    choice = choose([("send 1 0G today", -0.1), ("send 1 0G to dave", -1.5)], recognize)
    assert choice is not None
    assert choice.index == 0


def test_a_known_contact_outweighs_a_stranger() -> None:
    hypotheses = [("send 1 0G to marcus", -0.30), ("send 1 0G to markus", -0.35)]
    first = choose(hypotheses, recognize)
    known = choose(hypotheses, recognize, contacts={"markus"})
    assert first is not None
    assert known is not None
    assert (first.index, known.index) == (0, 1)


def test_a_yes_is_never_taken_from_the_runners_up() -> None:
    choice = choose([("what is the gas pricey", -0.2), ("yes", 0.0)], recognize)
    assert choice is not None
    assert choice.intent.name is not IntentName.CONFIRM
    assert choose([("yes", -0.5), ("gas price", -0.6)], recognize) is not None


def test_nothing_to_choose_is_none() -> None:
    assert choose([], recognize) is None
    assert choose([("  ", 0.0)], recognize) is None


def test_sense_rewards_complete_requests_and_file_extensions() -> None:
    complete = sense(recognize("send 1 0G to bob"))
    assert complete > sense(recognize("send 1 0G"))
    assert sense(recognize("store report.pdf")) > sense(recognize("store report.xyzq"))
