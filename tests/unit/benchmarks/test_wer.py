from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.wer import (
    EditCounts,
    align,
    corpus_word_error_rate,
    normalize,
    word_edits,
    word_error_rate,
)

pytestmark = pytest.mark.unit

_SMALL = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spell(n: int) -> str:
    """English words for 0 <= n < 10**12, the way a reference transcript would spell them."""
    if n < 20:
        return _SMALL[n]
    if n < 100:
        return _TENS[n // 10 - 2] + ("" if n % 10 == 0 else "-" + _SMALL[n % 10])
    if n < 1000:
        rest = "" if n % 100 == 0 else " and " + _spell(n % 100)
        return f"{_SMALL[n // 100]} hundred{rest}"
    for scale, name in ((10**9, "billion"), (10**6, "million"), (10**3, "thousand")):
        if n >= scale:
            rest = "" if n % scale == 0 else " " + _spell(n % scale)
            return f"{_spell(n // scale)} {name}{rest}"
    raise AssertionError("unreachable")


# Characters and words that exercise every rule: punctuation, apostrophes, digits, 0G and number words.
_PIECES = list("abcdeghost0123456789 .,'?!-") + [
    " zero ", " one ", " twenty ", " g ", " hundred ", " and ", " thousand ", " point ", " what's ",
]  # fmt: skip
_texts = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("What's the gas price?", ["what", "is", "the", "gas", "price"]),
        ("How much 0G do I have", ["how", "much", "0g", "do", "i", "have"]),
        ("how much zero g do i have", ["how", "much", "0g", "do", "i", "have"]),
        ("How much OG do I have?", ["how", "much", "0g", "do", "i", "have"]),
        ("You have 10,000 0G.", ["you", "have", "10000", "0g"]),
        ("you have ten thousand zero g", ["you", "have", "10000", "0g"]),
        ("block twenty-one", ["block", "21"]),
        ("three hundred and five", ["305"]),
        ("zero point five", ["0.5"]),
        ("0.5 of a block.", ["0.5", "of", "a", "block"]),
        ("one two three", ["1", "2", "3"]),
        ("the account\u2019s balance", ["the", "accounts", "balance"]),
        ("  what is ... the latest block?! ", ["what", "is", "the", "latest", "block"]),
        ("", []),
    ],
)
def test_normalize(text: str, words: list[str]) -> None:
    assert normalize(text) == words


def test_spellings_of_the_same_words_cost_nothing() -> None:
    assert word_error_rate("what is my balance", "What's my balance?") == 0.0
    assert word_error_rate("how much 0G do I have", "How much zero G do I have?") == 0.0
    assert word_error_rate("what is the current block number", "What is the current block number") == 0.0


def test_edit_kinds_are_counted() -> None:
    assert align(["a", "b", "c"], ["a", "x", "c"]) == EditCounts(1, 0, 0, 3)
    assert align(["a", "b", "c"], ["a", "c"]) == EditCounts(0, 1, 0, 3)
    assert align(["a", "b"], ["a", "b", "c", "d"]) == EditCounts(0, 0, 2, 2)
    assert word_error_rate("what is the latest block", "what is the last block") == pytest.approx(0.2)
    assert word_error_rate("which network am i on", "") == 1.0
    # Insertions can push WER over 1.
    assert word_error_rate("stop", "stop it now please") == 3.0


def test_empty_reference_counts_hypothesis_words() -> None:
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "hello there") == 2.0


def test_corpus_rate_weighs_by_reference_length() -> None:
    pairs = [("stop", "top"), ("what is the current block number", "what is the current block number")]
    # One edit over seven reference words, not the mean of 1.0 and 0.0.
    assert corpus_word_error_rate(pairs) == pytest.approx(1 / 7)
    assert corpus_word_error_rate([]) == 0.0


@given(_texts)
def test_a_text_against_itself_is_perfect(text: str) -> None:
    assert word_error_rate(text, text) == 0.0


@given(_texts, _texts)
def test_edits_are_bounded_and_symmetric(reference: str, hypothesis: str) -> None:
    ref, hyp = normalize(reference), normalize(hypothesis)
    forward = word_edits(reference, hypothesis)
    assert word_error_rate(reference, hypothesis) >= 0.0
    assert abs(len(ref) - len(hyp)) <= forward.edits <= max(len(ref), len(hyp))
    assert forward.edits == word_edits(hypothesis, reference).edits
    assert forward.reference_words == len(ref)


@given(_texts)
def test_normalization_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(" ".join(once)) == once


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_spelled_numbers_become_digits(n: int) -> None:
    assert normalize(_spell(n)) == [str(n)]
    assert normalize(f"{n:,}") == [str(n)]
