"""The KV stream-data blob: a batch of reads, writes and access-control operations.

A blob is uploaded as an ordinary storage file whose tags name its streams. All integers are
big-endian:

    u64 version
    u32 numReads,    then per read:  streamId[32] u24 keyLen key
    u32 numWrites,   then per write: streamId[32] u24 keyLen key u64 valueLen; then all values
    u32 numControls, then per op:    u8 type streamId[32] [u24 keyLen key] [account[20]]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum

from zerog_client.storage.errors import KvBlobError

STREAM_DOMAIN: bytes = hashlib.sha256(b"STREAM").digest()
"""The first 32 bytes of a KV blob's tags; the KV node ignores files whose tags lack it."""

MAX_VERSION = (1 << 64) - 1
"""The version meaning "no read-version check", the Go examples' and batcher's default."""

MAX_KEY_LENGTH = (1 << 24) - 1
MAX_ENTRIES = 1 << 16
"""At most this many reads, writes and controls each per blob."""

_STREAM_ID = 32
_ACCOUNT = 20


class AclOp(IntEnum):
    """Access-control operation types."""

    GRANT_ADMIN_ROLE = 0x00
    RENOUNCE_ADMIN_ROLE = 0x01
    SET_KEY_TO_SPECIAL = 0x10
    SET_KEY_TO_NORMAL = 0x11
    GRANT_WRITER_ROLE = 0x20
    REVOKE_WRITER_ROLE = 0x21
    RENOUNCE_WRITER_ROLE = 0x22
    GRANT_SPECIAL_WRITER_ROLE = 0x30
    REVOKE_SPECIAL_WRITER_ROLE = 0x31
    RENOUNCE_SPECIAL_WRITER_ROLE = 0x32


# Which fields follow the stream id: (has a key, has an account); the key comes first.
_ACL_FIELDS: dict[AclOp, tuple[bool, bool]] = {
    AclOp.GRANT_ADMIN_ROLE: (False, True),
    AclOp.RENOUNCE_ADMIN_ROLE: (False, False),
    AclOp.SET_KEY_TO_SPECIAL: (True, False),
    AclOp.SET_KEY_TO_NORMAL: (True, False),
    AclOp.GRANT_WRITER_ROLE: (False, True),
    AclOp.REVOKE_WRITER_ROLE: (False, True),
    AclOp.RENOUNCE_WRITER_ROLE: (False, False),
    AclOp.GRANT_SPECIAL_WRITER_ROLE: (True, True),
    AclOp.REVOKE_SPECIAL_WRITER_ROLE: (True, True),
    AclOp.RENOUNCE_SPECIAL_WRITER_ROLE: (True, False),
}


@dataclass(frozen=True)
class KvRead:
    """A key whose version the blob asserts (no data is returned by the chain)."""

    stream_id: bytes
    key: bytes


@dataclass(frozen=True)
class KvWrite:
    """A write; an empty value deletes the key."""

    stream_id: bytes
    key: bytes
    value: bytes


@dataclass(frozen=True)
class AccessControl:
    """An access-control operation; `key` and `account` are set exactly when `op` carries them."""

    op: AclOp
    stream_id: bytes
    key: bytes | None = None
    account: bytes | None = None


@dataclass(frozen=True)
class StreamData:
    """One KV blob.

    Attributes:
        version: the highest version the touched keys may have (MAX_VERSION: no check).
        reads: keys read.
        writes: keys written, in blob order.
        controls: access-control operations.
    """

    version: int = MAX_VERSION
    reads: tuple[KvRead, ...] = ()
    writes: tuple[KvWrite, ...] = ()
    controls: tuple[AccessControl, ...] = ()


def encode_stream_data(data: StreamData) -> bytes:
    """Serialize a blob.

    Args:
        data: the operations.

    Raises:
        KvBlobError: a field is out of range (empty or over-long key, bad id, too many entries).
    """
    if not 0 <= data.version <= MAX_VERSION:
        raise KvBlobError("the version must fit in 64 bits")
    parts = [data.version.to_bytes(8, "big"), _count(data.reads)]
    parts += [_stream_id(read.stream_id) + _key(read.key) for read in data.reads]
    parts.append(_count(data.writes))
    parts += [_stream_id(w.stream_id) + _key(w.key) + len(w.value).to_bytes(8, "big") for w in data.writes]
    parts += [write.value for write in data.writes]
    parts.append(_count(data.controls))
    parts += [_encode_control(control) for control in data.controls]
    return b"".join(parts)


def decode_stream_data(blob: bytes) -> StreamData:
    """Parse a blob with the KV node's rules.

    Args:
        blob: the file's bytes.

    Raises:
        KvBlobError: "Invalid stream data" (truncated, empty key, unknown op, trailing bytes) or
            "list too long" (a count above 65536).
    """
    reader = _BlobReader(blob)
    version = reader.uint(8)
    reads = tuple(KvRead(reader.take(_STREAM_ID), reader.key()) for _ in range(reader.count()))
    heads = [(reader.take(_STREAM_ID), reader.key(), reader.uint(8)) for _ in range(reader.count())]
    writes = tuple(KvWrite(stream_id, key, reader.take(size)) for stream_id, key, size in heads)
    controls = tuple(reader.control() for _ in range(reader.count()))
    reader.finish()
    return StreamData(version, reads, writes, controls)


def value_ranges(data: StreamData) -> list[tuple[int, int]]:
    """Return the `[start, end)` byte range of each write's value inside the encoded blob.

    The KV node stores a value as this range of the blob rather than as a copy.

    Args:
        data: the operations (encoded with `encode_stream_data`).
    """
    position = 8 + 4 + sum(_STREAM_ID + 3 + len(read.key) for read in data.reads) + 4
    position += sum(_STREAM_ID + 3 + len(write.key) + 8 for write in data.writes)
    ranges = []
    for write in data.writes:
        ranges.append((position, position + len(write.value)))
        position += len(write.value)
    return ranges


def sort_stream_data(data: StreamData) -> StreamData:
    """Order reads and writes by (stream id, key), as the Go builder's `Build(true)` does.

    Args:
        data: the operations.
    """
    return replace(
        data,
        reads=tuple(sorted(data.reads, key=lambda r: (r.stream_id, r.key))),
        writes=tuple(sorted(data.writes, key=lambda w: (w.stream_id, w.key))),
    )


def stream_tags(data: StreamData, *, sort: bool = False) -> bytes:
    """Return the tags to upload a blob with: STREAM_DOMAIN then every written or controlled stream.

    Args:
        data: the operations.
        sort: order stream ids bytewise (Go's sorted build) instead of by first use (TS, Python).
    """
    stream_ids = _unique(
        [write.stream_id for write in data.writes] + [control.stream_id for control in data.controls]
    )
    if sort:
        stream_ids.sort()
    return STREAM_DOMAIN + b"".join(_stream_id(stream_id) for stream_id in stream_ids)


def parse_stream_tags(tags: bytes) -> list[bytes] | None:
    """Return the stream ids in a file's tags, or None when the tags are not KV tags.

    Args:
        tags: the submission's tags.
    """
    if len(tags) % _STREAM_ID or tags[:_STREAM_ID] != STREAM_DOMAIN:
        return None
    return [tags[i : i + _STREAM_ID] for i in range(_STREAM_ID, len(tags), _STREAM_ID)]


def _unique(items: Iterable[bytes]) -> list[bytes]:
    return list(dict.fromkeys(items))


def _count(items: tuple[object, ...]) -> bytes:
    if len(items) > MAX_ENTRIES:
        raise KvBlobError(f"at most {MAX_ENTRIES} reads, writes and controls each per blob")
    return len(items).to_bytes(4, "big")


def _stream_id(stream_id: bytes) -> bytes:
    if len(stream_id) != _STREAM_ID:
        raise KvBlobError("a stream id is 32 bytes")
    return stream_id


def _key(key: bytes) -> bytes:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise KvBlobError(f"a key is 1 to {MAX_KEY_LENGTH} bytes")
    return len(key).to_bytes(3, "big") + key


def _encode_control(control: AccessControl) -> bytes:
    has_key, has_account = _ACL_FIELDS[control.op]
    if has_key != (control.key is not None) or has_account != (control.account is not None):
        raise KvBlobError(f"{control.op.name} takes key={has_key} and account={has_account}")
    out = bytes([control.op]) + _stream_id(control.stream_id)
    if control.key is not None:
        out += _key(control.key)
    if control.account is not None:
        if len(control.account) != _ACCOUNT:
            raise KvBlobError("an account is 20 bytes")
        out += control.account
    return out


class _BlobReader:
    def __init__(self, blob: bytes) -> None:
        self._blob = blob
        self._position = 0

    def take(self, size: int) -> bytes:
        end = self._position + size
        if end > len(self._blob):
            raise KvBlobError("Invalid stream data")
        chunk = self._blob[self._position : end]
        self._position = end
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def count(self) -> int:
        count = self.uint(4)
        if count > MAX_ENTRIES:
            raise KvBlobError("Invalid stream data: list too long")
        return count

    def key(self) -> bytes:
        size = self.uint(3)
        if size == 0:
            raise KvBlobError("Invalid stream data")
        return self.take(size)

    def control(self) -> AccessControl:
        try:
            op = AclOp(self.uint(1))
        except ValueError as exc:
            raise KvBlobError("Invalid stream data: unknown access-control type") from exc
        stream_id = self.take(_STREAM_ID)
        has_key, has_account = _ACL_FIELDS[op]
        key = self.key() if has_key else None
        account = self.take(_ACCOUNT) if has_account else None
        return AccessControl(op, stream_id, key, account)

    def finish(self) -> None:
        if self._position != len(self._blob):
            raise KvBlobError("Invalid stream data: trailing bytes")
