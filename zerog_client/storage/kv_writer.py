"""Batched KV writes: many sets, deletes and access-control ops packed into one stream blob, one
storage upload and one flow transaction; plus a read-your-writes view over a KV node.

Limits are checked when an operation is added, before anything is paid: keys of 1 .. 2^24-1
bytes, at most 65536 writes and 65536 controls per blob, and a blob size cap.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from zerog_client.errors import ZeroGError
from zerog_client.storage.kv_blob import (
    MAX_ENTRIES,
    MAX_KEY_LENGTH,
    AccessControl,
    KvWrite,
    StreamData,
    encode_stream_data,
    stream_tags,
)
from zerog_client.storage.kv_client import KvValue, ReplayProgress
from zerog_client.storage.uploader import Uploader

DEFAULT_MAX_BLOB_BYTES = 64 * 1024 * 1024
_EMPTY_BLOB = 8 + 4 + 4 + 4  # version and the three counts


class KvLimitError(ZeroGError, ValueError):
    """An operation would break a KV limit (key length, entries per blob, blob size); nothing was sent."""

    code = "kv_limit_exceeded"
    retryable = False


@dataclass(frozen=True, slots=True)
class KvBatchResult:
    """One flushed batch: the blob's root and the flow transaction that carries it."""

    root: str
    tx_seq: int
    tx_hash: str | None
    writes: int
    controls: int


class BlobUploader(Protocol):
    """Pays for and uploads one tagged blob as a new flow transaction; `KvUploader` is the real one."""

    async def upload_tagged(self, path: Path, tags: bytes) -> tuple[str, int, str]:
        """Upload the file at `path` with `tags`; returns `(root, tx_seq, tx_hash)`."""
        ...


class KvReader(Protocol):
    """The reads the writer needs from a KV node; `KvClient` is the real one."""

    async def replay_progress(self) -> ReplayProgress:
        """How far the node has replayed."""
        ...

    async def get_value(self, stream_id: bytes, key: bytes, version: int | None = None) -> KvValue:
        """A whole value at `version` (default latest)."""
        ...


class KvUploader:
    """Uploads KV blobs as tagged files, each as a new flow transaction (see `Uploader.upload_new`)."""

    def __init__(self, uploader: Uploader) -> None:
        self._uploader = uploader

    async def upload_tagged(self, path: Path, tags: bytes) -> tuple[str, int, str]:
        """Submit the blob at `path` with `tags` and upload it; returns `(root, tx_seq, tx_hash)`.

        Raises:
            UploadError: the submission reverted or the nodes did not take the data in time.
        """
        # A random key: identical blobs written twice on purpose must be two transactions.
        key = f"0g-kv:{uuid.uuid4().hex}"
        result = await self._uploader.upload_new(path, tags=tags, idempotency_key=key)
        assert result.tx_hash is not None  # upload_new always submits
        return result.root, result.tx_seq, result.tx_hash


class KvWriter:
    """Collects KV operations, flushes them as one blob, and reads back with read-your-writes."""

    def __init__(
        self,
        uploader: BlobUploader,
        client: KvReader,
        *,
        max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES,
        work_dir: Path | None = None,
    ) -> None:
        """Prepare an empty batch.

        Args:
            uploader: pays for and uploads each flushed blob.
            client: the KV node reads go to.
            max_blob_bytes: the largest blob one flush may produce.
            work_dir: where blobs are staged before upload (default: the system temp dir).
        """
        self._uploader = uploader
        self._client = client
        self._max_bytes = max_blob_bytes
        self._work_dir = work_dir
        self._writes: dict[tuple[bytes, bytes], bytes] = {}
        self._controls: list[AccessControl] = []
        self._size = _EMPTY_BLOB
        self._recent: dict[tuple[bytes, bytes], tuple[bytes, int]] = {}
        self._lock = asyncio.Lock()

    @property
    def pending_bytes(self) -> int:
        """The encoded size of the batch so far."""
        return self._size

    def set(self, stream_id: bytes, key: bytes, value: bytes) -> None:
        """Queue a write (an empty value deletes); a later write of the same key replaces it.

        Raises:
            KvLimitError: a bad stream id or key length, or the batch would grow past a limit.
        """
        _check_key(stream_id, key)
        slot = (stream_id, key)
        old = self._writes.get(slot)
        grow = 43 + len(key) + len(value) if old is None else len(value) - len(old)
        if old is None and len(self._writes) >= MAX_ENTRIES:
            raise KvLimitError(f"a blob holds at most {MAX_ENTRIES} writes; flush first")
        if self._size + grow > self._max_bytes:
            raise KvLimitError(f"the batch would exceed {self._max_bytes} bytes; flush first")
        self._writes[slot] = bytes(value)
        self._size += grow

    def delete(self, stream_id: bytes, key: bytes) -> None:
        """Queue a delete (an empty value).

        Raises:
            KvLimitError: as for `set`.
        """
        self.set(stream_id, key, b"")

    def control(self, control: AccessControl) -> None:
        """Queue an access-control operation.

        Raises:
            KvLimitError: a bad key, or too many controls in the batch.
        """
        if control.key is not None:
            _check_key(control.stream_id, control.key)
        if len(self._controls) >= MAX_ENTRIES:
            raise KvLimitError(f"a blob holds at most {MAX_ENTRIES} access-control ops; flush first")
        grow = 33 + (20 if control.account is not None else 0)
        grow += 3 + len(control.key) if control.key is not None else 0
        if self._size + grow > self._max_bytes:
            raise KvLimitError(f"the batch would exceed {self._max_bytes} bytes; flush first")
        self._controls.append(control)
        self._size += grow

    async def flush(self) -> KvBatchResult | None:
        """Upload the batch as one blob in one transaction; None (and nothing paid) when empty.

        On failure the batch is kept, so the caller may retry.

        Raises:
            UploadError: and the transaction manager's errors.
        """
        async with self._lock:
            if not self._writes and not self._controls:
                return None
            writes = tuple(KvWrite(s, k, v) for (s, k), v in self._writes.items())
            data = StreamData(writes=writes, controls=tuple(self._controls))
            blob = encode_stream_data(data)
            with tempfile.TemporaryDirectory(dir=self._work_dir) as scratch:
                path = Path(scratch) / "kv-blob.bin"
                await asyncio.to_thread(path.write_bytes, blob)
                root, tx_seq, tx_hash = await self._uploader.upload_tagged(path, stream_tags(data))
            for write in writes:
                self._recent[(write.stream_id, write.key)] = (write.value, tx_seq)
            result = KvBatchResult(root, tx_seq, tx_hash, len(writes), len(self._controls))
            self._writes.clear()
            self._controls.clear()
            self._size = _EMPTY_BLOB
            return result

    async def get(self, stream_id: bytes, key: bytes) -> bytes:
        """Read a value, seeing this writer's own writes at once (b"" when absent or deleted).

        A queued write is returned as is; a flushed one until the KV node has replayed its
        transaction, after which the node's answer (which may be newer, or a refusal) wins.
        """
        slot = (stream_id, key)
        if slot in self._writes:
            return self._writes[slot]
        recent = self._recent.get(slot)
        if recent is not None:
            value, tx_seq = recent
            if not (await self._client.replay_progress()).has_applied(tx_seq):
                return value
            self._recent.pop(slot, None)
        return (await self._client.get_value(stream_id, key)).data


def _check_key(stream_id: bytes, key: bytes) -> None:
    if len(stream_id) != 32:
        raise KvLimitError("a stream id is 32 bytes")
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise KvLimitError(f"a KV key is 1 to {MAX_KEY_LENGTH} bytes; this one is {len(key)}")


__all__ = [
    "DEFAULT_MAX_BLOB_BYTES",
    "BlobUploader",
    "KvBatchResult",
    "KvLimitError",
    "KvReader",
    "KvUploader",
    "KvWriter",
]
