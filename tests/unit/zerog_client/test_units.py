from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerog_client import format_native, to_native

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
