from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlp.numbers import canonical_decimal, parse_number, spoken_to_digits

pytestmark = pytest.mark.unit

CARDINALS = [
    ("zero", "0"),
    ("seven", "7"),
    ("thirteen", "13"),
    ("nineteen", "19"),
    ("twenty one", "21"),
    ("twenty-one", "21"),
    ("ninety nine", "99"),
    ("forty", "40"),
    ("five hundred and twelve", "512"),
    ("five hundred twelve", "512"),
    ("two thousand three hundred", "2300"),
    ("a hundred", "100"),
    ("a thousand", "1000"),
    ("a million", "1000000"),
    ("one hundred twenty three", "123"),
    ("one hundred and twenty-three", "123"),
    ("two thousand and five", "2005"),
    ("nineteen hundred", "1900"),
    ("three million four hundred thousand and one", "3400001"),
    ("seven billion", "7000000000"),
    ("one hundred and one thousand", "101000"),
]
DECIMALS = [
    ("zero point five", "0.5"),
    ("point five", "0.5"),
    ("point two five", "0.25"),
    ("point one two", "0.12"),
    ("three point one four", "3.14"),
    ("zero point zero one", "0.01"),
    ("zero point zero zero one", "0.001"),
    ("one point five million", "1500000"),
    ("two thousand point five", "2000.5"),
    ("oh point five", "0.5"),
    ("point oh five", "0.05"),
    ("zero point 5", "0.5"),
    ("2 point 5", "2.5"),
    ("0.5", "0.5"),
    ("0.50", "0.5"),
    ("1.50", "1.5"),
    ("2.0", "2"),
]
FRACTIONS = [
    ("half", "0.5"),
    ("a half", "0.5"),
    ("half a", "0.5"),
    ("half an", "0.5"),
    ("one half", "0.5"),
    ("a quarter", "0.25"),
    ("one quarter", "0.25"),
    ("three quarters", "0.75"),
    ("a tenth", "0.1"),
    ("three tenths", "0.3"),
    ("a hundredth", "0.01"),
    ("one and a half", "1.5"),
    ("one and half", "1.5"),
    ("two and a quarter", "2.25"),
    ("two and three quarters", "2.75"),
    ("two thousand and three quarters", "2000.75"),
    ("2 and a half", "2.5"),
    ("half a million", "500000"),
    ("one and a half million", "1500000"),
]
TYPED = [
    ("2 thousand", "2000"),
    ("15 hundred", "1500"),
    ("5 hundred thousand", "500000"),
    ("1.5 million", "1500000"),
    ("5k", "5000"),
    ("1.5k", "1500"),
    ("2,000", "2000"),
    ("1,000,000", "1000000"),
    ("10,000.50", "10000.5"),
    ("42", "42"),
]
SENTENCES = [
    ("send half a 0g to bob", "send 0.5 0g to bob"),
    ("send half an 0g to bob", "send 0.5 0g to bob"),
    ("send one and a half og to alice", "send 1.5 og to alice"),
    ("block one hundred twenty three", "block 123"),
    ("three hundred gwei", "300 gwei"),
    ("twenty five usdc", "25 usdc"),
    ("a quarter of a 0g", "0.25 of a 0g"),
    ("send one 0g to bob", "send 1 0g to bob"),
    ("pay bob 2,000 usdc", "pay bob 2000 usdc"),
    ("five, six.", "5, 6."),
    ("one thousand, two hundred", "1000, 200"),
    ("Twenty-One usdc", "21 usdc"),
    ("  send   two\tthousand  ", "send 2000"),
    ("", ""),
    ("   ", ""),
]
DIGIT_BY_DIGIT = [
    ("one two three", "1 2 3"),
    ("zero x seven zero nine", "0 x 7 0 9"),
    ("twenty twenty", "20 20"),
    ("nineteen eighty four", "19 84"),
    ("zero five", "0 5"),
    ("one and two", "1 and 2"),
]
LEFT_ALONE = [
    "someone sent anyone a token",
    "the last one",
    "which one",
    "this one is mine",
    "that one",
    "no one",
    "every one",
    "any one",
    "one of them",
    "the first block",
    "the second transaction",
    "the tenth block",
    "a third",
    "a quarters",
    "a token",
    "what is the point of this",
    "oh no",
    "hundreds of tokens",
    "one-time payment",
    "1,50 0g",
    "007",
    "1.2.3",
    "0g",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
]
ALL_CONVERSIONS = CARDINALS + DECIMALS + FRACTIONS + TYPED + SENTENCES + DIGIT_BY_DIGIT


@pytest.mark.parametrize(("spoken", "digits"), CARDINALS)
def test_cardinals(spoken: str, digits: str) -> None:
    assert spoken_to_digits(spoken) == digits


@pytest.mark.parametrize(("spoken", "digits"), DECIMALS)
def test_decimals(spoken: str, digits: str) -> None:
    assert spoken_to_digits(spoken) == digits


@pytest.mark.parametrize(("spoken", "digits"), FRACTIONS)
def test_fractions(spoken: str, digits: str) -> None:
    assert spoken_to_digits(spoken) == digits


@pytest.mark.parametrize(("typed", "digits"), TYPED)
def test_typed_digits_and_scale_words(typed: str, digits: str) -> None:
    assert spoken_to_digits(typed) == digits


@pytest.mark.parametrize(("text", "expected"), SENTENCES)
def test_numbers_inside_sentences(text: str, expected: str) -> None:
    assert spoken_to_digits(text) == expected


@pytest.mark.parametrize(("spoken", "digits"), DIGIT_BY_DIGIT)
def test_digits_said_one_by_one_stay_separate(spoken: str, digits: str) -> None:
    assert spoken_to_digits(spoken) == digits


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_words_that_are_not_numbers_are_left_alone(text: str) -> None:
    assert spoken_to_digits(text) == text


@pytest.mark.parametrize(("text", "expected"), ALL_CONVERSIONS)
def test_converted_text_is_a_fixed_point(text: str, expected: str) -> None:
    # Text that is already in digits (typed input, a second pass) must come back unchanged.
    assert spoken_to_digits(expected) == expected


@pytest.mark.parametrize(
    ("phrase", "value"),
    [
        ("one and a half", Decimal("1.5")),
        ("two thousand", Decimal("2000")),
        ("1,000", Decimal("1000")),
        ("  twenty one  ", Decimal("21")),
        ("zero point zero one", Decimal("0.01")),
        ("three quarters", Decimal("0.75")),
        ("half", Decimal("0.5")),
        ("5k", Decimal("5000")),
        ("1.50", Decimal("1.50")),
        ("one", Decimal("1")),
        ("hello", None),
        ("", None),
        ("a", None),
        ("a third", None),
        ("one two", None),
        ("send five", None),
        ("five 0g", None),
        ("five.", None),
        ("1,50", None),
    ],
)
def test_parse_number(phrase: str, value: Decimal | None) -> None:
    assert parse_number(phrase) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("2000"), "2000"),
        (Decimal("2E+3"), "2000"),
        (Decimal("0.5"), "0.5"),
        (Decimal("0.50"), "0.5"),
        (Decimal("1.25"), "1.25"),
        (Decimal("0"), "0"),
        (Decimal("0.000"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("1500000.0"), "1500000"),
        (Decimal("123456789012345678901234567890.5"), "123456789012345678901234567890.5"),
    ],
)
def test_canonical_decimal(value: Decimal, text: str) -> None:
    assert canonical_decimal(value) == text


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", "-1", "-0.5", "1E+200000"])
def test_canonical_decimal_rejects_what_has_no_plain_digits(value: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        canonical_decimal(Decimal(value))


@pytest.mark.parametrize(
    "text",
    [
        "one " * 2500,
        "one thousand and " * 600,
        "twenty-one and a half " * 450,
        "point " + "five " * 2000,
        "half a " * 1400,
        "9" * 10_000,
        "1," * 5000,
        "a " * 5000,
        "and " * 2500,
        "zero point " * 1000,
    ],
)
def test_long_input_returns_promptly(text: str) -> None:
    assert len(text) >= 9_000
    started = time.perf_counter()
    result = spoken_to_digits(text)
    assert time.perf_counter() - started < 2.0
    assert result == " ".join(result.split())


def test_long_input_converts_every_number() -> None:
    assert spoken_to_digits("one " * 2500) == " ".join(["1"] * 2500)
    assert spoken_to_digits("9" * 10_000) == "9" * 10_000


def test_a_number_too_long_to_write_out_is_left_as_said() -> None:
    digits = "9" * 200_000
    assert spoken_to_digits(f"{digits} thousand") == f"{digits} thousand"


_UNIT_WORDS = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEEN_WORDS = ["ten", "eleven", "twelve", "thirteen", "fourteen"]
_TEEN_WORDS += ["fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS_WORDS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _say_below_thousand(n: int, use_and: bool, hyphen: bool) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_UNIT_WORDS[hundreds], "hundred"]
    if rest and hundreds and use_and:
        words.append("and")
    if 0 < rest < 10:
        words.append(_UNIT_WORDS[rest])
    elif 10 <= rest < 20:
        words.append(_TEEN_WORDS[rest - 10])
    elif rest:
        tens, unit = divmod(rest, 10)
        if not unit:
            words.append(_TENS_WORDS[tens])
        elif hyphen:
            words.append(f"{_TENS_WORDS[tens]}-{_UNIT_WORDS[unit]}")
        else:
            words += [_TENS_WORDS[tens], _UNIT_WORDS[unit]]
    return words


def _say(n: int, use_and: bool = False, hyphen: bool = False, article: bool = False) -> str:
    """`n` (below a billion) in words the way people say it, with "and", hyphens and "a" optional."""
    if n == 0:
        return "zero"
    words: list[str] = []
    for scale, name in ((10**6, "million"), (10**3, "thousand"), (1, "")):
        chunk = n // scale % 1000
        if not chunk:
            continue
        if not name and words and use_and and chunk < 100:
            words.append("and")  # "two thousand and five"
        words += _say_below_thousand(chunk, use_and, hyphen)
        if name:
            words.append(name)
    if article and words[0] == "one" and len(words) > 1 and words[1] in ("hundred", "thousand", "million"):
        words[0] = "a"  # "a hundred", "a thousand"
    return " ".join(words)


def test_the_renderer_says_what_people_say() -> None:
    assert _say(2005, use_and=True) == "two thousand and five"
    assert _say(512, use_and=True) == "five hundred and twelve"
    assert _say(123_021, hyphen=True) == "one hundred twenty-three thousand twenty-one"
    assert _say(100_000_000, article=True) == "a hundred million"


@given(
    st.integers(min_value=0, max_value=10**9 - 1),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_every_integer_in_words_becomes_its_digits(
    n: int, use_and: bool, hyphen: bool, article: bool
) -> None:
    words = _say(n, use_and, hyphen, article)
    assert spoken_to_digits(words) == str(n)
    assert spoken_to_digits(f"send {words} 0g to bob") == f"send {n} 0g to bob"
    assert parse_number(words) == n


_PLAIN_DECIMALS = st.builds(
    lambda coefficient, exponent: Decimal(coefficient).scaleb(exponent),
    st.integers(min_value=0, max_value=10**30),
    st.integers(min_value=-40, max_value=40),
)
_CANONICAL = re.compile(r"(?:0|[1-9]\d*)(?:\.\d*[1-9])?")


@given(st.one_of(_PLAIN_DECIMALS, st.decimals(min_value=0, max_value=10**20, places=8)))
def test_canonical_decimal_round_trips(value: Decimal) -> None:
    text = canonical_decimal(value)
    assert _CANONICAL.fullmatch(text)
    assert Decimal(text) == value
    assert parse_number(text) == value
    assert spoken_to_digits(text) == text


_VOCABULARY = st.sampled_from(
    [
        "zero", "oh", "one", "two", "twelve", "twenty", "ninety-nine", "hundred", "thousand",
        "million", "billion", "and", "a", "an", "point", "half", "quarter", "quarters", "tenth",
        "third", "first", "of", "one,", "five.", "2,000", "1.50", "5k", "007", "0g", "bob", "-", ",",
    ]
)  # fmt: skip


@given(st.lists(_VOCABULARY, max_size=30).map(" ".join) | st.text(max_size=200))
def test_any_text_is_normalized_without_raising(text: str) -> None:
    result = spoken_to_digits(text)
    assert result == " ".join(result.split())
    parse_number(text)
