"""Fixed-window rate limits: `limit` hits per window and subject, then refusals until the window ends."""

from __future__ import annotations

import math

import pytest

from voice_gateway.auth.rate_limit import RateDecision, RateLimiter
from voice_gateway.auth.session_store import MAX_TTL_S, MemorySessionStore

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

WINDOW = 60.0
IP = "203.0.113.7"
WALLET = "0x71C7656EC7ab88b098defB751B7401B5f6d8976F"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemorySessionStore:
    return MemorySessionStore(clock=clock)


async def test_allows_limit_hits_then_refuses(store: MemorySessionStore) -> None:
    limiter = RateLimiter(store, limit=3, window_s=WINDOW, name="nonce")
    decisions = [await limiter.hit(IP) for _ in range(5)]
    assert decisions == [
        RateDecision(allowed=True, remaining=2, retry_after_s=0.0),
        RateDecision(allowed=True, remaining=1, retry_after_s=0.0),
        RateDecision(allowed=True, remaining=0, retry_after_s=0.0),
        RateDecision(allowed=False, remaining=0, retry_after_s=WINDOW),
        RateDecision(allowed=False, remaining=0, retry_after_s=WINDOW),
    ]


async def test_a_limit_of_one(store: MemorySessionStore) -> None:
    limiter = RateLimiter(store, limit=1, window_s=WINDOW, name="ticket")
    assert (await limiter.hit(WALLET)).allowed
    assert not (await limiter.hit(WALLET)).allowed


async def test_subjects_are_counted_apart(store: MemorySessionStore) -> None:
    limiter = RateLimiter(store, limit=2, window_s=WINDOW, name="nonce")
    assert [(await limiter.hit(IP)).allowed for _ in range(3)] == [True, True, False]
    assert [(await limiter.hit(WALLET)).allowed for _ in range(3)] == [True, True, False]
    assert not (await limiter.hit(IP)).allowed


async def test_limits_with_different_names_are_counted_apart(store: MemorySessionStore) -> None:
    per_ip = RateLimiter(store, limit=1, window_s=WINDOW, name="nonce")
    verify = RateLimiter(store, limit=1, window_s=WINDOW, name="verify")
    assert (await per_ip.hit(IP)).allowed
    assert (await verify.hit(IP)).allowed
    assert not (await per_ip.hit(IP)).allowed


async def test_the_window_resets(store: MemorySessionStore, clock: FakeClock) -> None:
    limiter = RateLimiter(store, limit=2, window_s=WINDOW, name="nonce")
    assert [(await limiter.hit(IP)).allowed for _ in range(3)] == [True, True, False]
    clock.now += WINDOW
    assert await limiter.hit(IP) == RateDecision(allowed=True, remaining=1, retry_after_s=0.0)


async def test_the_window_is_fixed_from_the_first_hit(store: MemorySessionStore, clock: FakeClock) -> None:
    limiter = RateLimiter(store, limit=2, window_s=WINDOW, name="nonce")
    assert (await limiter.hit(IP)).allowed
    clock.now += WINDOW - 1
    assert (await limiter.hit(IP)).allowed
    assert not (await limiter.hit(IP)).allowed
    # Refused hits late in the window do not push its end back.
    clock.now += 1
    assert (await limiter.hit(IP)).allowed


async def test_long_subjects_are_bounded_and_still_counted_apart(store: MemorySessionStore) -> None:
    limiter = RateLimiter(store, limit=1, window_s=WINDOW, name="nonce")
    # Far beyond the store's 512-byte keys, in characters and (multi-byte) in bytes.
    long_a, long_b, wide = "a" * 5_000, "a" * 4_999 + "b", "é" * 150
    for subject in (long_a, long_b, wide):
        assert (await limiter.hit(subject)).allowed
        assert not (await limiter.hit(subject)).allowed


async def test_a_subject_at_the_bound_is_kept_as_it_is(store: MemorySessionStore) -> None:
    limiter = RateLimiter(store, limit=1, window_s=WINDOW, name="nonce")
    subject = "s" * 200
    assert (await limiter.hit(subject)).allowed
    assert await store.get(f"rl:nonce:{subject}") == b"1"


async def test_an_empty_subject_is_refused(store: MemorySessionStore) -> None:
    limiter = RateLimiter(store, limit=1, window_s=WINDOW, name="nonce")
    with pytest.raises(ValueError, match="subject"):
        await limiter.hit("")


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
def test_limit_is_a_positive_integer(store: MemorySessionStore, limit: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(store, limit=limit, window_s=WINDOW, name="nonce")


@pytest.mark.parametrize("window_s", [0, -1.0, math.nan, math.inf, MAX_TTL_S + 1])
def test_window_is_positive_and_bounded(store: MemorySessionStore, window_s: float) -> None:
    with pytest.raises(ValueError, match="window"):
        RateLimiter(store, limit=1, window_s=window_s, name="nonce")


@pytest.mark.parametrize("name", ["", "Nonce", "a" * 33, "rate limit", "a:b", "nonce\n", "é"])
def test_name_is_short_lowercase_text(store: MemorySessionStore, name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        RateLimiter(store, limit=1, window_s=WINDOW, name=name)


@pytest.mark.parametrize("name", ["a", "a" * 32, "siwe-verify_2"])
async def test_valid_names_are_accepted(store: MemorySessionStore, name: str) -> None:
    assert (await RateLimiter(store, limit=1, window_s=WINDOW, name=name).hit(IP)).allowed
