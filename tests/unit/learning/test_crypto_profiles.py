"""Envelope encryption and encrypted profiles: what is stored never shows its content, opens only for
its user at its location, and nothing opens once the user's key is destroyed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from learning.crypto import (
    DecryptionError,
    EnvelopeCipher,
    InMemoryKeyStore,
    SqliteKeyStore,
    load_or_create_master_key,
)
from learning.profiles import (
    MAX_CONTACTS,
    Profile,
    ProfileLimitError,
    ProfileStore,
    SqliteBlobStore,
    profile_key,
)

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

MASTER = bytes(range(32))
ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


async def test_sealed_data_opens_only_for_its_user_and_location() -> None:
    cipher = EnvelopeCipher(MASTER, InMemoryKeyStore())
    blob = await cipher.seal("u1", "note", b"buy milk")
    assert b"buy milk" not in blob
    assert await cipher.open("u1", "note", blob) == b"buy milk"
    with pytest.raises(DecryptionError):
        await cipher.open("u2", "note", blob)  # another user's key
    with pytest.raises(DecryptionError):
        await cipher.open("u1", "profile", blob)  # moved to another location
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        await cipher.open("u1", "note", tampered)
    with pytest.raises(DecryptionError):
        await cipher.open("u1", "note", b"short")


async def test_forgetting_a_user_destroys_every_copy_of_their_data(tmp_path: Path) -> None:
    cipher = EnvelopeCipher(MASTER, SqliteKeyStore(tmp_path / "keys.db"))
    blob = await cipher.seal("u1", "note", b"secret")
    other = await cipher.seal("u2", "note", b"kept")
    assert await cipher.forget("u1")
    with pytest.raises(DecryptionError, match="no data key"):
        await cipher.open("u1", "note", blob)  # a copy held elsewhere is now noise
    assert await cipher.open("u2", "note", other) == b"kept"
    assert not await cipher.forget("u1")


async def test_wrapped_keys_need_the_master_key(tmp_path: Path) -> None:
    keys = SqliteKeyStore(tmp_path / "keys.db")
    blob = await EnvelopeCipher(MASTER, keys).seal("u1", "note", b"x")
    with pytest.raises(DecryptionError, match="master key"):
        await EnvelopeCipher(bytes(32), keys).open("u1", "note", blob)
    assert MASTER not in (tmp_path / "keys.db").read_bytes()


def test_the_master_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "master.key"
    first = load_or_create_master_key(path)
    assert load_or_create_master_key(path) == first
    assert len(first) == 32
    assert os.stat(path).st_mode & 0o777 == 0o600
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="32-byte"):
        load_or_create_master_key(path)


async def test_profiles_round_trip_encrypted_and_read_their_writes(tmp_path: Path) -> None:
    store = ProfileStore(SqliteBlobStore(tmp_path / "p.db"), EnvelopeCipher(MASTER, InMemoryKeyStore()))
    assert await store.load("u1") == Profile()
    profile = Profile()
    profile.remember_contact("alice", ALICE)
    profile.remember_fact("i live in berlin")
    await store.save("u1", profile)
    assert (await store.load("u1")).contacts == {"alice": ALICE}
    raw = (tmp_path / "p.db").read_bytes()
    assert b"alice" not in raw
    assert b"berlin" not in raw
    assert profile_key("u1") != profile_key("u2")
    assert "u1" not in profile_key("u1")  # the public location does not name the user
    await store.forget("u1")
    assert await store.load("u1") == Profile()


def test_profile_limits() -> None:
    profile = Profile()
    for n in range(MAX_CONTACTS):
        profile.remember_contact(f"c{n}", ALICE)
    profile.remember_contact("c0", ALICE)  # replacing is always allowed
    with pytest.raises(ProfileLimitError):
        profile.remember_contact("one-more", ALICE)
    with pytest.raises(ProfileLimitError):
        profile.remember_fact("x" * 501)
