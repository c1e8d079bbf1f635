from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_gateway.voice.heard import SpokenSentence, heard_text

pytestmark = pytest.mark.unit

REPLY = [
    SpokenSentence("You have 5 0G.", 1000),
    SpokenSentence("Do you want to send some now?", 2000),  # 7 words
    SpokenSentence("Say cancel to stop.", 1000),
]
EVERYTHING = "You have 5 0G. Do you want to send some now? Say cancel to stop."


def words(text: str) -> list[str]:
    return [w for w in text.split() if w != "…"]


def test_nothing_played_means_nothing_heard() -> None:
    assert heard_text(REPLY, 0) == ""


def test_everything_played_means_every_sentence_heard() -> None:
    assert heard_text(REPLY, 4000) == EVERYTHING


def test_playing_past_the_end_is_everything() -> None:
    assert heard_text(REPLY, 60_000) == EVERYTHING


def test_a_whole_first_sentence_is_heard_without_an_ellipsis() -> None:
    assert heard_text(REPLY, 1000) == "You have 5 0G."


def test_mid_second_sentence_keeps_a_proportional_share_of_its_words() -> None:
    # Half of the second sentence: 3 of its 7 words (rounded down), marked as cut off.
    assert heard_text(REPLY, 2000) == "You have 5 0G. Do you want …"


def test_mid_first_sentence() -> None:
    assert heard_text(REPLY, 750) == "You have 5 …"


def test_too_little_of_a_sentence_for_a_word_adds_nothing() -> None:
    assert heard_text(REPLY, 1100) == "You have 5 0G."


def test_nothing_spoken() -> None:
    assert heard_text([], 500) == ""


def test_negative_played_is_nothing() -> None:
    assert heard_text(REPLY, -100) == ""


@given(
    durations=st.lists(st.floats(1, 5000), min_size=1, max_size=5),
    played=st.floats(-1000, 30_000),
    more=st.floats(0, 30_000),
)
def test_what_is_heard_is_a_prefix_that_grows_with_playback(
    durations: list[float], played: float, more: float
) -> None:
    sentences = [SpokenSentence(f"Sentence {i} has five words.", d) for i, d in enumerate(durations)]
    everything = words(" ".join(s.text for s in sentences))
    heard = words(heard_text(sentences, played))
    later = words(heard_text(sentences, played + more))
    assert heard == everything[: len(heard)]
    assert later == everything[: len(later)]
    assert len(later) >= len(heard)
    if played >= sum(durations):
        assert heard_text(sentences, played) == " ".join(s.text for s in sentences)
    else:
        assert len(heard) < len(everything)
