"""Segments on disk, per transaction, with the metadata that lets a node resume after a restart.

Layout under the data directory:
    node.json                 chain id, flow address, shard, log sync cursor
    txs/<seq>.json            the transaction record, its finalization, the segments held and their proofs
    segments/<seq>/<index>    one segment's payload (real chunks only, as uploaded)

Each file is replaced atomically (write to a temporary file, then rename), so a crash leaves
either the old or the new version. Segments uploaded by root before their transaction is synced
wait in an in-memory cache, as in the real node (files of at most 10 MiB).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zerog_client.devnet.storage_node.errors import (
    ALREADY_UPLOADING,
    call_error,
    invalid_params,
)
from zerog_client.devnet.storage_node.log_sync import TxRecord
from zerog_client.devnet.storage_node.shard import ShardConfig
from zerog_client.devnet.storage_node.validation import Segment, segment_count
from zerog_client.errors import ZeroGError
from zerog_client.storage import SEGMENT_CHUNKS, Proof, ProofJson

MAX_CACHE_FILE_SIZE = 10 * 1024 * 1024
"""The node's `max_cache_file_size`: larger files can only be uploaded once their tx is synced."""
MAX_CONCURRENT_WRITES = 128


class StoreMismatchError(ZeroGError):
    """The data directory belongs to another chain, flow or shard."""

    code = "storage_dir_mismatch"


@dataclass
class TxState:
    """What the node knows about one transaction.

    Attributes:
        record: the synced transaction.
        finalized: every segment of this node's shard is on disk.
        proofs: the proof of every segment held, by local index (kept to answer downloads with proof).
    """

    record: TxRecord
    finalized: bool = False
    proofs: dict[int, Proof] = field(default_factory=dict)

    def to_store(self) -> dict[str, Any]:
        return {
            "tx": self.record.to_store(),
            "finalized": self.finalized,
            "proofs": {str(i): p.to_json() for i, p in sorted(self.proofs.items())},
        }

    @classmethod
    def from_store(cls, obj: dict[str, Any]) -> TxState:
        proofs: dict[str, ProofJson] = obj["proofs"]
        return cls(
            TxRecord.from_store(obj["tx"]),
            bool(obj["finalized"]),
            {int(i): Proof.from_json(p) for i, p in proofs.items()},
        )


@dataclass
class _CachedFile:
    file_size: int
    segments: dict[int, Segment] = field(default_factory=dict)


def _write_atomic(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class SegmentStore:
    """The node's transactions and segments; also the log syncer's sink."""

    def __init__(self, data_dir: Path, shard: ShardConfig, chain_id: int, flow_address: str) -> None:
        """Prepare a store; `open()` loads the directory.

        Args:
            data_dir: the node's data directory (created if missing).
            shard: which segments this node keeps.
            chain_id: the chain the transactions come from.
            flow_address: the Flow contract they come from.
        """
        self.data_dir = data_dir
        self.shard = shard
        self._identity = {"chainId": chain_id, "flowAddress": flow_address.lower(), **shard.to_json()}
        self._txs: list[TxState] = []
        self._by_root: dict[bytes, list[int]] = {}
        self._cache: dict[bytes, _CachedFile] = {}
        self._writing: set[tuple[int, int]] = set()
        self._sync_height: int | None = None
        self._sync_block = "0x" + "00" * 32

    @property
    def next_tx_seq(self) -> int:
        """The sequence number of the next transaction to sync."""
        return len(self._txs)

    @property
    def log_sync_height(self) -> int | None:
        """The last block whose logs are stored, or None before the first sync."""
        return self._sync_height

    @property
    def log_sync_block(self) -> str:
        """The hash of `log_sync_height`'s block (zero before the first sync)."""
        return self._sync_block

    def open(self) -> None:
        """Create or load the data directory.

        Raises:
            StoreMismatchError: the directory was written for another chain, flow or shard.
        """
        (self.data_dir / "txs").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "segments").mkdir(exist_ok=True)
        meta_path = self.data_dir / "node.json"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta["identity"] != self._identity:
                raise StoreMismatchError(f"{self.data_dir} holds {meta['identity']}, not {self._identity}")
            self._sync_height = meta["logSyncHeight"]
            self._sync_block = meta["logSyncBlock"]
        for seq in range(meta["nextTxSeq"] if meta_path.exists() else 0):
            state = TxState.from_store(json.loads((self._tx_path(seq)).read_text()))
            self._txs.append(state)
            self._by_root.setdefault(state.record.data_root, []).append(seq)

    def tx(self, seq: int) -> TxState | None:
        """The transaction with sequence number `seq`, if synced."""
        return self._txs[seq] if 0 <= seq < len(self._txs) else None

    def txs_by_root(self, root: bytes) -> list[TxState]:
        """Every synced transaction with this data root, in seq order."""
        return [self._txs[seq] for seq in self._by_root.get(root, [])]

    def tx_by_root(self, root: bytes, need_available: bool) -> TxState | None:
        """The node's `get_tx_by_data_root`: the first finalized tx, else the first (not pruned) one.

        Args:
            root: the data root.
            need_available: prefer transactions that are not pruned (none ever are here).
        """
        del need_available  # this node never prunes, so every transaction is available
        txs = self.txs_by_root(root)
        return next((t for t in txs if t.finalized), txs[0] if txs else None)

    def upload_target(self, root: bytes) -> TxState | None:
        """The transaction an upload by root goes to: the first unfinalized one, else the first."""
        txs = self.txs_by_root(root)
        return next((t for t in txs if not t.finalized), txs[0] if txs else None)

    def held_segments(self, record: TxRecord) -> list[int]:
        """Local indexes of the transaction's data segments that this node's shard keeps."""
        first = record.start_entry_index // SEGMENT_CHUNKS
        return [i for i in range(segment_count(record.size)) if self.shard.holds(first + i)]

    def uploaded_seg_num(self, state: TxState) -> int:
        """The left edge of the write window: held segments finished contiguously from the start."""
        if state.finalized:
            return -(-state.record.num_entries // SEGMENT_CHUNKS)
        count = 0
        for index in self.held_segments(state.record):
            if index not in state.proofs:
                break
            count += 1
        return count

    def is_cached(self, root: bytes) -> bool:
        """Whether segments of this root wait in the cache for their transaction."""
        return root in self._cache

    async def add_txs(self, records: Sequence[TxRecord], height: int, block_hash: str) -> None:
        """Store synced transactions, then the sync cursor (the `LogSink` side).

        Args:
            records: new transactions, in seq order starting at `next_tx_seq`.
            height: the last block scanned.
            block_hash: its hash.
        """
        for record in records:
            if record.seq != len(self._txs):
                raise ValueError(f"transaction {record.seq} arrives out of order")
            state = TxState(record)
            # Copy and flush the cache before the tx becomes visible, so no client sees it half done.
            await self._on_new_tx(state)
            self._save_tx(state)
            self._txs.append(state)
            self._by_root.setdefault(record.data_root, []).append(record.seq)
        self._sync_height, self._sync_block = height, block_hash
        self._save_meta()

    async def put_segment(self, segment: Segment, state: TxState | None) -> None:
        """Write (or cache) an already validated segment; the write-control part of rule 8.

        Args:
            segment: validated against its root.
            state: its transaction, or None to cache it until the transaction is synced.

        Raises:
            RpcError: a duplicate, too many concurrent writes, or a cached file size mismatch.
        """
        if state is None:
            self._cache_segment(segment)
            return
        await self._write(state, segment.index, segment.data, segment.proof)
        if state.finalized:
            # Later transactions of the same file were waiting for this data: copy-finalize them.
            for other in self.txs_by_root(state.record.data_root):
                if not other.finalized and other.record.size == state.record.size:
                    await self._copy(state, other)

    def read_segment(self, state: TxState, index: int) -> bytes | None:
        """The payload of held local segment `index`, or None if this node does not have it."""
        if index not in state.proofs:
            return None
        return (self._segment_dir(state.record.seq) / str(index)).read_bytes()

    # -- internals ---------------------------------------------------------------------------

    def _cache_segment(self, segment: Segment) -> None:
        cached = self._cache.get(segment.root)
        if cached is None:
            if segment.file_size > MAX_CACHE_FILE_SIZE:
                raise invalid_params(
                    "file_size", "caching of large file when tx is unavailable is not supported"
                )
            cached = self._cache[segment.root] = _CachedFile(segment.file_size)
        if cached.file_size != segment.file_size:
            raise call_error("file size in segment doesn't match with file size declared in previous segment")
        if segment.index in cached.segments:
            raise call_error(ALREADY_UPLOADING)
        cached.segments[segment.index] = segment

    async def _on_new_tx(self, state: TxState) -> None:
        record = state.record
        for earlier in self.txs_by_root(record.data_root):
            if earlier.finalized and earlier.record.size == record.size:
                # A repeated file: the node copies the data it already has instead of asking again.
                await self._copy(earlier, state)
                break
        cached = self._cache.pop(record.data_root, None)
        if cached is not None and cached.file_size == record.size:
            for index, segment in sorted(cached.segments.items()):
                if index not in state.proofs:
                    await self._write(state, index, segment.data, segment.proof)
        self._maybe_finalize(state)

    async def _copy(self, source: TxState, target: TxState) -> None:
        for index, proof in sorted(source.proofs.items()):
            data = self.read_segment(source, index)
            if data is not None and index not in target.proofs:
                await self._write(target, index, data, proof)
        self._maybe_finalize(target)

    async def _write(self, state: TxState, index: int, data: bytes, proof: Proof) -> None:
        seq = state.record.seq
        first = state.record.start_entry_index // SEGMENT_CHUNKS
        if not self.shard.holds(first + index):
            return  # another shard's segment: accepted, as the real node does, but not kept
        if index in state.proofs or (seq, index) in self._writing:
            raise call_error(ALREADY_UPLOADING)
        if len(self._writing) >= MAX_CONCURRENT_WRITES:
            raise call_error(f"too many data writing: {MAX_CONCURRENT_WRITES}")
        self._writing.add((seq, index))
        try:
            directory = self._segment_dir(seq)
            await asyncio.to_thread(self._write_segment_file, directory, index, data)
        finally:
            self._writing.discard((seq, index))
        state.proofs[index] = proof
        if not self._maybe_finalize(state):
            self._save_tx(state)

    def _maybe_finalize(self, state: TxState) -> bool:
        if state.finalized or any(i not in state.proofs for i in self.held_segments(state.record)):
            return False
        state.finalized = True
        self._save_tx(state)
        return True

    @staticmethod
    def _write_segment_file(directory: Path, index: int, data: bytes) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(directory / str(index), data)

    def _segment_dir(self, seq: int) -> Path:
        return self.data_dir / "segments" / str(seq)

    def _tx_path(self, seq: int) -> Path:
        return self.data_dir / "txs" / f"{seq}.json"

    def _save_tx(self, state: TxState) -> None:
        _write_atomic(self._tx_path(state.record.seq), json.dumps(state.to_store()).encode())

    def _save_meta(self) -> None:
        meta = {
            "identity": self._identity,
            "logSyncHeight": self._sync_height,
            "logSyncBlock": self._sync_block,
            "nextTxSeq": len(self._txs),
        }
        _write_atomic(self.data_dir / "node.json", json.dumps(meta).encode())
