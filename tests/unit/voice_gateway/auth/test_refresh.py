"""Refresh-token families: rotation, reuse detection that kills the family, one winner of a race,
logout, and the idle and absolute lifetimes on a fake clock."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from voice_gateway.auth.refresh import RefreshPolicy, RefreshRejected, RefreshTokens, token_hash
from voice_gateway.auth.session_store import MemorySessionStore

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

ADDRESS = "0x71C7656EC7ab88b098defB751B7401B5f6d8976F"
START = 1_795_000_000.0
HOUR = 3600.0
DAY = 24 * HOUR


class FakeClock:
    """Unix seconds that move only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class YieldingStore(MemorySessionStore):
    """The in-process store, but every operation lets other tasks run before and after it, as a
    network round trip to Redis would; each operation itself stays atomic."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.written: list[tuple[str, bytes]] = []

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        await anyio.lowlevel.checkpoint()
        self.written.append((key, value))
        await super().put(key, value, ttl_s)
        await anyio.lowlevel.checkpoint()

    async def put_new(self, key: str, value: bytes, ttl_s: float) -> bool:
        await anyio.lowlevel.checkpoint()
        self.written.append((key, value))
        done = await super().put_new(key, value, ttl_s)
        await anyio.lowlevel.checkpoint()
        return done

    async def get(self, key: str) -> bytes | None:
        await anyio.lowlevel.checkpoint()
        value = await super().get(key)
        await anyio.lowlevel.checkpoint()
        return value

    async def take(self, key: str) -> bytes | None:
        await anyio.lowlevel.checkpoint()
        value = await super().take(key)
        await anyio.lowlevel.checkpoint()
        return value


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> YieldingStore:
    return YieldingStore(clock)


@pytest.fixture
def refresh(store: YieldingStore, clock: FakeClock) -> RefreshTokens:
    return RefreshTokens(store, clock, RefreshPolicy(absolute_s=3 * DAY, idle_s=DAY))


async def code_of(refresh: RefreshTokens, token: str) -> str:
    with pytest.raises(RefreshRejected) as refused:
        await refresh.rotate(token)
    assert str(refused.value) == "refresh token refused"
    return refused.value.code


async def test_rotation_keeps_the_family_and_moves_the_idle_deadline(
    refresh: RefreshTokens, clock: FakeClock
) -> None:
    first = await refresh.start(ADDRESS, "user", 5)
    assert first.token.startswith("zgvr_")
    assert len(first.token) == 48
    assert first.expires_at == START + DAY
    clock.advance(HOUR)
    second = await refresh.rotate(first.token)
    assert second.token != first.token
    assert (second.family_id, second.address, second.role, second.session_version, second.kind) == (
        first.family_id,
        ADDRESS,
        "user",
        5,
        "eoa",
    )
    assert second.idle_expires_at == START + HOUR + DAY
    assert second.absolute_expires_at == first.absolute_expires_at == START + 3 * DAY
    assert second.token not in repr(second)
    third = await refresh.rotate(second.token)
    assert third.family_id == first.family_id
    assert await refresh.family_live(first.family_id)


async def test_only_hashes_of_tokens_reach_the_store(refresh: RefreshTokens, store: YieldingStore) -> None:
    first = await refresh.start(ADDRESS, "user", 0)
    second = await refresh.rotate(first.token)
    written = b"".join(key.encode() + value for key, value in store.written)
    for grant in (first, second):
        assert grant.token.encode() not in written
        assert token_hash(grant.token).encode() in written


async def test_replaying_a_rotated_token_revokes_the_whole_family(refresh: RefreshTokens) -> None:
    stolen = await refresh.start(ADDRESS, "user", 0)
    newest = await refresh.rotate(stolen.token)
    assert await code_of(refresh, stolen.token) == "refresh_reused"
    assert not await refresh.family_live(stolen.family_id)
    assert await code_of(refresh, newest.token) == "family_revoked"
    # And again later: the family stays dead, the old token stays a reuse.
    assert await code_of(refresh, stolen.token) == "refresh_reused"


async def test_a_thief_who_rotates_first_is_cut_off_when_the_owner_comes_back(refresh: RefreshTokens) -> None:
    owners = await refresh.start(ADDRESS, "user", 0)
    thiefs = await refresh.rotate(owners.token)  # the thief used the copied token first
    assert await code_of(refresh, owners.token) == "refresh_reused"
    assert await code_of(refresh, thiefs.token) == "family_revoked"


async def test_of_concurrent_refreshes_with_one_token_exactly_one_wins(refresh: RefreshTokens) -> None:
    grant = await refresh.start(ADDRESS, "user", 0)
    wins: list[str] = []
    codes: list[str] = []

    async def attempt() -> None:
        try:
            wins.append((await refresh.rotate(grant.token)).token)
        except RefreshRejected as exc:
            codes.append(exc.code)

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(attempt)
    assert len(wins) == 1
    assert len(codes) == 19
    # A loser that looks after the winner marked the token used sees a reuse and kills the family
    # (a racing client cannot be told apart from a thief); one that looks earlier sees it unknown.
    assert set(codes) <= {"refresh_reused", "unknown_refresh"}
    if "refresh_reused" in codes:
        assert await code_of(refresh, wins[0]) == "family_revoked"


async def test_logout_revokes_the_family(refresh: RefreshTokens) -> None:
    grant = await refresh.start(ADDRESS, "user", 0)
    assert await refresh.revoke_token(grant.token) == grant.family_id
    assert not await refresh.family_live(grant.family_id)
    assert await code_of(refresh, grant.token) == "unknown_refresh"
    assert await refresh.revoke_token(grant.token) is None  # twice is harmless
    assert not await refresh.revoke_family(grant.family_id)


async def test_logout_with_an_already_rotated_token_still_ends_the_session(refresh: RefreshTokens) -> None:
    old = await refresh.start(ADDRESS, "user", 0)
    current = await refresh.rotate(old.token)
    assert await refresh.revoke_token(old.token) == old.family_id
    assert await code_of(refresh, current.token) == "family_revoked"


async def test_an_idle_token_expires_and_takes_its_family_along(
    refresh: RefreshTokens, clock: FakeClock
) -> None:
    grant = await refresh.start(ADDRESS, "user", 0)
    clock.advance(DAY)
    assert await code_of(refresh, grant.token) == "refresh_idle_expired"
    assert not await refresh.family_live(grant.family_id)


async def test_an_active_family_still_ends_at_its_absolute_deadline(
    refresh: RefreshTokens, clock: FakeClock
) -> None:
    grant = await refresh.start(ADDRESS, "user", 0)
    for _ in range(3):  # used every 20 h: never idle, but 3 days is the end
        clock.advance(20 * HOUR)
        grant = await refresh.rotate(grant.token)
    assert grant.expires_at == START + 3 * DAY  # the idle deadline is capped by the absolute one
    clock.advance(12 * HOUR)
    assert await code_of(refresh, grant.token) == "refresh_expired"
    assert not await refresh.family_live(grant.family_id)


async def test_a_shorter_absolute_lifetime_applies_to_contract_wallets(
    refresh: RefreshTokens, clock: FakeClock
) -> None:
    grant = await refresh.start(ADDRESS, "user", 0, kind="contract", absolute_s=HOUR)
    assert grant.kind == "contract"
    assert grant.expires_at == START + HOUR
    clock.advance(HOUR)
    assert await code_of(refresh, grant.token) == "refresh_expired"


@pytest.mark.parametrize("token", ["", "zgvr_short", "zgvr_" + "!" * 43, "x" * 10_000, "Bearer zgvr_"])
async def test_malformed_tokens_are_refused_before_the_store(refresh: RefreshTokens, token: str) -> None:
    assert await code_of(refresh, token) == "malformed_refresh"


async def test_an_unknown_token_is_refused(refresh: RefreshTokens) -> None:
    assert await code_of(refresh, "zgvr_" + "A" * 43) == "unknown_refresh"


def test_lifetimes_must_make_sense() -> None:
    with pytest.raises(ValueError, match="idle"):
        RefreshPolicy(absolute_s=HOUR, idle_s=DAY)
    with pytest.raises(ValueError, match="30 days"):
        RefreshPolicy(absolute_s=40 * DAY)


class FamilyMachine(RuleBasedStateMachine):
    """Any sequence of refreshes, replays of rotated tokens, waits and logouts: a replayed token
    never yields a successor and always leaves the family dead; a live family refreshes until its
    idle or absolute deadline, never after."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        policy = RefreshPolicy(absolute_s=3 * DAY, idle_s=DAY)
        self.refresh = RefreshTokens(MemorySessionStore(clock=self.clock), self.clock, policy)
        self.grant = anyio.run(self.refresh.start, ADDRESS, "user", 0)
        self.used: list[str] = []
        self.revoked = False

    @rule()
    def refresh_with_the_newest_token(self) -> None:
        in_time = self.clock() < self.grant.expires_at
        try:
            successor = anyio.run(self.refresh.rotate, self.grant.token)
        except RefreshRejected:
            refused_rightly = self.revoked or not in_time
            assert refused_rightly
            self.revoked = True  # an expired token takes its family along
            return
        assert in_time
        assert not self.revoked
        self.used.append(self.grant.token)
        self.grant = successor

    @precondition(lambda self: bool(self.used))
    @rule(data=st.data())
    def replay_a_rotated_token(self, data: st.DataObject) -> None:
        token = data.draw(st.sampled_from(self.used))
        with pytest.raises(RefreshRejected) as refused:
            anyio.run(self.refresh.rotate, token)
        if self.clock() < self.grant.absolute_expires_at:
            assert refused.value.code == "refresh_reused"
            self.revoked = True

    @rule(seconds=st.floats(min_value=0, max_value=10 * HOUR))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def log_out(self) -> None:
        anyio.run(self.refresh.revoke_token, self.grant.token)
        self.revoked = True

    @invariant()
    def the_family_is_live_exactly_when_expected(self) -> None:
        expected = not self.revoked and self.clock() < self.grant.absolute_expires_at
        assert anyio.run(self.refresh.family_live, self.grant.family_id) == expected


FamilyMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=25, deadline=None)
TestFamilyMachine = FamilyMachine.TestCase
