"""Word error rate with a normalization that forgives spelling, not mishearing.

Whisper writes "What's the gas price?" and "10,000 0G" where the reference says "what is the gas price"
and "ten thousand zero g". Those are the same words, so both sides are normalized before counting:
lower case, contractions expanded, punctuation dropped, every spelling of the token 0G made one token,
and number words turned into digits ("twenty one" -> "21", "zero point five" -> "0.5"). What remains
is a Levenshtein distance over words: substitutions + deletions + insertions, divided by the number of
reference words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ZERO_G = "0g"

_CONTRACTIONS = {
    "what's": "what is",
    "where's": "where is",
    "who's": "who is",
    "how's": "how is",
    "that's": "that is",
    "there's": "there is",
    "here's": "here is",
    "it's": "it is",
    "he's": "he is",
    "she's": "she is",
    "let's": "let us",
    "i'm": "i am",
    "you're": "you are",
    "we're": "we are",
    "they're": "they are",
    "i've": "i have",
    "you've": "you have",
    "we've": "we have",
    "they've": "they have",
    "i'll": "i will",
    "you'll": "you will",
    "we'll": "we will",
    "i'd": "i would",
    "you'd": "you would",
    "isn't": "is not",
    "aren't": "are not",
    "wasn't": "was not",
    "weren't": "were not",
    "don't": "do not",
    "doesn't": "does not",
    "didn't": "did not",
    "can't": "cannot",
    "won't": "will not",
    "haven't": "have not",
    "hasn't": "has not",
}

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}

# Spellings of the 0G token as single words; two-word spellings are merged in `_merge_zero_g`.
_ZERO_G_WORDS = {"0g", "zerog", "og", "0gs"}
_ZERO_G_FIRST = {"0", "zero", "o", "oh"}
_ZERO_G_SECOND = {"g", "gee", "gs"}

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
# Anything but letters, digits, apostrophes and a decimal point that sits between two digits.
_PUNCTUATION = re.compile(r"(?:(?<!\d)\.|\.(?!\d)|[^\w\s'.])")
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}\b)")


def normalize(text: str) -> list[str]:
    """The words of `text` in the canonical form WER compares (see the module docstring)."""
    text = text.lower().translate(_APOSTROPHES)
    text = _THOUSANDS_COMMA.sub("", text)
    text = text.replace("-", " ").replace("_", " ")
    text = _PUNCTUATION.sub(" ", text)
    words: list[str] = []
    for raw in text.split():
        word = raw.strip("'")
        if not word:
            continue
        expanded = _CONTRACTIONS.get(word)
        if expanded is not None:
            words.extend(expanded.split())
        else:
            # A possessive keeps its sibilant: "account's" and "accounts" sound the same.
            words.append(word.replace("'", ""))
    return _numbers_to_digits(_merge_zero_g(words))


def _merge_zero_g(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _ZERO_G_WORDS:
            out.append(ZERO_G)
            i += 1
        elif word in _ZERO_G_FIRST and i + 1 < len(words) and words[i + 1] in _ZERO_G_SECOND:
            out.append(ZERO_G)
            i += 2
        else:
            out.append(word)
            i += 1
    return out


def _numbers_to_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        consumed, value = _parse_number(words, i)
        if consumed:
            out.append(value)
            i += consumed
        else:
            out.append(words[i])
            i += 1
    return out


def _parse_number(words: list[str], start: int) -> tuple[int, str]:
    """Read a spelled-out number at `start`: (words consumed, digits), or (0, "") if there is none.

    Accepts the way numbers are said: "twenty one", "three hundred and five", "two thousand five
    hundred", "zero point five". A unit after a unit ("one two") starts a new number, so digit strings
    read one by one stay separate tokens, as an STT engine would write them with spaces.
    """
    total = current = 0
    last = ""  # class of the previous number word: unit, teen, tens, hundred, scale
    i = start
    while i < len(words):
        word = words[i]
        if word == "zero":
            if last:
                break
            last = "zero"  # "zero" is a number on its own only: nothing extends it but "point"
        elif word in _UNITS and last in ("", "tens", "hundred", "scale"):
            current += _UNITS[word]
            last = "unit"
        elif word in _TEENS and last in ("", "hundred", "scale"):
            current += _TEENS[word]
            last = "teen"
        elif word in _TENS and last in ("", "hundred", "scale"):
            current += _TENS[word]
            last = "tens"
        elif word == "hundred" and last in ("unit", "teen") and current < 100:
            current *= 100
            last = "hundred"
        elif word in _SCALES and last in ("unit", "teen", "tens", "hundred"):
            total += current * _SCALES[word]
            current = 0
            last = "scale"
        elif (
            word == "and"
            and last in ("hundred", "scale")
            and i + 1 < len(words)
            and (words[i + 1] in _UNITS or words[i + 1] in _TEENS or words[i + 1] in _TENS)
        ):
            pass  # "three hundred and five"
        else:
            break
        i += 1
    if i == start:
        return 0, ""
    digits = str(total + current)
    # "zero point five": the digits after "point" are read one by one.
    if i + 1 < len(words) and words[i] == "point" and words[i + 1] in _UNITS:
        fraction = ""
        j = i + 1
        while j < len(words) and words[j] in _UNITS:
            fraction += str(_UNITS[words[j]])
            j += 1
        if fraction:
            return j - start, f"{digits}.{fraction}"
    return i - start, digits


@dataclass(frozen=True)
class EditCounts:
    """The alignment of a hypothesis against a reference, in words."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def edits(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def __add__(self, other: EditCounts) -> EditCounts:
        return EditCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference_words + other.reference_words,
        )

    @property
    def rate(self) -> float:
        """Edits per reference word. With no reference words, every hypothesis word counts as one."""
        return self.edits / max(self.reference_words, 1)


def align(reference: list[str], hypothesis: list[str]) -> EditCounts:
    """Minimum-edit alignment of two word lists (Levenshtein, unit costs), counted by edit kind."""
    # Each cell holds (edits, substitutions, deletions, insertions); ties prefer fewer edits, then
    # substitutions, so the breakdown is stable.
    prev = [(j, 0, 0, j) for j in range(len(hypothesis) + 1)]
    for i, ref_word in enumerate(reference, start=1):
        row = [(i, 0, i, 0)]
        for j, hyp_word in enumerate(hypothesis, start=1):
            diag = prev[j - 1]
            best = diag if ref_word == hyp_word else (diag[0] + 1, diag[1] + 1, diag[2], diag[3])
            up = prev[j]
            if up[0] + 1 < best[0]:
                best = (up[0] + 1, up[1], up[2] + 1, up[3])
            left = row[j - 1]
            if left[0] + 1 < best[0]:
                best = (left[0] + 1, left[1], left[2], left[3] + 1)
            row.append(best)
        prev = row
    _, subs, dels, ins = prev[-1]
    return EditCounts(subs, dels, ins, len(reference))


def word_edits(reference: str, hypothesis: str) -> EditCounts:
    """Edits between two texts after normalization."""
    return align(normalize(reference), normalize(hypothesis))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of one utterance: (S + D + I) / reference words, after normalization; 0.0 is perfect.

    It can exceed 1 when the hypothesis inserts words. An empty reference has no denominator; the
    result is then the number of hypothesis words (0.0 when both are empty).
    """
    return word_edits(reference, hypothesis).rate


def corpus_word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus WER over (reference, hypothesis) pairs: sum of edits / sum of reference words.

    Not the mean of per-utterance rates, which would weigh a two-word command as much as a long one.
    """
    total = EditCounts(0, 0, 0, 0)
    for reference, hypothesis in pairs:
        total = total + word_edits(reference, hypothesis)
    return total.rate
