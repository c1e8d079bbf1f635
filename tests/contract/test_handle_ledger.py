"""The HandleLedger and SpendLedger contracts, run against every adapter: in memory, SQLite, and the
cluster's Redis (handles) and PostgreSQL (spending)."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis

from mcp_servers.cluster_ledgers import PostgresSpendLedger, RedisHandleLedger
from mcp_servers.confirmations import (
    ConfirmationHandles,
    ConfirmationUsed,
    HandleLedger,
    InMemoryHandleLedger,
    InMemorySpendLedger,
    SpendLedger,
    SqliteHandleLedger,
    SqliteSpendLedger,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

T0 = 1_700_000_000.0
HANDLES = 200
# The child processes import the project from the repository root.
REPO_ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def make_ledger(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Callable[[], HandleLedger]]:
    """Makes ledger instances sharing one store (one dict, one SQLite file, or one Redis key)."""
    if request.param == "memory":
        shared = InMemoryHandleLedger(clock)
        yield lambda: shared
    elif request.param == "sqlite":
        path = tmp_path / "handles.sqlite3"
        yield lambda: SqliteHandleLedger(path, clock)
    else:
        url: str = request.getfixturevalue("redis_url")
        key = f"zgv:test:handles:{uuid.uuid4().hex}"
        made: list[RedisHandleLedger] = []

        def make() -> HandleLedger:
            made.append(RedisHandleLedger(url, key=key, clock=clock))
            return made[-1]

        yield make
        cleaner = Redis.from_url(url)
        await cleaner.delete(key)
        await cleaner.aclose()
        for ledger in made:
            await ledger.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def spend_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SpendLedger]:
    if request.param == "memory":
        yield InMemorySpendLedger()
    elif request.param == "sqlite":
        yield SqliteSpendLedger(tmp_path / "spends.sqlite3")
    else:
        dsn: str = request.getfixturevalue("postgres_dsn")
        ledger = PostgresSpendLedger(dsn, schema=f"t_{uuid.uuid4().hex[:20]}")
        await ledger.open()
        yield ledger
        await ledger.close()


async def test_the_first_use_wins_and_every_later_one_loses(make_ledger: Callable[[], HandleLedger]) -> None:
    ledger = make_ledger()
    assert await ledger.use_once("a" * 32, T0 + 120)
    assert not await ledger.use_once("a" * 32, T0 + 120)
    assert not await make_ledger().use_once("a" * 32, T0 + 120)
    assert await ledger.use_once("b" * 32, T0 + 120)


async def test_used_ids_survive_until_well_past_their_expiry(
    make_ledger: Callable[[], HandleLedger], clock: FakeClock
) -> None:
    ledger = make_ledger()
    assert await ledger.use_once("a" * 32, T0 + 120)
    # A replica whose clock lags may still consider the handle alive: the row must still be there.
    clock.now = T0 + 120 + 300
    assert not await ledger.use_once("a" * 32, T0 + 120)
    # Long after, the row is purged; the handle itself is refused as expired before the ledger.
    clock.now = T0 + 120 + 3600
    assert await ledger.use_once("c" * 32, T0 + 3600 + 120)
    assert await ledger.use_once("a" * 32, T0 + 120)


async def test_concurrent_instances_on_one_store_let_exactly_one_win(
    make_ledger: Callable[[], HandleLedger],
) -> None:
    ledgers = [make_ledger() for _ in range(4)]
    wins: list[str] = []

    async def contend(ledger: HandleLedger, handle_id: str) -> None:
        if await ledger.use_once(handle_id, T0 + 120):
            wins.append(handle_id)

    async with anyio.create_task_group() as group:
        for n in range(50):
            for ledger in ledgers:
                group.start_soon(contend, ledger, f"{n:032x}")
    assert sorted(wins) == [f"{n:032x}" for n in range(50)]


async def test_redeem_across_replicas_sharing_a_ledger(
    make_ledger: Callable[[], HandleLedger], clock: FakeClock
) -> None:
    secret = bytes(range(32))
    prepare, confirm = ConfirmationHandles(secret, clock=clock), ConfirmationHandles(secret, clock=clock)
    handle = prepare.mint("user:alice", "0xabc", {"amount": "1"})
    await confirm.redeem(handle, "user:alice", "0xabc", make_ledger())
    with pytest.raises(ConfirmationUsed):
        await prepare.redeem(handle, "user:alice", "0xabc", make_ledger())


_RACER = """
import json, sys, anyio
from mcp_servers.confirmations import SqliteHandleLedger

async def main() -> None:
    ledger = SqliteHandleLedger(sys.argv[1], clock=lambda: {now})
    wins = [n for n in range({count}) if await ledger.use_once(f"{{n:032x}}", {expiry})]
    print(json.dumps(wins))

anyio.run(main)
"""


async def test_two_processes_racing_on_one_sqlite_file_let_exactly_one_win(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    script = _RACER.format(now=T0, count=HANDLES, expiry=T0 + 120)
    results: list[list[int]] = []

    async def race() -> None:
        done = await anyio.run_process([sys.executable, "-c", script, str(path)], cwd=REPO_ROOT)
        results.append(json.loads(done.stdout))

    async with anyio.create_task_group() as group:
        for _ in range(2):
            group.start_soon(race)
    first, second = (set(r) for r in results)
    assert not first & second, "a handle was used twice"
    assert first | second == set(range(HANDLES))


async def test_spend_ledger_sums_per_principal_and_asset_from_a_time(spend_ledger: SpendLedger) -> None:
    big = 2**256 - 1  # beyond SQLite's 64-bit integers: stored exactly anyway
    await spend_ledger.record("alice", "native", big, T0)
    await spend_ledger.record("alice", "native", 1, T0 - 10)
    await spend_ledger.record("alice", "0xAbC0000000000000000000000000000000000001", 5, T0)
    await spend_ledger.record("bob", "native", 7, T0)
    assert await spend_ledger.spent_since("alice", "native", T0) == big
    assert await spend_ledger.spent_since("alice", "native", T0 - 10) == big + 1
    assert await spend_ledger.spent_since("alice", "0xabc0000000000000000000000000000000000001", T0) == 5
    assert await spend_ledger.spent_since("carol", "native", 0) == 0


async def test_spend_ledger_refuses_negative_amounts(spend_ledger: SpendLedger) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        await spend_ledger.record("alice", "native", -1, T0)
