"""Fixtures of the contract suites: every adapter of an interface, each on storage of its own.

PostgreSQL is required, never skipped: the session creates a database with a unique name on the
local server, works only inside it, and drops it at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zerog_client.tx.outbox import Outbox
from zerog_client.tx.postgres_outbox import PostgresOutbox
from zerog_client.tx.sqlite_outbox import SqliteOutbox


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
