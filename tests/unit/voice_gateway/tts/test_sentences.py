from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_gateway.tts import SentenceStream, split_sentences

pytestmark = pytest.mark.unit

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("You have 0.5 0G. Anything else?", ["You have 0.5 0G.", "Anything else?"]),
        ("You have 10,000.25 0G. Done.", ["You have 10,000.25 0G.", "Done."]),
        ("0.5. 1.25. 3", ["0.5.", "1.25.", "3"]),
        ("The fee is 0.000021 0G.", ["The fee is 0.000021 0G."]),
    ],
)
def test_decimals_and_amounts_are_not_sentence_ends(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (f"Send 1 0G to {ADDRESS}. Confirm?", [f"Send 1 0G to {ADDRESS}.", "Confirm?"]),
        ("Send 1 0G to 0x7099…79C8. Confirm?", ["Send 1 0G to 0x7099…79C8.", "Confirm?"]),
        ("0x7099…79C8 has 2 0G.", ["0x7099…79C8 has 2 0G."]),
    ],
)
def test_hex_addresses_stay_whole(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("see https://docs.0g.ai/x.y. Then try again.", ["see https://docs.0g.ai/x.y.", "Then try again."]),
        ("Open docs.0g.ai/build.html for more.", ["Open docs.0g.ai/build.html for more."]),
        ("Visit https://0g.ai/a.b.c?d=1.2 now. Bye.", ["Visit https://0g.ai/a.b.c?d=1.2 now.", "Bye."]),
    ],
)
def test_urls_stay_whole(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Ask Dr. Smith. He knows.", ["Ask Dr. Smith.", "He knows."]),
        ("Use a token, e.g. USDC. It works.", ["Use a token, e.g. USDC.", "It works."]),
        ("Use a token, e.g., USDC. It works.", ["Use a token, e.g., USDC.", "It works."]),
        ("That is, i.e. Alice. Fine.", ["That is, i.e. Alice.", "Fine."]),
        ("Gas, fees, etc. Are all listed. Ok.", ["Gas, fees, etc. Are all listed.", "Ok."]),
        ("Mr. Jones vs. Mrs. Jones. Tie.", ["Mr. Jones vs. Mrs. Jones.", "Tie."]),
        ("Ask Prof. Lee. Then wait.", ["Ask Prof. Lee.", "Then wait."]),
        ("DR. Who is here. Yes.", ["DR. Who is here.", "Yes."]),
    ],
)
def test_abbreviations_are_not_sentence_ends(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("J. Smith sent 5 0G. Thanks.", ["J. Smith sent 5 0G.", "Thanks."]),
        ("Ask J. R. R. Tolkien. He wrote it.", ["Ask J. R. R. Tolkien.", "He wrote it."]),
    ],
)
def test_initials_are_not_sentence_ends(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Really? Yes! Done.", ["Really?", "Yes!", "Done."]),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("Wait... What?", ["Wait...", "What?"]),
        ("Hmm… Okay.", ["Hmm…", "Okay."]),
        (
            "Your balance is 5 0G. 2 transfers are pending.",
            ["Your balance is 5 0G.", "2 transfers are pending."],
        ),
        ("Done. (Nothing else.)", ["Done.", "(Nothing else.)"]),
        ('Done. "Yes," he said.', ["Done.", '"Yes," he said.']),
    ],
)
def test_sentence_punctuation_splits(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    "text",
    ["Version 2.0 is out. then more", "Hello.world", "Stop!now", "Is it?yes"],
)
def test_no_split_without_space_and_a_sentence_opening(text: str) -> None:
    assert split_sentences(text) == [text]


def test_text_without_punctuation_is_one_sentence() -> None:
    assert split_sentences("you have five 0G") == ["you have five 0G"]


@pytest.mark.parametrize("text", ["", " ", "\n\t  \n"])
def test_empty_or_blank_text_has_no_sentences(text: str) -> None:
    assert split_sentences(text) == []


def test_sentences_are_trimmed_and_inner_whitespace_kept() -> None:
    assert split_sentences("  Hi there.   \n  How  are you?  ") == ["Hi there.", "How  are you?"]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ('He said "Hi." Then left.', ['He said "Hi."', "Then left."]),
        ("It is done (finally.) Next one.", ["It is done (finally.)", "Next one."]),
    ],
)
def test_closing_quotes_stay_with_their_sentence(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


_CLOSERS = "\"')]"  # dropped after end punctuation: see test_closing_quotes_stay_with_their_sentence


def _visible(text: str) -> str:
    return "".join(c for c in text if not c.isspace() and c not in _CLOSERS)


@given(st.text(alphabet=st.sampled_from("aB 0.?!…\"')(x\n"), max_size=80))
def test_splitting_only_trims_and_never_drops_words(text: str) -> None:
    sentences = split_sentences(text)
    assert all(s and s == s.strip() for s in sentences)
    assert _visible("".join(sentences)) == _visible(text)


# --- streaming -----------------------------------------------------------------------------------

STREAM_TEXTS = [
    "You have 0.5 0G. Anything else?",
    "Sent 10,000.25 0G to 0x7099…79C8. Dr. Smith, e.g. J. Smith, agreed! Really?! Wait... What?",
    "see https://docs.0g.ai/x.y. Then try again. Mr. Jones vs. Mrs. Jones etc. Done",
    "  Hello.   World!  How are you?   ",
    "no punctuation at all",
    "Done. (Nothing else.) 2 transfers pending. Bye…",
]


def stream(pieces: list[str]) -> list[str]:
    splitter = SentenceStream()
    out: list[str] = []
    for piece in pieces:
        out += splitter.feed(piece)
    return out + splitter.flush()


@pytest.mark.parametrize("text", STREAM_TEXTS)
def test_stream_fed_char_by_char_matches_the_whole_text(text: str) -> None:
    assert stream(list(text)) == split_sentences(text)


@pytest.mark.parametrize("text", STREAM_TEXTS)
def test_stream_fed_at_once_matches_the_whole_text(text: str) -> None:
    assert stream([text]) == split_sentences(text)


@given(data=st.data(), text=st.sampled_from(STREAM_TEXTS))
def test_stream_fed_in_random_pieces_matches_the_whole_text(data: st.DataObject, text: str) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=len(text))))
    bounds = [0, *cuts, len(text)]
    pieces = [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert "".join(pieces) == text
    assert stream(pieces) == split_sentences(text)


def test_stream_holds_back_the_last_sentence_until_it_is_complete() -> None:
    splitter = SentenceStream()
    assert splitter.feed("You have 0.") == []
    assert splitter.feed("5 0G.") == []
    assert splitter.feed(" Any") == ["You have 0.5 0G."]
    assert splitter.feed("thing else?") == []
    assert splitter.flush() == ["Anything else?"]


def test_stream_waits_for_the_next_word_before_ending_at_an_abbreviation() -> None:
    splitter = SentenceStream()
    assert splitter.feed("Ask Dr. ") == []
    assert splitter.feed("Smith. ") == []
    assert splitter.feed("He") == ["Ask Dr. Smith."]


def test_flush_empties_the_stream_for_the_next_reply() -> None:
    splitter = SentenceStream()
    splitter.feed("First reply.")
    assert splitter.flush() == ["First reply."]
    assert splitter.flush() == []
    assert splitter.feed("Second. ") == []
    assert splitter.feed("Reply") == ["Second."]
    assert splitter.flush() == ["Reply"]


def test_stream_of_whitespace_yields_nothing() -> None:
    splitter = SentenceStream()
    assert splitter.feed("   ") == []
    assert splitter.feed("\n") == []
    assert splitter.flush() == []
