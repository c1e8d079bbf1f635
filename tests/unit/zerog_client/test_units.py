from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerog_client import AmountError, format_native, parse_amount, to_native

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("neuron", "shown"),
    [
        (0, "0"),
        (10**18, "1"),
        (10_000 * 10**18, "10000"),
        (15 * 10**17, "1.5"),
        (1_234_567_899_999_999_999, "1.234567"),
        (1, "less than 0.000001"),
    ],
)
def test_format_native(neuron: int, shown: str) -> None:
    assert format_native(neuron) == shown


@given(st.integers(min_value=0, max_value=10**40))
def test_to_native_is_exact(neuron: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 160
        assert to_native(neuron) * 10**18 == neuron


@given(st.integers(min_value=10**12, max_value=10**40))
def test_the_shown_amount_never_exceeds_the_balance(neuron: int) -> None:
    assert Decimal(format_native(neuron)) <= to_native(neuron)


@pytest.mark.parametrize(
    ("text", "decimals", "base"),
    [
        ("0.5", 18, 5 * 10**17),
        ("1", 18, 10**18),
        (".5", 6, 500_000),
        ("5.", 6, 5_000_000),
        ("1_000.25", 2, 100_025),
        ("0.000000000000000001", 18, 1),
        ("2.50", 1, 25),
    ],
)
def test_parse_amount(text: str, decimals: int, base: int) -> None:
    assert parse_amount(text, decimals) == base


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0", "more than zero"),
        ("-1", "more than zero"),
        ("0.000", "more than zero"),
        ("1e3", "plain decimal"),
        ("abc", "plain decimal"),
        ("", "plain decimal"),
        (".", "plain decimal"),
        ("1.2.3", "plain decimal"),
        ("0.0000000000000000001", "more precise"),
        ("9" * 200, "plain decimal"),
    ],
)
def test_parse_amount_refuses(text: str, why: str) -> None:
    with pytest.raises(AmountError, match=why):
        parse_amount(text)


@given(st.integers(min_value=1, max_value=10**40))
def test_parse_amount_inverts_to_native(neuron: int) -> None:
    assert parse_amount(format(to_native(neuron), "f")) == neuron
