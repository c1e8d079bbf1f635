"""The SessionStore contract, run against every adapter: in process and Redis.

Time: the memory adapter runs on an injected clock that the tests move; Redis runs on real time, so
its "short" TTLs are a fraction of a second and the tests poll, with a deadline, until a key is gone.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from redis.asyncio import Redis

from tests.support.processes import poll_until
from voice_gateway.auth.redis_session_store import RedisSessionStore
from voice_gateway.auth.session_store import (
    MAX_KEY_BYTES,
    MAX_TTL_S,
    MAX_VALUE_BYTES,
    MemorySessionStore,
    SessionStore,
    SessionStoreError,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

LONG = 60.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    """One adapter under test.

    Attributes:
        store: the store the tests use.
        replica: makes another store on the same state (another gateway replica).
        short: a TTL the tests wait out.
        elapse: moves the injected clock by some seconds; a no-op on real time.
    """

    store: SessionStore
    replica: Callable[[], SessionStore]
    short: float
    elapse: Callable[[float], None]

    async def wait_until_gone(self, key: str) -> None:
        """Lets `short` pass, then polls until `key` has expired."""
        self.elapse(self.short + 0.001)

        async def gone() -> bool:
            return await self.store.get(key) is None

        await poll_until(gone, timeout_s=5, what=f"{key!r} to expire")


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        clock = FakeClock()
        memory = MemorySessionStore(clock=clock)

        def elapse(seconds: float) -> None:
            clock.now += seconds

        yield Backend(memory, lambda: memory, short=10.0, elapse=elapse)
        await memory.close()
        return

    url: str = request.getfixturevalue("redis_url")
    prefix = f"zgv:test:gw:{uuid.uuid4().hex}:"
    made: list[RedisSessionStore] = []

    def replica() -> SessionStore:
        made.append(RedisSessionStore(url, prefix=prefix))
        return made[-1]

    yield Backend(replica(), replica, short=0.15, elapse=lambda seconds: None)
    for store in made:
        await store.close()
    cleaner = Redis.from_url(url)
    stale = [key async for key in cleaner.scan_iter(match=prefix + "*")]
    if stale:
        await cleaner.delete(*stale)
    await cleaner.aclose()


async def test_put_then_get(backend: Backend) -> None:
    store = backend.store
    assert await store.get("nonce:a") is None
    await store.put("nonce:a", b"\x00pending\xff", LONG)
    assert await store.get("nonce:a") == b"\x00pending\xff"
    assert await store.get("nonce:b") is None


async def test_put_replaces_the_value_and_its_ttl(backend: Backend) -> None:
    store = backend.store
    await store.put("k", b"first", LONG)
    await store.put("k", b"second", backend.short)
    assert await store.get("k") == b"second"
    await backend.wait_until_gone("k")


async def test_put_new_sets_once_and_keeps_the_first_value(backend: Backend) -> None:
    store = backend.store
    assert await store.put_new("k", b"first", LONG)
    assert not await store.put_new("k", b"second", LONG)
    assert await store.get("k") == b"first"


async def test_put_new_succeeds_again_after_expiry(backend: Backend) -> None:
    store = backend.store
    assert await store.put_new("k", b"first", backend.short)
    await backend.wait_until_gone("k")
    assert await store.put_new("k", b"second", LONG)
    assert await store.get("k") == b"second"


async def test_take_returns_the_value_exactly_once(backend: Backend) -> None:
    store = backend.store
    await store.put("ticket:t", b"alice", LONG)
    assert await store.take("ticket:t") == b"alice"
    assert await store.take("ticket:t") is None
    assert await store.get("ticket:t") is None


async def test_take_of_a_missing_key_is_none(backend: Backend) -> None:
    assert await backend.store.take("ticket:never") is None


async def test_delete_says_whether_the_key_existed(backend: Backend) -> None:
    store = backend.store
    await store.put("k", b"v", LONG)
    assert await store.delete("k")
    assert not await store.delete("k")
    assert await store.get("k") is None
    assert not await store.delete("never")


async def test_incr_counts_from_one(backend: Backend) -> None:
    store = backend.store
    assert [await store.incr("rl:x", LONG) for _ in range(3)] == [1, 2, 3]
    assert await store.get("rl:x") == b"3"
    assert await store.incr("rl:y", LONG) == 1


async def test_incr_restarts_after_its_window(backend: Backend) -> None:
    store = backend.store
    assert await store.incr("rl:x", backend.short) == 1
    await backend.wait_until_gone("rl:x")
    assert await store.incr("rl:x", LONG) == 1


async def test_later_increments_do_not_extend_the_window(backend: Backend) -> None:
    store = backend.store
    assert await store.incr("rl:x", backend.short) == 1
    # Had this increment restarted the TTL, the counter would live LONG and the wait would time out.
    assert await store.incr("rl:x", LONG) == 2
    await backend.wait_until_gone("rl:x")


async def test_an_entry_lives_until_its_ttl(backend: Backend) -> None:
    store = backend.store
    await store.put("k", b"v", backend.short)
    backend.elapse(backend.short * 0.9)
    assert await store.get("k") == b"v"


@pytest.mark.parametrize("kind", ["put", "put_new", "incr"])
async def test_every_kind_of_entry_expires(backend: Backend, kind: str) -> None:
    store = backend.store
    if kind == "put":
        await store.put("k", b"v", backend.short)
    elif kind == "put_new":
        assert await store.put_new("k", b"v", backend.short)
    else:
        assert await store.incr("k", backend.short) == 1
    await backend.wait_until_gone("k")
    assert await store.take("k") is None
    assert not await store.delete("k")


async def test_the_limits_themselves_are_accepted(backend: Backend) -> None:
    store = backend.store
    longest_key = "k" * MAX_KEY_BYTES
    await store.put(longest_key, b"x" * MAX_VALUE_BYTES, MAX_TTL_S)
    assert await store.get(longest_key) == b"x" * MAX_VALUE_BYTES
    await store.put("empty", b"", LONG)
    assert await store.get("empty") == b""
    # A TTL shorter than Redis's millisecond is still a TTL.
    await store.put("brief", b"v", 0.0001)
    assert await store.delete(longest_key)


# Every call the store must refuse, before it touches any state.
_INVALID: list[tuple[str, Callable[[SessionStore], Awaitable[object]]]] = [
    ("empty key", lambda s: s.put("", b"v", LONG)),
    ("key over 512 bytes", lambda s: s.put("k" * (MAX_KEY_BYTES + 1), b"v", LONG)),
    ("key over 512 bytes, not characters", lambda s: s.get("é" * (MAX_KEY_BYTES // 2 + 1))),
    ("value over 64 KiB", lambda s: s.put("k", b"x" * (MAX_VALUE_BYTES + 1), LONG)),
    ("value over 64 KiB, put_new", lambda s: s.put_new("k", b"x" * (MAX_VALUE_BYTES + 1), LONG)),
    # The argument's type is the point of the case.
    ("text value", lambda s: s.put("k", "v", LONG)),  # type: ignore[arg-type]
    ("bytearray value", lambda s: s.put_new("k", bytearray(b"v"), LONG)),  # type: ignore[arg-type]
    ("zero ttl", lambda s: s.put("k", b"v", 0)),
    ("negative ttl", lambda s: s.put_new("k", b"v", -1.0)),
    ("ttl over 30 days", lambda s: s.put("k", b"v", MAX_TTL_S + 1)),
    ("nan ttl", lambda s: s.put("k", b"v", math.nan)),
    ("incr zero ttl", lambda s: s.incr("k", 0)),
    ("incr ttl over 30 days", lambda s: s.incr("k", MAX_TTL_S + 0.5)),
    ("incr empty key", lambda s: s.incr("", LONG)),
    ("get empty key", lambda s: s.get("")),
    ("take empty key", lambda s: s.take("")),
    ("delete oversized key", lambda s: s.delete("k" * (MAX_KEY_BYTES + 1))),
]


@pytest.mark.parametrize("call", [call for _, call in _INVALID], ids=[name for name, _ in _INVALID])
async def test_invalid_arguments_are_refused(
    backend: Backend, call: Callable[[SessionStore], Awaitable[object]]
) -> None:
    with pytest.raises(SessionStoreError):
        await call(backend.store)
    assert await backend.store.get("k") is None


async def race(
    stores: list[SessionStore], count: int, action: Callable[[SessionStore, int], Coroutine[None, None, None]]
) -> None:
    """Runs `count` actions at once, spread over `stores`. Every store first opens the connections
    the race needs; otherwise connecting staggers the actions and hides a race."""

    async def warm(store: SessionStore, n: int) -> None:
        await store.get("warm-up")

    for step in (warm, action):
        async with anyio.create_task_group() as group:
            for n in range(count):
                group.start_soon(step, stores[n % len(stores)], n)


async def test_concurrent_takes_yield_the_value_once(backend: Backend) -> None:
    await backend.store.put("nonce:n", b"login", LONG)
    got: list[bytes | None] = []

    async def take(store: SessionStore, n: int) -> None:
        got.append(await store.take("nonce:n"))

    await race([backend.store, backend.replica()], 50, take)
    assert len(got) == 50
    assert [value for value in got if value is not None] == [b"login"]


async def test_concurrent_put_new_sets_once(backend: Backend) -> None:
    won: list[int] = []

    async def put_new(store: SessionStore, n: int) -> None:
        if await store.put_new("k", str(n).encode(), LONG):
            won.append(n)

    await race([backend.store, backend.replica()], 50, put_new)
    assert len(won) == 1
    assert await backend.store.get("k") == str(won[0]).encode()


async def test_concurrent_increments_are_all_counted(backend: Backend) -> None:
    counts: list[int] = []

    async def incr(store: SessionStore, n: int) -> None:
        counts.append(await store.incr("rl:x", LONG))

    await race([backend.store, backend.replica()], 200, incr)
    assert sorted(counts) == list(range(1, 201))
    assert await backend.store.get("rl:x") == b"200"


async def test_replicas_share_state(backend: Backend) -> None:
    issuer, verifier = backend.store, backend.replica()
    await issuer.put("siwe:nonce:abc", b"origin", LONG)
    assert await verifier.take("siwe:nonce:abc") == b"origin"
    assert await issuer.take("siwe:nonce:abc") is None
    assert await verifier.incr("rl:x", LONG) == 1
    assert await issuer.incr("rl:x", LONG) == 2


async def test_separate_redis_instances_share_a_nonce(redis_url: str) -> None:
    """Two gateway replicas, each with its own connection pool: a nonce issued by one is redeemed
    by the other, once."""
    prefix = f"zgv:test:gw:{uuid.uuid4().hex}:"
    issuer, verifier = RedisSessionStore(redis_url, prefix), RedisSessionStore(redis_url, prefix)
    try:
        await issuer.put("siwe:nonce:n1", b"pending", LONG)
        assert await verifier.take("siwe:nonce:n1") == b"pending"
        assert await verifier.take("siwe:nonce:n1") is None
        assert await issuer.take("siwe:nonce:n1") is None
        # Prefixes partition one Redis: a store of another deployment does not see the key.
        other = RedisSessionStore(redis_url, f"zgv:test:gw:{uuid.uuid4().hex}:")
        await issuer.put("k", b"v", LONG)
        assert await other.get("k") is None
        await other.close()
        assert await verifier.delete("k")
    finally:
        await issuer.close()
        await verifier.close()


async def test_incr_always_leaves_a_ttl_on_the_counter(redis_url: str) -> None:
    """The script sets the window on the first increment only, and never leaves a counter unbounded."""
    prefix = f"zgv:test:gw:{uuid.uuid4().hex}:"
    store, raw = RedisSessionStore(redis_url, prefix), Redis.from_url(redis_url)
    try:
        assert await store.incr("rl:x", 30.0) == 1
        first = await raw.pttl(prefix + "rl:x")
        assert 29_000 < first <= 30_000
        assert await store.incr("rl:x", 3_000.0) == 2
        assert 0 < await raw.pttl(prefix + "rl:x") <= first
    finally:
        await raw.delete(prefix + "rl:x")
        await raw.aclose()
        await store.close()


# --- a model ------------------------------------------------------------------------------------------------

_KEYS = st.sampled_from(["a", "b", "c"])
# Decimal text, so that `incr` applies to values written by `put` too.
_VALUES = st.one_of(st.integers(0, 999).map(lambda n: str(n).encode()), st.binary(max_size=6))


def _is_counter(value: bytes | None) -> bool:
    if value is None:
        return True
    try:
        return str(int(value)).encode() == value
    except ValueError:
        return False


async def test_the_store_behaves_like_a_dict(backend: Backend) -> None:
    """Random operations without expiry agree with a dict, on two replicas of one store."""
    machine = _store_machine(backend)
    # Hypothesis drives the machine from a worker thread; each call hops back into this test's
    # event loop, where the stores' connections live.
    await anyio.to_thread.run_sync(
        lambda: run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=15,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    )


def _store_machine(backend: Backend) -> type[RuleBasedStateMachine]:
    call = anyio.from_thread.run
    stores = [backend.store, backend.replica()]

    class StoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # A namespace per run: the stores outlive one run of the machine.
            self.space = uuid.uuid4().hex[:8]
            self.model: dict[str, bytes] = {}

        def key(self, name: str) -> str:
            return f"{self.space}:{name}"

        @rule(replica=st.integers(0, 1), name=_KEYS, value=_VALUES)
        def put(self, replica: int, name: str, value: bytes) -> None:
            call(stores[replica].put, self.key(name), value, LONG)
            self.model[name] = value

        @rule(replica=st.integers(0, 1), name=_KEYS, value=_VALUES)
        def put_new(self, replica: int, name: str, value: bytes) -> None:
            created = call(stores[replica].put_new, self.key(name), value, LONG)
            assert created == (name not in self.model)
            self.model.setdefault(name, value)

        @rule(replica=st.integers(0, 1), name=_KEYS)
        def take(self, replica: int, name: str) -> None:
            assert call(stores[replica].take, self.key(name)) == self.model.pop(name, None)

        @rule(replica=st.integers(0, 1), name=_KEYS)
        def delete(self, replica: int, name: str) -> None:
            assert call(stores[replica].delete, self.key(name)) == (self.model.pop(name, None) is not None)

        @rule(replica=st.integers(0, 1), name=_KEYS)
        def incr(self, replica: int, name: str) -> None:
            if not _is_counter(self.model.get(name)):
                return
            expected = int(self.model.get(name, b"0")) + 1
            assert call(stores[replica].incr, self.key(name), LONG) == expected
            self.model[name] = str(expected).encode()

        @invariant()
        def agrees(self) -> None:
            for name in ("a", "b", "c"):
                assert call(stores[0].get, self.key(name)) == self.model.get(name)

    return StoreMachine
