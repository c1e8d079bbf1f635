"""The per-endpoint circuit breaker and latency average, on an injected clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerog_client.chain.breaker import BreakerState, EndpointHealth

pytestmark = pytest.mark.unit


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


def health(clock: Clock, threshold: int = 3, cooldown_s: float = 5.0) -> EndpointHealth:
    return EndpointHealth(failure_threshold=threshold, cooldown_s=cooldown_s, clock=clock)


def opened(clock: Clock, threshold: int = 3, cooldown_s: float = 5.0) -> EndpointHealth:
    h = health(clock, threshold, cooldown_s)
    for _ in range(threshold):
        h.record_failure()
    assert h.state is BreakerState.OPEN
    return h


@pytest.mark.parametrize("threshold", [1, 2, 3, 7])
def test_opens_after_exactly_threshold_consecutive_failures(threshold: int) -> None:
    h = health(Clock(), threshold)
    for _ in range(threshold - 1):
        h.record_failure()
        assert h.state is BreakerState.CLOSED
        assert h.available()
    h.record_failure()
    assert h.state is BreakerState.OPEN
    assert not h.available()


def test_a_success_resets_the_failure_count() -> None:
    h = health(Clock(), threshold=3)
    for _ in range(5):
        h.record_failure()
        h.record_failure()
        h.record_success(1.0)
    assert h.state is BreakerState.CLOSED
    assert h.consecutive_failures == 0


def test_skipped_while_open_until_the_cooldown_is_over() -> None:
    clock = Clock()
    h = opened(clock, cooldown_s=5.0)
    for elapsed in (0.0, 1.0, 4.999):
        clock.now = 1_000.0 + elapsed
        assert not h.available()
        assert h.state is BreakerState.OPEN
    clock.now = 1_005.0
    assert h.available()
    assert h.state is BreakerState.HALF_OPEN


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    h = opened(clock)
    clock.now += 60
    grants = [h.available() for _ in range(20)]
    assert grants == [True] + [False] * 19
    assert h.probe_in_flight


def test_a_successful_probe_closes_the_circuit() -> None:
    clock = Clock()
    h = opened(clock)
    clock.now += 5
    assert h.available()
    h.record_success(12.0)
    assert h.state is BreakerState.CLOSED
    assert not h.probe_in_flight
    assert all(h.available() for _ in range(5))


def test_a_failed_probe_reopens_for_a_whole_new_cooldown() -> None:
    clock = Clock()
    h = opened(clock, threshold=3, cooldown_s=5.0)
    clock.now += 7
    assert h.available()
    h.record_failure()
    assert h.state is BreakerState.OPEN
    assert h.opened_at == clock.now
    clock.now += 4.9
    assert not h.available()
    clock.now += 0.1
    assert h.available()  # the next probe
    assert not h.available()


def test_a_json_rpc_answer_counts_as_a_success_for_the_probe() -> None:
    # The pool records a JSON-RPC error as a success: the node answered.
    clock = Clock()
    h = opened(clock)
    clock.now += 5
    assert h.available()
    h.record_success(3.0)
    assert h.state is BreakerState.CLOSED


def test_the_default_clock_is_monotonic_time() -> None:
    h = EndpointHealth(failure_threshold=1, cooldown_s=3600)
    h.record_failure()
    assert not h.available()


def test_latency_is_an_exponentially_weighted_average() -> None:
    h = health(Clock())
    assert h.latency_ms is None
    h.record_success(100.0)
    assert h.latency_ms == 100.0
    h.record_success(200.0)
    assert h.latency_ms == pytest.approx(120.0)
    h.record_success(200.0)
    assert h.latency_ms == pytest.approx(136.0)


def test_failures_do_not_change_the_latency() -> None:
    h = health(Clock())
    h.record_success(40.0)
    h.record_failure()
    assert h.latency_ms == 40.0


@given(st.lists(st.floats(min_value=0.0, max_value=60_000.0), min_size=1, max_size=50))
def test_the_average_stays_between_the_smallest_and_largest_sample(samples: list[float]) -> None:
    h = health(Clock())
    for sample in samples:
        h.record_success(sample)
    assert h.latency_ms is not None
    assert min(samples) - 1e-6 <= h.latency_ms <= max(samples) + 1e-6


@given(st.floats(min_value=0.0, max_value=1_000.0), st.floats(min_value=0.0, max_value=1_000.0))
def test_the_average_converges_to_a_steady_latency(start: float, steady: float) -> None:
    h = health(Clock())
    h.record_success(start)
    for _ in range(100):
        h.record_success(steady)
    assert h.latency_ms == pytest.approx(steady, abs=1e-6)


def test_unmeasured_endpoints_score_first_then_faster_ones() -> None:
    clock = Clock()
    fast, slow, unknown = health(clock), health(clock), health(clock)
    fast.record_success(5.0)
    slow.record_success(50.0)
    ranked = sorted([slow, fast, unknown], key=EndpointHealth.score)
    assert ranked == [unknown, fast, slow]
    assert unknown.score() < 0 <= fast.score() < slow.score()


Event = tuple[str, float]


@given(
    st.integers(min_value=1, max_value=5),
    st.lists(
        st.one_of(
            st.tuples(st.just("fail"), st.just(0.0)),
            st.tuples(st.just("ok"), st.floats(min_value=0, max_value=1e3)),
            st.tuples(st.just("wait"), st.floats(min_value=0, max_value=10)),
            st.tuples(st.just("ask"), st.just(0.0)),
        ),
        max_size=60,
    ),
)
def test_while_not_closed_at_most_one_request_passes_per_outcome(threshold: int, events: list[Event]) -> None:
    """Whatever happens, an open or half-open breaker grants at most one request before an outcome
    is recorded, and a closed one grants every request."""
    clock = Clock()
    h = health(clock, threshold=threshold, cooldown_s=5.0)
    grants_since_outcome = 0
    for kind, amount in events:
        if kind == "fail":
            h.record_failure()
            grants_since_outcome = 0
        elif kind == "ok":
            h.record_success(amount)
            grants_since_outcome = 0
            assert h.state is BreakerState.CLOSED
        elif kind == "wait":
            clock.now += amount
        else:
            was_closed = h.state is BreakerState.CLOSED
            granted = h.available()
            if was_closed:
                assert granted
            elif granted:
                grants_since_outcome += 1
                assert grants_since_outcome == 1
        assert h.state is BreakerState.CLOSED or h.consecutive_failures >= 1
