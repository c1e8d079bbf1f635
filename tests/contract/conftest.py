"""Fixtures of the contract suites: every adapter of an interface, each on storage of its own.

PostgreSQL is required, never skipped: the session creates a database with a unique name on the
local server, works only inside it, and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg  # type: ignore[import-untyped]  # no stubs; only connect/execute are used here
import pytest

from zerog_client.tx.outbox import Outbox
from zerog_client.tx.postgres_outbox import PostgresOutbox
from zerog_client.tx.sqlite_outbox import SqliteOutbox

# The maintenance database of the local server; the tests only create and drop their own database.
POSTGRES_ADMIN_DSN = os.environ.get("ZGV_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
_START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


@dataclass
class OutboxBackend:
    """Makes adapters of one kind: on the test's own storage, or on fresh storage when asked."""

    name: str
    _factory: Callable[[str], Outbox]
    _fresh: Callable[[], str]
    # Arguments from which another process builds the same adapter: (kind, location, dsn).
    _argv: Callable[[str], list[str]]
    location: str = ""
    opened: list[Outbox] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.location = self._fresh()

    def make(self, location: str | None = None) -> Outbox:
        """A new, unopened adapter on `location` (default: this test's storage)."""
        outbox = self._factory(location or self.location)
        self.opened.append(outbox)
        return outbox

    def fresh_location(self) -> str:
        """Storage nobody has used yet (a new file, or a new schema)."""
        return self._fresh()

    def child_argv(self, location: str) -> list[str]:
        """What a child process needs to open an adapter on `location` (see test_outbox's writer)."""
        return self._argv(location)


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A database created for this test session (unique name), dropped when the session ends."""
    database = f"zgv_contract_{uuid.uuid4().hex[:16]}"
    try:
        anyio.run(_admin, f'CREATE DATABASE "{database}"')
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is required by the contract tests and is not usable at {POSTGRES_ADMIN_DSN} "
            f"({type(exc).__name__}: {exc}). Start it with: {_START_HINT}",
            pytrace=False,
        )
    try:
        yield _with_database(POSTGRES_ADMIN_DSN, database)
    finally:
        # FORCE ends connections a failed test may have leaked, so the drop cannot hang or fail.
        anyio.run(_admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def outbox_backend(request: pytest.FixtureRequest, tmp_path: Path) -> OutboxBackend:
    """One adapter kind per parameter; adding an adapter means adding a branch here, not tests."""
    if request.param == "sqlite":
        counter = iter(range(1_000_000))
        return OutboxBackend(
            "sqlite",
            lambda location: SqliteOutbox(location),
            lambda: str(tmp_path / f"outbox-{next(counter)}.db"),
            lambda location: ["sqlite", location, ""],
        )
    dsn: str = request.getfixturevalue("postgres_dsn")
    # A schema per test (or per state-machine run) inside the session's database: cheap isolation.
    return OutboxBackend(
        "postgres",
        lambda location: PostgresOutbox(dsn, schema=location, max_connections=4),
        lambda: f"t_{uuid.uuid4().hex[:20]}",
        lambda location: ["postgres", location, dsn],
    )


@pytest.fixture
async def outbox(outbox_backend: OutboxBackend) -> AsyncIterator[Outbox]:
    """An open adapter on this test's storage; every adapter the test made is closed afterwards."""
    adapter = outbox_backend.make()
    await adapter.open()
    yield adapter
    for made in outbox_backend.opened:
        await made.close()
