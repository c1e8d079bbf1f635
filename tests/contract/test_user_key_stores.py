"""The KeyStore and BlobStore contracts on every adapter: in memory, SQLite (embedded) and PostgreSQL
(cluster); and the reason the cluster needs the shared one: a key destroyed by one replica is gone
for every replica."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from learning.crypto import (
    DecryptionError,
    EnvelopeCipher,
    InMemoryKeyStore,
    KeyStore,
    PostgresKeyStore,
    SqliteKeyStore,
    load_master_key,
)
from learning.profiles import BlobStore, PostgresBlobStore, SqliteBlobStore

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

MASTER = bytes(range(32))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def make_keys(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable[[], Any]]:
    """Makes key store instances that share one store (as replicas of one deployment do)."""
    opened: list[PostgresKeyStore] = []
    if request.param == "memory":
        shared = InMemoryKeyStore()
        yield lambda: shared
    elif request.param == "sqlite":
        yield lambda: SqliteKeyStore(tmp_path / "keys.db")
    else:
        dsn: str = request.getfixturevalue("postgres_dsn")
        schema = f"t_{uuid.uuid4().hex[:16]}"

        async def make() -> PostgresKeyStore:
            store = PostgresKeyStore(dsn, schema)
            await store.open()
            opened.append(store)
            return store

        yield make
    for store in opened:
        await store.close()


async def _made(make: Callable[[], Any]) -> Any:
    made = make()
    return await made if asyncio.iscoroutine(made) else made


async def test_the_first_key_wins_and_every_instance_sees_it(make_keys: Callable[[], Any]) -> None:
    one: KeyStore = await _made(make_keys)
    two: KeyStore = await _made(make_keys)
    assert await one.get("alice") is None
    first, second = await asyncio.gather(one.put_if_absent("alice", b"k1"), two.put_if_absent("alice", b"k2"))
    assert first == second
    assert first in (b"k1", b"k2")
    assert await two.get("alice") == first
    assert await one.get("bob") is None


async def test_destroying_a_key_destroys_it_for_every_instance(make_keys: Callable[[], Any]) -> None:
    one: KeyStore = await _made(make_keys)
    two: KeyStore = await _made(make_keys)
    writer, reader = EnvelopeCipher(MASTER, one), EnvelopeCipher(MASTER, two)
    blob = await writer.seal("alice", "note-1", b"the safe code is 4711")
    assert await reader.open("alice", "note-1", blob) == b"the safe code is 4711"
    assert await reader.forget("alice") is True
    assert await reader.forget("alice") is False
    with pytest.raises(DecryptionError):
        await writer.open("alice", "note-1", blob)


@pytest.fixture(params=["sqlite", "postgres"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "sqlite":
        yield SqliteBlobStore(tmp_path / "blobs.db")
        return
    store = PostgresBlobStore(request.getfixturevalue("postgres_dsn"), f"t_{uuid.uuid4().hex[:16]}")
    await store.open()
    yield store
    await store.close()


async def test_blobs_are_stored_replaced_and_deleted(blobs: BlobStore) -> None:
    assert await blobs.get("profile/alice") is None
    await blobs.put("profile/alice", b"v1")
    await blobs.put("profile/alice", b"v2")
    assert await blobs.get("profile/alice") == b"v2"
    await blobs.delete("profile/alice")
    await blobs.delete("profile/alice")  # absent: no error
    assert await blobs.get("profile/alice") is None


async def test_postgres_adapters_refuse_odd_names_and_use_before_open(postgres_dsn: str) -> None:
    with pytest.raises(ValueError, match="lower-case"):
        PostgresKeyStore(postgres_dsn, 'x"; DROP TABLE y; --')
    with pytest.raises(RuntimeError, match="open"):
        await PostgresKeyStore(postgres_dsn, "zgv_unopened").get("alice")


def test_the_cluster_master_key_must_exist_and_be_whole(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="replicas must share"):
        load_master_key(tmp_path / "missing.key")
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 31)
    with pytest.raises(ValueError, match="32-byte"):
        load_master_key(short)
    whole = tmp_path / "whole.key"
    whole.write_bytes(MASTER)
    assert load_master_key(whole) == MASTER
