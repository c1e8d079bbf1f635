"""Per-user profiles (contacts, remembered facts, reply preferences), encrypted before they leave the
process and kept in a `BlobStore`: 0G KV in the cluster profile, a SQLite file in the embedded one.

Read-your-writes: a profile saved is what the next `load` returns, at once, even while the KV node
has not yet replayed the write (the KV writer keeps what it wrote until the node has it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from learning.crypto import EnvelopeCipher
from learning.postgres_table import PostgresTable
from learning.sqlite_table import SqliteTable
from zerog_client.storage.kv_streams import stream_id
from zerog_client.storage.kv_writer import KvWriter

MAX_CONTACTS = 500
MAX_FACTS = 200
MAX_FACT_CHARS = 500


class ProfileLimitError(ValueError):
    """The profile would grow past a limit; the message says which."""


@dataclass
class Profile:
    """What the assistant knows about one user."""

    contacts: dict[str, str] = field(default_factory=dict)  # lower-case name -> EIP-55 address
    facts: list[str] = field(default_factory=list)
    reply_mode: str | None = None
    persona: str | None = None

    def remember_contact(self, name: str, address: str) -> None:
        """Add or replace a contact.

        Raises:
            ProfileLimitError: too many contacts.
        """
        if name not in self.contacts and len(self.contacts) >= MAX_CONTACTS:
            raise ProfileLimitError(f"a profile holds at most {MAX_CONTACTS} contacts")
        self.contacts[name] = address

    def remember_fact(self, fact: str) -> None:
        """Add a fact (the oldest goes when the list is full).

        Raises:
            ProfileLimitError: the fact is too long.
        """
        if len(fact) > MAX_FACT_CHARS:
            raise ProfileLimitError(f"a fact is at most {MAX_FACT_CHARS} characters")
        if fact not in self.facts:
            self.facts = [*self.facts, fact][-MAX_FACTS:]

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "v": 1,
                "contacts": self.contacts,
                "facts": self.facts,
                "reply_mode": self.reply_mode,
                "persona": self.persona,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        raw: dict[str, Any] = json.loads(data)
        return cls(
            contacts={str(k): str(v) for k, v in dict(raw.get("contacts", {})).items()},
            facts=[str(f) for f in raw.get("facts", [])],
            reply_mode=raw.get("reply_mode"),
            persona=raw.get("persona"),
        )


class BlobStore(Protocol):
    """Opaque bytes by key; the key names a location, the bytes are already encrypted."""

    async def get(self, key: str) -> bytes | None:
        """The bytes at `key`, or None."""
        ...

    async def put(self, key: str, value: bytes) -> None:
        """Store `value` at `key` (durably, before returning)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key` (no error if absent)."""
        ...


class SqliteBlobStore:
    """Blobs in a SQLite file (the embedded profile)."""

    def __init__(self, path: str | Path) -> None:
        self._table = SqliteTable(path, "blobs")

    async def get(self, key: str) -> bytes | None:
        return await self._table.get(key)

    async def put(self, key: str, value: bytes) -> None:
        await self._table.put(key, value)

    async def delete(self, key: str) -> None:
        await self._table.delete(key)


class PostgresBlobStore:
    """Blobs in PostgreSQL, shared by every replica (the cluster profile). `open()` first."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._table = PostgresTable(dsn, schema, "profile_blobs")

    async def open(self) -> None:
        """Connect and create the table if needed."""
        await self._table.open()

    async def close(self) -> None:
        """Close the pool."""
        await self._table.close()

    async def get(self, key: str) -> bytes | None:
        return await self._table.get(key)

    async def put(self, key: str, value: bytes) -> None:
        await self._table.put(key, value)

    async def delete(self, key: str) -> None:
        await self._table.delete(key)


class KvBlobStore:
    """Blobs in a 0G KV stream, one key each, through `zerog_client`'s writer (one transaction per put)."""

    def __init__(self, writer: KvWriter, stream: str = "zgvoice") -> None:
        self._writer = writer
        self._stream = stream_id(stream)

    async def get(self, key: str) -> bytes | None:
        value = await self._writer.get(self._stream, key.encode())
        return value or None

    async def put(self, key: str, value: bytes) -> None:
        self._writer.set(self._stream, key.encode(), value)
        await self._writer.flush()

    async def delete(self, key: str) -> None:
        self._writer.delete(self._stream, key.encode())
        await self._writer.flush()


def profile_key(user: str) -> str:
    """Where a user's profile lives: a hash, so the public KV does not list who our users are."""
    return "profile/" + hashlib.sha256(user.encode()).hexdigest()


class ProfileStore:
    """Loads and saves encrypted profiles."""

    def __init__(self, blobs: BlobStore, cipher: EnvelopeCipher) -> None:
        self._blobs = blobs
        self._cipher = cipher

    async def load(self, user: str) -> Profile:
        """The user's profile (empty if they have none).

        Raises:
            DecryptionError: the stored profile does not open (altered, or the key was destroyed).
        """
        key = profile_key(user)
        blob = await self._blobs.get(key)
        if blob is None:
            return Profile()
        return Profile.from_bytes(await self._cipher.open(user, key, blob))

    async def save(self, user: str, profile: Profile) -> None:
        """Encrypt and store the user's profile."""
        key = profile_key(user)
        await self._blobs.put(key, await self._cipher.seal(user, key, profile.to_bytes()))

    async def forget(self, user: str) -> None:
        """Delete the profile and destroy the user's key (copies already on 0G become unreadable)."""
        await self._blobs.delete(profile_key(user))
        await self._cipher.forget(user)
