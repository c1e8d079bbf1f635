"""The local PostgreSQL and Redis for tests: a database of the session's own, dropped at the end, and
the Redis URL, both checked up front. Missing services fail the run (never skip) with a hint."""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg  # type: ignore[import-untyped]  # no stubs; only connect/execute are used here
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

# The maintenance database of the local server; the tests only create and drop their own database.
POSTGRES_ADMIN_DSN = os.environ.get("ZGV_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ZGV_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_REDIS_HINT = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
_START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _in_own_loop(function: Callable[..., Awaitable[None]], *args: Any) -> None:
    # Session fixtures may first be requested from inside a running event loop (an async fixture
    # calling getfixturevalue), where anyio.run refuses; a worker thread has a loop of its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, function, *args).result()


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A database created for this test session (unique name), dropped when the session ends."""
    database = f"zgv_test_{uuid.uuid4().hex[:16]}"
    try:
        _in_own_loop(_admin, f'CREATE DATABASE "{database}"')
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is required by the tests and is not usable at {POSTGRES_ADMIN_DSN} "
            f"({type(exc).__name__}: {exc}). Start it with: {_START_HINT}",
            pytrace=False,
        )
    try:
        yield _with_database(POSTGRES_ADMIN_DSN, database)
    finally:
        # FORCE ends connections a failed test may have leaked, so the drop cannot hang or fail.
        _in_own_loop(_admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def _redis_ping() -> None:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        await client.ping()
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis; tests use keys of their own (random names) and delete them."""
    try:
        _in_own_loop(_redis_ping)
    except (OSError, RedisError) as exc:
        pytest.fail(
            f"Redis is required by the tests and is not usable at {REDIS_URL} "
            f"({type(exc).__name__}: {exc}). Start it with: {_REDIS_HINT}",
            pytrace=False,
        )
    return REDIS_URL
