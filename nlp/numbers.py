"""Spoken numbers to digits: "one and a half" -> "1.5", "two thousand and five" -> "2005", "2,000" -> "2000".

A tokenizer splits the text on whitespace (keeping trailing punctuation aside, since a comma or a
full stop ends a number), and a small greedy parser reads the longest number at each token. All
arithmetic is exact `Decimal` arithmetic with no division, so "0.1" never becomes 0.1000000001.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation, Overflow

__all__ = ["canonical_decimal", "parse_number", "spoken_to_digits"]

# Unbounded precision with Inexact trapped: a result that would need rounding raises instead.
# Every operation below is an add or a multiply, which at this precision is always exact.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact, InvalidOperation, Overflow])
# Far above any amount anyone says; stops 1E+999999999 from being written out as a billion zeros.
_MAX_DIGITS = 100_000

_UNIT_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEEN_WORDS: tuple[str, ...] = ("ten", "eleven", "twelve", "thirteen", "fourteen")
_TEEN_WORDS += ("fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS_WORDS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_UNITS = {word: n for n, word in enumerate(_UNIT_WORDS, 1)}
_TEENS = {word: n for n, word in enumerate(_TEEN_WORDS, 10)}
_TENS = {word: 10 * n for n, word in enumerate(_TENS_WORDS, 2)}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}
# After "point" digits are read one by one; "oh" is a zero only here (and just before "point").
_POINT_DIGITS = {"zero": "0", "oh": "0"} | {w: str(n) for w, n in _UNITS.items()}
# Only fractions with an exact decimal value: "a third" stays words.
_DENOMINATORS = {
    **dict.fromkeys(("half", "halves"), Decimal("0.5")),
    **dict.fromkeys(("quarter", "quarters"), Decimal("0.25")),
    **dict.fromkeys(("tenth", "tenths"), Decimal("0.1")),
    **dict.fromkeys(("hundredth", "hundredths"), Decimal("0.01")),
    **dict.fromkeys(("thousandth", "thousandths"), Decimal("0.001")),
}
_SINGULAR = frozenset(("half", "quarter", "tenth", "hundredth", "thousandth"))
# "one" is a pronoun here, not a number: "which one", "no one", "one of them".
_PRONOUN_ONE_AFTER = frozenset(("last", "which", "this", "that", "no", "every", "any"))
# Digits as typed: "2,000" (commas only in groups of three), "0.5", "5k". A leading zero ("007")
# is an identifier, not an amount, so it is left as written.
_DIGITS = re.compile(r"(?P<int>0|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d*)(?P<frac>\.\d+)?(?P<k>k)?", re.ASCII)
_TRAILING_PUNCTUATION = ".,;:!?"


@dataclass(frozen=True, slots=True)
class _Number:
    end: int  # index of the first token after the number
    value: Decimal
    whole: bool = True  # no fractional part yet: "point five" or "and a half" may follow
    scaled: bool = False  # a thousand/million/billion was said: no further scale word may follow


def spoken_to_digits(text: str) -> str:
    """Replace every spoken or typed number in `text` by its canonical decimal digits.

    Digits said one by one stay separate ("one two three" -> "1 2 3"); ordinals and "a" alone are
    left as words; whitespace becomes single spaces. Never raises.

    Returns:
        The text with numbers as digits, e.g. "send half a 0g" -> "send 0.5 0g".
    """
    words, texts, tails = _tokenize(text)
    stops = _phrase_limits(tails)
    out: list[str] = []
    i = 0
    while i < len(words):
        number = _read_number(words, i, stops[i])
        if number is not None and not _is_pronoun_one(words, i, number.end):
            try:
                out.append(canonical_decimal(number.value) + tails[number.end - 1])
                i = number.end
                continue
            except ValueError:
                pass  # too many digits to write out: keep the words as said
        out.append(texts[i])
        i += 1
    return " ".join(piece for piece in out if piece)


def parse_number(phrase: str) -> Decimal | None:
    """The exact value of a phrase that is one number and nothing else.

    Returns:
        The value, e.g. Decimal("1.5") for "one and a half" or Decimal("1000") for "1,000";
        None if the phrase is empty, not a number, or has words besides the number.
    """
    words, _, tails = _tokenize(phrase)
    if not words or any(tails):
        return None
    number = _read_number(words, 0, len(words))
    return number.value if number is not None and number.end == len(words) else None


def canonical_decimal(value: Decimal) -> str:
    """`value` in plain decimal notation: no exponent, no trailing zeros, no separators.

    Raises:
        ValueError: `value` is NaN, infinite, negative, or would take more than 100,000 digits.

    Returns:
        The digits, e.g. "2000" for Decimal("2E+3") and "0.5" for Decimal("0.50").
    """
    _, digit_tuple, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {value}")
    if value < 0:
        raise ValueError(f"negative: {value}")
    if len(digit_tuple) + abs(exponent) > _MAX_DIGITS:
        raise ValueError(f"more than {_MAX_DIGITS} digits: {value}")
    digits = "".join(map(str, digit_tuple))
    if exponent >= 0:
        return (digits + "0" * exponent).lstrip("0") or "0"
    padded = digits.rjust(1 - exponent, "0")  # at least one digit before the point
    whole = padded[:exponent].lstrip("0") or "0"
    fraction = padded[exponent:].rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def _tokenize(text: str) -> tuple[list[str], list[str], list[str]]:
    """Parallel lists: lower-case words, their original text, and the punctuation each ended with.

    "twenty-one" becomes the two words "twenty" "one" (its text is carried by the first), which the
    parser always reads together.
    """
    words: list[str] = []
    texts: list[str] = []
    tails: list[str] = []
    for raw in text.split():
        core = raw.rstrip(_TRAILING_PUNCTUATION)
        tail = raw[len(core) :] if core else ""
        word = (core or raw).lower()
        tens, _, unit = word.partition("-")
        if tens in _TENS and unit in _UNITS:
            words += [tens, unit]
            texts += [raw, ""]
            tails += ["", tail]
        else:
            words.append(word)
            texts.append(raw)
            tails.append(tail)
    return words, texts, tails


def _phrase_limits(tails: list[str]) -> list[int]:
    """For each token, the index a number starting there must end by: just after punctuation."""
    limits = [0] * len(tails)
    limit = len(tails)
    for k in range(len(tails) - 1, -1, -1):
        if tails[k]:
            limit = k + 1
        limits[k] = limit
    return limits


def _is_pronoun_one(words: list[str], start: int, end: int) -> bool:
    if end != start + 1 or words[start] != "one":
        return False
    before = words[start - 1] if start else ""
    after = words[end] if end < len(words) else ""
    return before in _PRONOUN_ONE_AFTER or after == "of"


def _read_number(words: list[str], i: int, limit: int) -> _Number | None:
    """The longest number starting at words[i] and ending by `limit`, or None."""
    word = words[i]
    if word == "half":  # "half", "half a 0g": the article belongs to the fraction
        end = i + 2 if i + 1 < limit and words[i + 1] in ("a", "an") else i + 1
        return _scaled(words, _Number(end, Decimal("0.5"), whole=False), limit)
    fraction = _read_fraction(words, i, limit)
    if fraction is not None:
        return _scaled(words, fraction, limit)
    if word in ("point", "oh"):
        start = i if word == "point" else i + 1
        digits = _read_point(words, start, limit) if start < limit and words[start] == "point" else None
        if digits is None:
            return None
        return _scaled(words, _Number(digits[0], Decimal("0." + digits[1]), whole=False), limit)
    number = _read_integer(words, i, limit)
    if number is None or not number.whole or number.end >= limit:
        return number
    after = words[number.end]
    if after == "point" and (digits := _read_point(words, number.end, limit)) is not None:
        value = _EXACT.add(number.value, Decimal("0." + digits[1]))
        return _scaled(words, _Number(digits[0], value, whole=False, scaled=number.scaled), limit)
    if after == "and" and (fraction := _read_and_fraction(words, number.end + 1, limit)) is not None:
        value = _EXACT.add(number.value, fraction.value)
        return _scaled(words, _Number(fraction.end, value, whole=False, scaled=number.scaled), limit)
    return number


def _scaled(words: list[str], number: _Number, limit: int) -> _Number:
    """`number` times a scale word after it, if one may follow: "one point five million"."""
    if number.scaled or number.end >= limit or words[number.end] not in _SCALES:
        return number
    value = _EXACT.multiply(number.value, Decimal(_SCALES[words[number.end]]))
    return _Number(number.end + 1, value, whole=False, scaled=True)


def _read_point(words: list[str], i: int, limit: int) -> tuple[int, str] | None:
    """Digits said one by one after words[i] == "point": (end, "25") for "point two five"."""
    end = i + 1
    if end < limit and words[end].isascii() and words[end].isdigit():
        return end + 1, words[end]  # "zero point 5": a recognizer mixing words and digits
    digits = ""
    while end < limit and words[end] in _POINT_DIGITS:
        digits += _POINT_DIGITS[words[end]]
        end += 1
    return (end, digits) if digits else None


def _read_fraction(words: list[str], i: int, limit: int) -> _Number | None:
    """A fraction with a numerator: "a quarter", "one half", "three quarters", "3 tenths"."""
    if words[i] == "a":  # only before a singular: "a quarter", never "a quarters"
        if i + 1 >= limit or words[i + 1] not in _SINGULAR:
            return None
        numerator: tuple[int, Decimal] | None = (i + 1, Decimal(1))
    else:
        numerator = _read_small(words, i, limit)
    if numerator is None or numerator[0] >= limit or words[numerator[0]] not in _DENOMINATORS:
        return None
    end, count = numerator
    return _Number(end + 1, _EXACT.multiply(count, _DENOMINATORS[words[end]]), whole=False)


def _read_and_fraction(words: list[str], i: int, limit: int) -> _Number | None:
    """The fraction after "and" in "one and a half" (also "one and half")."""
    if i >= limit:
        return None
    if words[i] == "half":
        return _Number(i + 1, Decimal("0.5"), whole=False)
    return _read_fraction(words, i, limit)


def _read_small(words: list[str], i: int, limit: int) -> tuple[int, Decimal] | None:
    """A numerator: 1..99 in words or a plain typed integer. Kept small so look-ahead stays cheap."""
    word = words[i]
    if word.isascii() and word.isdigit() and _DIGITS.fullmatch(word):
        return i + 1, Decimal(word)
    value = _UNITS.get(word) or _TEENS.get(word)
    if value is not None:
        return i + 1, Decimal(value)
    if word not in _TENS:
        return None
    if i + 1 < limit and words[i + 1] in _UNITS:
        return i + 2, Decimal(_TENS[word] + _UNITS[words[i + 1]])
    return i + 1, Decimal(_TENS[word])


def _read_integer(words: list[str], i: int, limit: int) -> _Number | None:
    """A whole number in words ("two thousand and five", "a hundred") or typed ("2,000", "1.5k"),
    with scale words after typed digits ("2 thousand", "1.5 million")."""
    typed = _DIGITS.fullmatch(words[i])
    if typed:
        value = Decimal(typed["int"].replace(",", "") + (typed["frac"] or ""))
        if typed["k"]:
            return _Number(i + 1, _EXACT.multiply(value, Decimal(1000)), whole=False, scaled=True)
        number = _Number(i + 1, value, whole=not typed["frac"])
        # "15 hundred" but not "5000 hundred"; a zero takes no scale ("0 thousand" is not a number).
        if number.end < limit and words[number.end] == "hundred" and 0 < value < 100:
            number = _Number(number.end + 1, _EXACT.multiply(value, Decimal(100)), whole=number.whole)
        return _scaled(words, number, limit) if value else number
    if words[i] == "zero":
        return _Number(i + 1, Decimal(0))  # only "point" extends a zero: "zero five" is two numbers
    total = current = 0
    last = ""  # kind of the previous word: unit, teen, tens, hundred, scale
    last_scale = 10**12
    j = i
    if words[i] == "a" and i + 1 < limit and (words[i + 1] == "hundred" or words[i + 1] in _SCALES):
        current, last, j = 1, "unit", i + 1  # "a hundred", "a thousand"
    while j < limit:
        word = words[j]
        if word in _UNITS and last in ("", "tens", "hundred", "scale"):
            current, last = current + _UNITS[word], "unit"
        elif word in _TEENS and last in ("", "hundred", "scale"):
            current, last = current + _TEENS[word], "teen"
        elif word in _TENS and last in ("", "hundred", "scale"):
            current, last = current + _TENS[word], "tens"
        elif word == "hundred" and last in ("unit", "teen", "tens") and current < 100:
            current, last = current * 100, "hundred"
        elif word in _SCALES and last in ("unit", "teen", "tens", "hundred") and _SCALES[word] < last_scale:
            total, current, last, last_scale = total + current * _SCALES[word], 0, "scale", _SCALES[word]
        elif (
            word == "and"
            and last in ("hundred", "scale")
            and j + 1 < limit
            and (words[j + 1] in _UNITS or words[j + 1] in _TEENS or words[j + 1] in _TENS)
            and _read_fraction(words, j + 1, limit) is None  # "two thousand and three quarters"
        ):
            pass  # "five hundred and twelve": the next word carries on the number
        else:
            break
        j += 1
    if not last:
        return None
    return _Number(j, Decimal(total + current), scaled=last_scale < 10**12)
