"""Client-side envelope encryption for everything we write about a user to 0G (which anyone can read).

Each user has a random 256-bit data key. It is stored only wrapped (AES-256-GCM) by the deployment's
master key, with the user id as associated data, in a `KeyStore`. Data is sealed with the user's data
key, with the storage location (for example the KV stream and key) as associated data, so a blob
copied to another location, or another user's blob, does not decrypt. Destroying the wrapped data
key (`forget`) makes every blob of that user unreadable, wherever copies of it live.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from learning.postgres_table import PostgresTable
from learning.sqlite_table import SqliteTable

_VERSION = b"\x01"
_NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionError(Exception):
    """The blob is not ours, was altered, belongs elsewhere, or its key was destroyed."""


class KeyStore(Protocol):
    """Where wrapped data keys live (never the master key)."""

    async def get(self, user: str) -> bytes | None:
        """The wrapped data key of `user`, or None."""
        ...

    async def put_if_absent(self, user: str, wrapped: bytes) -> bytes:
        """Store `wrapped` unless a key exists; return the stored one (so racing writers agree)."""
        ...

    async def delete(self, user: str) -> bool:
        """Destroy the user's wrapped key; True if there was one."""
        ...


class InMemoryKeyStore:
    """Keys of one process (tests)."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}

    async def get(self, user: str) -> bytes | None:
        return self._keys.get(user)

    async def put_if_absent(self, user: str, wrapped: bytes) -> bytes:
        return self._keys.setdefault(user, wrapped)

    async def delete(self, user: str) -> bool:
        return self._keys.pop(user, None) is not None


class SqliteKeyStore:
    """Wrapped keys in a SQLite file (the embedded profile)."""

    def __init__(self, path: str | Path) -> None:
        self._table = SqliteTable(path, "data_keys")

    async def get(self, user: str) -> bytes | None:
        return await self._table.get(user)

    async def put_if_absent(self, user: str, wrapped: bytes) -> bytes:
        return await self._table.put_if_absent(user, wrapped)

    async def delete(self, user: str) -> bool:
        return await self._table.delete(user)


class PostgresKeyStore:
    """Wrapped keys in PostgreSQL, shared by every replica (the cluster profile). `open()` first."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._table = PostgresTable(dsn, schema, "data_keys")

    async def open(self) -> None:
        """Connect and create the table if needed."""
        await self._table.open()

    async def close(self) -> None:
        """Close the pool."""
        await self._table.close()

    async def get(self, user: str) -> bytes | None:
        return await self._table.get(user)

    async def put_if_absent(self, user: str, wrapped: bytes) -> bytes:
        return await self._table.put_if_absent(user, wrapped)

    async def delete(self, user: str) -> bool:
        return await self._table.delete(user)


def load_master_key(path: Path) -> bytes:
    """A master key that must already exist (the cluster profile: every replica needs the same).

    Raises:
        ValueError: the file is missing or does not hold a 32-byte key.
    """
    if not path.is_file():
        raise ValueError(f"no master key at {path}: replicas must share one (32 random bytes)")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} does not hold a {KEY_BYTES}-byte key")
    return key


def load_or_create_master_key(path: Path) -> bytes:
    """The embedded profile's master key: 32 random bytes in a file only its owner may read."""
    if path.is_file():
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(f"{path} does not hold a {KEY_BYTES}-byte key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    # O_EXCL: two processes starting together cannot both write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_master_key(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


class EnvelopeCipher:
    """Seals and opens per-user data (see the module docstring).

    Args:
        master_key: 32 bytes; never stored next to the data.
        keys: the wrapped data keys.
    """

    def __init__(self, master_key: bytes, keys: KeyStore) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError("the master key must be 32 bytes")
        self._master = AESGCM(master_key)
        self._keys = keys

    def __repr__(self) -> str:
        return "EnvelopeCipher(<keys hidden>)"

    async def seal(self, user: str, location: str, plaintext: bytes) -> bytes:
        """Encrypt `plaintext` for `user`, bound to `location`."""
        key = await self._data_key(user, create=True)
        assert key is not None
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(user, location))

    async def open(self, user: str, location: str, blob: bytes) -> bytes:
        """Decrypt a blob sealed for `user` at `location`.

        Raises:
            DecryptionError: wrong user, location or key, altered bytes, or the key was destroyed.
        """
        key = await self._data_key(user, create=False)
        if key is None:
            raise DecryptionError("no data key for this user (never created, or destroyed)")
        if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _VERSION:
            raise DecryptionError("not a sealed blob")
        nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return AESGCM(key).decrypt(nonce, body, _aad(user, location))
        except InvalidTag:
            raise DecryptionError("the blob does not open for this user and location") from None

    async def forget(self, user: str) -> bool:
        """Destroy the user's data key: everything sealed for them becomes unreadable."""
        return await self._keys.delete(user)

    async def _data_key(self, user: str, *, create: bool) -> bytes | None:
        wrapped = await self._keys.get(user)
        if wrapped is None:
            if not create:
                return None
            nonce = secrets.token_bytes(_NONCE_BYTES)
            fresh = nonce + self._master.encrypt(nonce, secrets.token_bytes(KEY_BYTES), _key_aad(user))
            wrapped = await self._keys.put_if_absent(user, fresh)
        try:
            return self._master.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _key_aad(user))
        except InvalidTag:
            raise DecryptionError("the data key does not open with this master key") from None


def _aad(user: str, location: str) -> bytes:
    return b"zgvoice/data/v1\x00" + user.encode() + b"\x00" + location.encode()


def _key_aad(user: str) -> bytes:
    return b"zgvoice/data-key/v1\x00" + user.encode()
