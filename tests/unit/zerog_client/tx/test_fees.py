"""Fee quotes (legacy and EIP-1559) under a cap, and replacement bumps of at least 12.5%."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerog_client.tx.fees import FeeCapExceededError, FeeQuote, bump, quote

pytestmark = pytest.mark.unit

GWEI = 10**9
amounts = st.integers(min_value=0, max_value=2**128)


# --- quote -----------------------------------------------------------------------------------------


def test_legacy_pays_the_node_gas_price() -> None:
    q = quote("legacy", gas_price=7 * GWEI, base_fee=GWEI, priority_fee=GWEI, cap=100 * GWEI)
    assert q == FeeQuote(gas_price=7 * GWEI)
    assert q.cap == 7 * GWEI


def test_eip1559_without_a_base_fee_falls_back_to_legacy() -> None:
    q = quote("eip1559", gas_price=5, base_fee=None, priority_fee=1, cap=10)
    assert q == FeeQuote(gas_price=5)


def test_legacy_cap_is_inclusive() -> None:
    assert quote("legacy", gas_price=10, base_fee=None, priority_fee=0, cap=10).gas_price == 10
    with pytest.raises(FeeCapExceededError, match="above the cap") as info:
        quote("legacy", gas_price=11, base_fee=None, priority_fee=0, cap=10)
    assert info.value.code == "fee_cap_exceeded"


def test_eip1559_pays_up_to_twice_the_base_fee_plus_the_tip() -> None:
    q = quote("eip1559", gas_price=0, base_fee=3 * GWEI, priority_fee=GWEI, cap=100 * GWEI)
    assert q == FeeQuote(max_fee_per_gas=7 * GWEI, max_priority_fee_per_gas=GWEI)
    assert q.cap == 7 * GWEI


def test_eip1559_headroom_is_trimmed_to_the_cap() -> None:
    q = quote("eip1559", gas_price=0, base_fee=10, priority_fee=2, cap=15)
    assert q == FeeQuote(max_fee_per_gas=15, max_priority_fee_per_gas=2)


def test_a_tip_above_the_cap_is_refused() -> None:
    assert quote("eip1559", gas_price=0, base_fee=0, priority_fee=10, cap=10).max_priority_fee_per_gas == 10
    with pytest.raises(FeeCapExceededError):
        quote("eip1559", gas_price=0, base_fee=0, priority_fee=11, cap=10)


def test_a_cap_below_what_the_current_block_needs_is_refused() -> None:
    with pytest.raises(FeeCapExceededError):
        quote("eip1559", gas_price=0, base_fee=100, priority_fee=1, cap=50)


@given(amounts, amounts, amounts, amounts)
def test_a_quote_never_exceeds_the_cap_and_the_tip_never_exceeds_the_max_fee(
    gas_price: int, base_fee: int, priority_fee: int, cap: int
) -> None:
    for mode, base in (("legacy", base_fee), ("eip1559", base_fee), ("eip1559", None)):
        try:
            q = quote(mode, gas_price=gas_price, base_fee=base, priority_fee=priority_fee, cap=cap)  # type: ignore[arg-type]
        except FeeCapExceededError:
            continue
        assert q.cap <= cap
        if q.gas_price is None:
            assert q.max_fee_per_gas is not None
            assert q.max_priority_fee_per_gas == priority_fee
            assert q.max_priority_fee_per_gas <= q.max_fee_per_gas <= 2 * base_fee + priority_fee
        else:
            assert q.gas_price == gas_price


# --- bump ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), [(0, 1), (1, 2), (8, 9), (9, 11), (100, 113), (800, 900)])
def test_a_legacy_bump_is_the_larger_of_one_more_and_an_eighth_more(before: int, after: int) -> None:
    assert bump(FeeQuote(gas_price=before), cap=10**6) == FeeQuote(gas_price=after)


def test_a_legacy_bump_up_to_the_cap_inclusive() -> None:
    assert bump(FeeQuote(gas_price=800), cap=900) == FeeQuote(gas_price=900)
    assert bump(FeeQuote(gas_price=800), cap=899) is None
    assert bump(FeeQuote(gas_price=900), cap=900) is None


def test_an_eip1559_bump_raises_both_fields() -> None:
    previous = FeeQuote(max_fee_per_gas=800, max_priority_fee_per_gas=80)
    assert bump(previous, cap=10**6) == FeeQuote(max_fee_per_gas=900, max_priority_fee_per_gas=90)
    assert bump(previous, cap=900) == FeeQuote(max_fee_per_gas=900, max_priority_fee_per_gas=90)
    assert bump(previous, cap=899) is None


def fee_quotes() -> st.SearchStrategy[FeeQuote]:
    legacy = amounts.map(lambda price: FeeQuote(gas_price=price))
    dynamic = st.tuples(amounts, amounts).map(
        lambda pair: FeeQuote(max_fee_per_gas=max(pair), max_priority_fee_per_gas=min(pair))
    )
    return legacy | dynamic


def fields(q: FeeQuote) -> list[int | None]:
    return [q.gas_price, q.max_fee_per_gas, q.max_priority_fee_per_gas]


@given(fee_quotes(), amounts)
def test_a_bump_raises_every_field_by_at_least_an_eighth_or_is_refused_at_the_cap(
    previous: FeeQuote, cap: int
) -> None:
    bumped = bump(previous, cap)
    # The smallest replacement a node accepts with our margin, on the field the cap applies to.
    needed = max(previous.cap + 1, -(-previous.cap * 9 // 8))
    if bumped is None:
        assert needed > cap
        return
    assert needed <= cap
    assert bumped.cap <= cap
    for old, new in zip(fields(previous), fields(bumped), strict=True):
        assert (old is None) == (new is None), "the fee type is kept"
        if old is not None and new is not None:
            assert new > old
            assert 8 * new >= 9 * old
    if bumped.max_fee_per_gas is not None:
        assert bumped.max_priority_fee_per_gas is not None
        assert bumped.max_priority_fee_per_gas <= bumped.max_fee_per_gas


@given(fee_quotes(), st.integers(min_value=1, max_value=30))
def test_repeated_bumps_climb_until_the_cap_stops_them(start: FeeQuote, rounds: int) -> None:
    cap = start.cap * 2 + 10
    current = start
    caps = [start.cap]
    for _ in range(rounds):
        bumped = bump(current, cap)
        if bumped is None:
            break
        current = bumped
        caps.append(current.cap)
    assert caps == sorted(set(caps))
    assert max(caps) <= cap
