"""The AnalyticsStore contract: the same tests run against every adapter (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import asyncpg  # type: ignore[import-untyped]  # no stubs; only connect/execute are used here
import pytest
from eth_utils.address import to_checksum_address

from voice_gateway.analytics import (
    AnalyticsError,
    AnalyticsStore,
    AnalyticsUnavailable,
    AuditEvent,
    HistoryPage,
    SqliteAnalyticsStore,
    ToolCallRecord,
    TransactionRecord,
    TurnRecord,
)
from voice_gateway.analytics.postgres_store import PostgresAnalyticsStore

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ALICE = to_checksum_address("0xa11ce000000000000000000000000000000000aa")
BOB = to_checksum_address("0xb0b00000000000000000000000000000000000bb")
CAROL = to_checksum_address("0xca401000000000000000000000000000000000cc")
TO = to_checksum_address("0x000000000000000000000000000000000000dead")
T0 = 1_750_000_000.0


@dataclass
class Backend:
    """Makes stores of one kind on this test's storage, or on fresh storage, and runs raw SQL there."""

    name: str
    _factory: Callable[[str], AnalyticsStore]
    _fresh: Callable[[], str]
    # Raw SQL on a location, bypassing the store (to plant a schema from the future).
    raw_sql: Callable[[str, str], Awaitable[None]]
    location: str = ""
    made: list[AnalyticsStore] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.location = self._fresh()

    def make(self, location: str | None = None) -> AnalyticsStore:
        """A new, unopened store on `location` (default: this test's storage)."""
        store = self._factory(location or self.location)
        self.made.append(store)
        return store

    def fresh_location(self) -> str:
        """Storage nobody has used yet (a new file, or a new schema)."""
        return self._fresh()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """One adapter kind per parameter; adding an adapter means adding a branch here, not tests."""
    if request.param == "sqlite":
        counter = iter(range(1_000_000))

        async def sqlite_raw(location: str, sql: str) -> None:
            with sqlite3.connect(location) as conn:
                conn.execute(sql)
            conn.close()

        made = Backend(
            "sqlite",
            lambda location: SqliteAnalyticsStore(location),
            lambda: str(tmp_path / f"analytics-{next(counter)}.db"),
            sqlite_raw,
        )
    else:
        dsn: str = request.getfixturevalue("postgres_dsn")

        async def postgres_raw(location: str, sql: str) -> None:
            conn = await asyncpg.connect(dsn, timeout=5)
            try:
                await conn.execute(f'SET search_path TO "{location}"')
                await conn.execute(sql)
            finally:
                await conn.close()

        # A schema per test inside the session's database: cheap isolation.
        made = Backend(
            "postgres",
            lambda location: PostgresAnalyticsStore(dsn, schema=location, max_connections=4),
            lambda: f"t_{uuid.uuid4().hex[:20]}",
            postgres_raw,
        )
    yield made
    for store in made.made:
        await store.close()


@pytest.fixture
async def store(backend: Backend) -> AnalyticsStore:
    """An open store on this test's storage (closed by `backend`)."""
    opened = backend.make()
    await opened.open()
    return opened


def turn(address: str, turn_id: str, at: float, session_id: str = "s1", **changes: Any) -> TurnRecord:
    record = TurnRecord(
        address=address,
        session_id=session_id,
        turn_id=turn_id,
        at=at,
        transcript=f"what is my balance ({address[:6]} {turn_id})",
        intent="balance",
        reply="You have 1.5 OG.",
        latency_ms={"stt": 120.5, "nlp": 3.25, "tts_first_audio": 210.0},
    )
    return dataclasses.replace(record, **changes)


def tool_call(address: str, turn_id: str, at: float, **changes: Any) -> ToolCallRecord:
    record = ToolCallRecord(address, turn_id, "chain", "get_balance", True, None, 41.5, at)
    return dataclasses.replace(record, **changes)


def transaction(address: str, n: int, at: float, **changes: Any) -> TransactionRecord:
    record = TransactionRecord(address, f"0x{n:064x}", 16602, TO, str(2**256 - 1), "submitted", at)
    return dataclasses.replace(record, **changes)


def audit(address: str | None, at: float, **changes: Any) -> AuditEvent:
    record = AuditEvent("signin_failed", "bad_nonce", address, "ab" * 16, {"origin": "https://x.example"}, at)
    return dataclasses.replace(record, **changes)


async def seed_user(store: AnalyticsStore, address: str, *, turns: int = 2, session_id: str = "s1") -> None:
    """A user with one session, `turns` turns a second apart, a tool call per turn and one transaction."""
    await store.upsert_user(address, "user")
    await store.start_session(session_id, address, T0)
    for i in range(turns):
        await store.record_turn(turn(address, f"t{i}", T0 + 1 + i, session_id))
        await store.record_tool_call(tool_call(address, f"t{i}", T0 + 1.5 + i))
    await store.record_transaction(transaction(address, 1, T0 + 50))


async def test_every_record_kind_round_trips(store: AnalyticsStore) -> None:
    await store.upsert_user(ALICE, "user")
    await store.upsert_user(ALICE, "admin")  # a second upsert changes the role, keeps the user
    await store.start_session("s-1_A", ALICE, T0)
    await store.start_session("s-1_A", ALICE, T0 + 99)  # again: nothing changes
    recorded = turn(ALICE, "t-1", T0 + 1, "s-1_A", transcript="send 5 OG to 0x… “bob” ✓", reply="")
    await store.record_turn(recorded)
    ok_call = tool_call(ALICE, "t-1", T0 + 2)
    failed_call = tool_call(ALICE, "t-1", T0 + 3, ok=False, error_code="rpc_timeout", tool="send")
    await store.record_tool_call(ok_call)
    await store.record_tool_call(failed_call)
    creation = transaction(ALICE, 7, T0 + 4, to=None, value="0")
    await store.record_transaction(creation)
    await store.end_session("s-1_A", T0 + 10)
    await store.end_session("s-1_A", T0 + 20)  # the first end time is kept
    event = audit(
        ALICE, T0 + 5, detail={"n": 1, "f": 0.5, "ok": True, "none": None, "list": ["a", {"b": []}]}
    )
    await store.record_audit(event)

    assert await store.history(ALICE) == [recorded]
    assert await store.audit_events() == [event]
    exported = await store.export(ALICE)
    json.dumps(exported)  # serialisable as is
    assert exported["address"] == ALICE
    user = exported["user"]
    assert isinstance(user, dict)
    assert user["role"] == "admin"
    assert exported["sessions"] == [
        {"session_id": "s-1_A", "address": ALICE, "started_at": T0, "ended_at": T0 + 10}
    ]
    assert exported["turns"] == [dataclasses.asdict(recorded)]
    assert exported["tool_calls"] == [dataclasses.asdict(ok_call), dataclasses.asdict(failed_call)]
    assert exported["transactions"] == [dataclasses.asdict(creation)]


async def test_recording_a_transaction_again_updates_it(store: AnalyticsStore) -> None:
    await store.upsert_user(ALICE)
    await store.record_transaction(transaction(ALICE, 1, T0))
    mined = transaction(ALICE, 1, T0 + 12, status="mined")
    await store.record_transaction(mined)
    other_chain = transaction(ALICE, 1, T0 + 13, chain_id=16661)
    await store.record_transaction(other_chain)

    assert (await store.export(ALICE))["transactions"] == [
        dataclasses.asdict(mined),
        dataclasses.asdict(other_chain),
    ]


async def test_history_is_newest_first_and_pages_with_before(store: AnalyticsStore) -> None:
    await store.upsert_user(ALICE)
    await store.start_session("s1", ALICE, T0)
    turns = [turn(ALICE, f"t{i}", T0 + i * 2.5) for i in range(5)]
    for record in (turns[2], turns[0], turns[4], turns[1], turns[3]):  # stored out of order
        await store.record_turn(record)

    first = await store.history(ALICE, limit=2)
    assert first == [turns[4], turns[3]]
    page = HistoryPage.of(first, 2)
    assert page.next_before == turns[3].at
    second = await store.history(ALICE, limit=2, before=page.next_before)
    assert second == [turns[2], turns[1]]
    last = await store.history(ALICE, limit=2, before=turns[1].at)
    assert last == [turns[0]]
    assert HistoryPage.of(last, 2).next_before is None
    assert await store.history(ALICE, limit=200) == turns[::-1]
    assert await store.history(ALICE, before=turns[0].at) == []


@pytest.mark.parametrize("limit", [0, -1, 201, True, 2.5, "10"])
async def test_history_and_audit_limits_are_validated(store: AnalyticsStore, limit: Any) -> None:
    with pytest.raises(AnalyticsError) as history_error:
        await store.history(ALICE, limit=limit)
    with pytest.raises(AnalyticsError) as audit_error:
        await store.audit_events(limit=limit)
    assert history_error.value.code == audit_error.value.code == "invalid_limit"


async def test_users_are_isolated(store: AnalyticsStore) -> None:
    await seed_user(store, ALICE, turns=3, session_id="alice-s")
    # Bob reuses Alice's turn ids: each user's ids are their own.
    await seed_user(store, BOB, turns=2, session_id="bob-s")

    alice_history = await store.history(ALICE)
    assert [t.turn_id for t in alice_history] == ["t2", "t1", "t0"]
    assert all(t.address == ALICE for t in alice_history)
    assert all(t.address == BOB for t in await store.history(BOB))
    exported = json.dumps(await store.export(ALICE))
    assert BOB not in exported
    assert "bob-s" not in exported
    assert len(json.loads(exported)["tool_calls"]) == 3

    # Nothing of Bob's can hang under Alice's session or turns, nor take her session id.
    with pytest.raises(AnalyticsError) as into_session:
        await store.record_turn(turn(BOB, "t9", T0 + 9, session_id="alice-s"))
    assert into_session.value.code == "unknown_session"
    with pytest.raises(AnalyticsError) as taken:
        await store.start_session("alice-s", BOB, T0)
    assert taken.value.code == "session_conflict"
    with pytest.raises(AnalyticsError) as on_turn:
        await store.record_tool_call(tool_call(BOB, "t2", T0 + 9))  # t2 exists for Alice only
    assert on_turn.value.code == "unknown_turn"
    assert len(await store.history(ALICE)) == 3


async def test_references_must_exist_and_turns_are_unique(store: AnalyticsStore) -> None:
    checks: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("unknown_user", lambda: store.start_session("s9", CAROL, T0)),
        ("unknown_user", lambda: store.record_transaction(transaction(CAROL, 1, T0))),
        ("unknown_session", lambda: store.end_session("nope", T0)),
        ("unknown_session", lambda: store.record_turn(turn(ALICE, "t9", T0, session_id="nope"))),
        ("unknown_turn", lambda: store.record_tool_call(tool_call(ALICE, "nope", T0))),
        ("duplicate_turn", lambda: store.record_turn(turn(ALICE, "t0", T0 + 7))),
        ("invalid_number", lambda: store.end_session("s1", T0 - 1)),
    ]
    await seed_user(store, ALICE, turns=1)
    for code, call in checks:
        with pytest.raises(AnalyticsError) as refused:
            await call()
        assert refused.value.code == code
    assert await store.history(ALICE) == [turn(ALICE, "t0", T0 + 1)]


async def test_delete_user_erases_that_user_only_and_anonymises_audit(store: AnalyticsStore) -> None:
    await seed_user(store, ALICE, turns=3, session_id="alice-s")
    await store.start_session("alice-s2", ALICE, T0 + 100)
    await seed_user(store, BOB, turns=2, session_id="bob-s")
    alice_event = audit(ALICE, T0 + 1)
    bob_event = audit(BOB, T0 + 2, kind="token_revoked", reason="logout")
    anonymous_event = audit(None, T0 + 3)
    for event in (alice_event, bob_event, anonymous_event):
        await store.record_audit(event)
    bob_before = await store.export(BOB)

    counts = await store.delete_user(ALICE)

    assert counts == {
        "users": 1,
        "sessions": 2,
        "turns": 3,
        "tool_calls": 3,
        "transactions": 1,
        "audit_events": 1,
    }
    assert await store.history(ALICE) == []
    assert await store.export(ALICE) == {
        "format": 1,
        "address": ALICE,
        "user": None,
        "sessions": [],
        "turns": [],
        "tool_calls": [],
        "transactions": [],
    }
    assert await store.export(BOB) == bob_before
    # The security record survives; its link to Alice does not.
    assert await store.audit_events() == [
        anonymous_event,
        bob_event,
        dataclasses.replace(alice_event, address=None),
    ]
    assert await store.delete_user(ALICE) == dict.fromkeys(counts, 0)
    # Alice may come back as a new user.
    await store.upsert_user(ALICE)
    await store.start_session("alice-s", ALICE, T0 + 500)


async def test_audit_events_newest_first_filtered_by_kind(store: AnalyticsStore) -> None:
    events = [audit(None, T0 + i, kind="signin_failed" if i % 2 else "signin_ok") for i in range(6)]
    for event in events:
        await store.record_audit(event)

    assert await store.audit_events() == events[::-1]
    assert await store.audit_events(limit=2) == [events[5], events[4]]
    assert await store.audit_events(kind="signin_failed") == [events[5], events[3], events[1]]
    assert await store.audit_events(kind="never") == []


_TOO_MANY_STAGES = {f"stage{i}": 1.0 for i in range(33)}
_BAD_RECORDS: list[tuple[str, str, Callable[[AnalyticsStore], Awaitable[object]]]] = [
    ("lower-case address", "invalid_address", lambda s: s.upsert_user(ALICE.lower())),
    ("short address", "invalid_address", lambda s: s.upsert_user(ALICE[:-1])),
    ("not a string", "invalid_address", lambda s: s.history(12345)),  # type: ignore[arg-type]
    ("role", "invalid_role", lambda s: s.upsert_user(ALICE, "root")),  # type: ignore[arg-type]
    ("session id with space", "invalid_id", lambda s: s.start_session("a b", ALICE, T0)),
    ("empty session id", "invalid_id", lambda s: s.start_session("", ALICE, T0)),
    ("long session id", "invalid_id", lambda s: s.end_session("x" * 65, T0)),
    ("NaN time", "invalid_number", lambda s: s.start_session("s2", ALICE, float("nan"))),
    ("negative time", "invalid_number", lambda s: s.start_session("s2", ALICE, -1.0)),
    ("turn id", "invalid_id", lambda s: s.record_turn(turn(ALICE, "t/1", T0))),
    ("turn address", "invalid_address", lambda s: s.record_turn(turn(ALICE.lower(), "t1", T0))),
    ("long transcript", "too_large", lambda s: s.record_turn(turn(ALICE, "t1", T0, transcript="a" * 10_001))),
    ("long reply", "too_large", lambda s: s.record_turn(turn(ALICE, "t1", T0, reply="a" * 10_001))),
    ("NUL in transcript", "invalid_text", lambda s: s.record_turn(turn(ALICE, "t1", T0, transcript="a\x00"))),
    ("surrogate in reply", "invalid_text", lambda s: s.record_turn(turn(ALICE, "t1", T0, reply="\ud800"))),
    ("intent", "invalid_name", lambda s: s.record_turn(turn(ALICE, "t1", T0, intent="send tokens"))),
    ("33 stages", "too_large", lambda s: s.record_turn(turn(ALICE, "t1", T0, latency_ms=_TOO_MANY_STAGES))),
    (
        "inf latency",
        "invalid_number",
        lambda s: s.record_turn(turn(ALICE, "t1", T0, latency_ms={"a": float("inf")})),
    ),
    (
        "NaN latency",
        "invalid_number",
        lambda s: s.record_turn(turn(ALICE, "t1", T0, latency_ms={"a": float("nan")})),
    ),
    (
        "bool latency",
        "invalid_number",
        lambda s: s.record_turn(turn(ALICE, "t1", T0, latency_ms={"a": True})),
    ),
    ("stage name", "invalid_name", lambda s: s.record_turn(turn(ALICE, "t1", T0, latency_ms={"": 1.0}))),
    ("tool name", "invalid_name", lambda s: s.record_tool_call(tool_call(ALICE, "t0", T0, tool=""))),
    (
        "error code",
        "invalid_name",
        lambda s: s.record_tool_call(tool_call(ALICE, "t0", T0, error_code="a b")),
    ),
    ("duration", "invalid_number", lambda s: s.record_tool_call(tool_call(ALICE, "t0", T0, duration_ms=-1))),
    ("ok", "invalid_number", lambda s: s.record_tool_call(tool_call(ALICE, "t0", T0, ok=1))),
    (
        "upper-case hash",
        "invalid_tx",
        lambda s: s.record_transaction(transaction(ALICE, 0xABC, T0, tx_hash="0x" + "A" * 64)),
    ),
    ("short hash", "invalid_tx", lambda s: s.record_transaction(transaction(ALICE, 1, T0, tx_hash="0x1234"))),
    ("value with zero", "invalid_tx", lambda s: s.record_transaction(transaction(ALICE, 1, T0, value="01"))),
    ("negative value", "invalid_tx", lambda s: s.record_transaction(transaction(ALICE, 1, T0, value="-1"))),
    ("decimal value", "invalid_tx", lambda s: s.record_transaction(transaction(ALICE, 1, T0, value="1.5"))),
    (
        "value over uint256",
        "invalid_tx",
        lambda s: s.record_transaction(transaction(ALICE, 1, T0, value=str(2**256))),
    ),
    ("int value", "invalid_tx", lambda s: s.record_transaction(transaction(ALICE, 1, T0, value=5))),
    ("chain id", "invalid_tx", lambda s: s.record_transaction(transaction(ALICE, 1, T0, chain_id=0))),
    ("to", "invalid_address", lambda s: s.record_transaction(transaction(ALICE, 1, T0, to=TO.lower()))),
    ("status", "invalid_name", lambda s: s.record_transaction(transaction(ALICE, 1, T0, status=""))),
    ("kind", "invalid_name", lambda s: s.record_audit(audit(None, T0, kind=""))),
    ("audit address", "invalid_address", lambda s: s.record_audit(audit("0x1234", T0))),
    ("raw IP", "invalid_detail", lambda s: s.record_audit(audit(None, T0, ip_hash="203.0.113.7"))),
    ("detail size", "too_large", lambda s: s.record_audit(audit(None, T0, detail={"a": "x" * 8200}))),
    ("detail set", "invalid_detail", lambda s: s.record_audit(audit(None, T0, detail={"a": {1, 2}}))),
    ("detail int key", "invalid_detail", lambda s: s.record_audit(audit(None, T0, detail={1: "a"}))),
    ("detail NaN", "invalid_detail", lambda s: s.record_audit(audit(None, T0, detail={"a": float("nan")}))),
    ("detail NUL", "invalid_detail", lambda s: s.record_audit(audit(None, T0, detail={"a": "\x00"}))),
    ("detail address", "invalid_detail", lambda s: s.record_audit(audit(None, T0, detail={"to": BOB}))),
    ("before", "invalid_number", lambda s: s.history(ALICE, before=float("inf"))),
    ("audit kind filter", "invalid_name", lambda s: s.audit_events(kind="")),
]


@pytest.mark.parametrize(
    ("code", "call"), [(c, f) for _, c, f in _BAD_RECORDS], ids=[n for n, _, _ in _BAD_RECORDS]
)
async def test_invalid_input_is_refused_before_anything_is_written(
    store: AnalyticsStore, code: str, call: Callable[[AnalyticsStore], Awaitable[object]]
) -> None:
    await seed_user(store, ALICE, turns=1)
    before = await store.export(ALICE)

    with pytest.raises(AnalyticsError) as refused:
        await call(store)

    assert refused.value.code == code
    assert isinstance(refused.value, ValueError)
    assert await store.export(ALICE) == before
    assert await store.audit_events() == []


async def test_limits_at_the_boundaries_are_accepted(store: AnalyticsStore) -> None:
    await store.upsert_user(ALICE)
    await store.start_session("x" * 64, ALICE, T0)
    big = turn(
        ALICE,
        "t" * 64,
        T0,
        session_id="x" * 64,
        transcript="a" * 10_000,
        reply="é" * 10_000,
        latency_ms={f"s{i}": float(i) for i in range(32)},
    )
    await store.record_turn(big)
    event = audit(None, T0, detail={"a": "x" * 8000, "hash": "0x" + "ab" * 32})
    await store.record_audit(event)

    assert await store.history(ALICE, limit=1) == [big]
    assert await store.audit_events(limit=1) == [event]


async def test_migrations_apply_once_and_reopening_is_idempotent(backend: Backend) -> None:
    first = backend.make()
    await first.open()
    await first.open()  # already open: nothing happens
    await seed_user(first, ALICE, turns=1)
    await first.close()
    again = backend.make()
    await again.open()

    migrations = await again.applied_migrations()
    assert [(m.version, m.name) for m in migrations] == [(1, "init")]
    assert len(await again.history(ALICE)) == 1


async def test_stores_opening_together_on_fresh_storage_migrate_once(backend: Backend) -> None:
    location = backend.fresh_location()
    stores = [backend.make(location) for _ in range(3)]
    with anyio.fail_after(15):
        async with anyio.create_task_group() as group:
            for each in stores:
                group.start_soon(each.open)

    for each in stores:
        assert [(m.version, m.name) for m in await each.applied_migrations()] == [(1, "init")]
    await stores[0].upsert_user(ALICE)
    await stores[1].start_session("s1", ALICE, T0)
    await stores[2].record_turn(turn(ALICE, "t1", T0 + 1))
    assert len(await stores[0].history(ALICE)) == 1


async def test_a_schema_newer_than_the_code_is_refused(backend: Backend) -> None:
    first = backend.make()
    await first.open()
    await first.close()
    await backend.raw_sql(
        backend.location,
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)"
        if backend.name == "sqlite"
        else "INSERT INTO schema_migrations (version, name) VALUES (99, 'future')",
    )

    with pytest.raises(AnalyticsUnavailable) as refused:
        await backend.make().open()
    assert refused.value.code == "schema_too_new"


async def test_a_closed_or_unopened_store_refuses(backend: Backend) -> None:
    never_opened = backend.make()
    closed = backend.make()
    await closed.open()
    await closed.close()
    await closed.close()  # closing twice is harmless

    for each in (never_opened, closed):
        await assert_refuses_everything(each)


async def assert_refuses_everything(store: AnalyticsStore) -> None:
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.upsert_user(ALICE),
        lambda: store.start_session("s1", ALICE, T0),
        lambda: store.end_session("s1", T0),
        lambda: store.record_turn(turn(ALICE, "t1", T0)),
        lambda: store.record_tool_call(tool_call(ALICE, "t1", T0)),
        lambda: store.record_transaction(transaction(ALICE, 1, T0)),
        lambda: store.record_audit(audit(None, T0)),
        lambda: store.history(ALICE),
        lambda: store.export(ALICE),
        lambda: store.delete_user(ALICE),
        lambda: store.audit_events(),
        lambda: store.applied_migrations(),
    ]
    for call in calls:
        with pytest.raises(AnalyticsUnavailable, match="not open") as refused:
            await call()
        assert refused.value.code == "not_open"
        assert not refused.value.retryable
