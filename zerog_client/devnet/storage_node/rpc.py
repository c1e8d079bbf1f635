"""The storage node's `zgs_*` JSON-RPC methods (SPEC §3.1-3.2), over a `SegmentStore`.

Field names, base64 blobs and error code/message/data follow the real node, so the Go, TS and
Python clients see the same answers here as from a 0G storage node.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from zerog_client.devnet.storage_node.errors import (
    ALREADY_UPLOADING,
    RpcError,
    internal_error,
    invalid_params,
)
from zerog_client.devnet.storage_node.jsonrpc_server import Handler, params_at
from zerog_client.devnet.storage_node.store import MAX_CACHE_FILE_SIZE, SegmentStore, TxState
from zerog_client.devnet.storage_node.validation import (
    Segment,
    bad_params,
    check_segment_size,
    parse_hash,
    parse_segment,
    parse_uint,
    segment_count,
    validate_segment,
)
from zerog_client.storage import CHUNK_SIZE, SEGMENT_CHUNKS

FlowContext = Callable[[], Awaitable[tuple[bytes, int]]]
"""Returns the flow root and length (sectors) for `zgs_getFlowContext`."""


@dataclass(frozen=True)
class NodeIdentity:
    """What `zgs_getStatus` reports as the node's network identity.

    Attributes:
        chain_id: the chain the Flow lives on.
        flow_address: the Flow contract.
    """

    chain_id: int
    flow_address: str


class ZgsRpc:
    """The `zgs_*` handlers of one node."""

    def __init__(self, store: SegmentStore, identity: NodeIdentity, flow_context: FlowContext) -> None:
        """Bind the handlers to a store.

        Args:
            store: the node's opened store.
            identity: reported by `zgs_getStatus`.
            flow_context: answers `zgs_getFlowContext`.
        """
        self._store = store
        self._identity = identity
        self._flow_context = flow_context

    def methods(self) -> dict[str, Handler]:
        """The method table for a `JsonRpcServer`."""
        return {
            "zgs_getStatus": self.get_status,
            "zgs_getShardConfig": self.get_shard_config,
            "zgs_getFileInfo": self.get_file_info,
            "zgs_getFileInfoByTxSeq": self.get_file_info_by_tx_seq,
            "zgs_checkFileFinalized": self.check_file_finalized,
            "zgs_uploadSegment": self.upload_segment,
            "zgs_uploadSegments": self.upload_segments,
            "zgs_uploadSegmentByTxSeq": self.upload_segment_by_tx_seq,
            "zgs_uploadSegmentsByTxSeq": self.upload_segments_by_tx_seq,
            "zgs_downloadSegment": self.download_segment,
            "zgs_downloadSegmentByTxSeq": self.download_segment_by_tx_seq,
            "zgs_downloadSegmentWithProof": self.download_segment_with_proof,
            "zgs_downloadSegmentWithProofByTxSeq": self.download_segment_with_proof_by_tx_seq,
            "zgs_getFlowContext": self.get_flow_context,
        }

    # -- status --------------------------------------------------------------------------------

    async def get_status(self, params: list[Any]) -> dict[str, Any]:
        """`zgs_getStatus()` -> Status."""
        params_at(params, 0)
        return {
            "connectedPeers": 0,
            "logSyncHeight": self._store.log_sync_height or 0,
            "logSyncBlock": self._store.log_sync_block,
            "nextTxSeq": self._store.next_tx_seq,
            "networkIdentity": {
                "chainId": self._identity.chain_id,
                "flowAddress": self._identity.flow_address.lower(),
                "p2pProtocolVersion": {"major": 0, "minor": 4, "build": 0},
            },
        }

    async def get_shard_config(self, params: list[Any]) -> dict[str, int]:
        """`zgs_getShardConfig()` -> ShardConfig."""
        params_at(params, 0)
        return self._store.shard.to_json()

    async def get_flow_context(self, params: list[Any]) -> list[Any]:
        """`zgs_getFlowContext()` -> `[flowRoot, flowLength]`."""
        params_at(params, 0)
        root, length = await self._flow_context()
        return ["0x" + root.hex(), length]

    # -- file info -----------------------------------------------------------------------------

    async def get_file_info(self, params: list[Any]) -> dict[str, Any] | None:
        """`zgs_getFileInfo(root, needAvailable)` -> FileInfo | null."""
        root_param, need_available = params_at(params, 2, required=1)
        state = self._store.tx_by_root(parse_hash(root_param), bool(need_available))
        return None if state is None else self._file_info(state)

    async def get_file_info_by_tx_seq(self, params: list[Any]) -> dict[str, Any] | None:
        """`zgs_getFileInfoByTxSeq(txSeq)` -> FileInfo | null."""
        (seq,) = params_at(params, 1)
        state = self._store.tx(parse_uint(seq, "tx_seq"))
        return None if state is None else self._file_info(state)

    async def check_file_finalized(self, params: list[Any]) -> bool | None:
        """`zgs_checkFileFinalized(txSeq | root)` -> bool | null (null: unknown transaction)."""
        (target,) = params_at(params, 1)
        if isinstance(target, str):
            state = self._store.tx_by_root(parse_hash(target), True)
        else:
            state = self._store.tx(parse_uint(target, "tx_seq_or_root"))
        return None if state is None else state.finalized

    def _file_info(self, state: TxState) -> dict[str, Any]:
        return {
            "tx": state.record.to_json(),
            "finalized": state.finalized,
            "isCached": self._store.is_cached(state.record.data_root),
            "uploadedSegNum": self._store.uploaded_seg_num(state),
            "pruned": False,
        }

    # -- upload --------------------------------------------------------------------------------

    async def upload_segment(self, params: list[Any]) -> None:
        """`zgs_uploadSegment(segment)`: resolve the transaction by root, or cache."""
        (segment_param,) = params_at(params, 1)
        segment = parse_segment(segment_param)
        check_segment_size(segment.data)
        await self._put(segment, self._store.upload_target(segment.root))

    async def upload_segments(self, params: list[Any]) -> None:
        """`zgs_uploadSegments([segment])`: sequential, stops at the first error."""
        (segments_param,) = params_at(params, 1)
        for segment in _parse_segments(segments_param):
            check_segment_size(segment.data)
            await self._put(segment, self._store.upload_target(segment.root))

    async def upload_segment_by_tx_seq(self, params: list[Any]) -> None:
        """`zgs_uploadSegmentByTxSeq(segment, txSeq)`."""
        segment_param, seq = params_at(params, 2)
        segment = parse_segment(segment_param)
        state = self._store.tx(parse_uint(seq, "tx_seq"))
        check_segment_size(segment.data)
        await self._put(segment, state)

    async def upload_segments_by_tx_seq(self, params: list[Any]) -> None:
        """`zgs_uploadSegmentsByTxSeq([segment], txSeq)`: duplicates are skipped silently."""
        segments_param, seq = params_at(params, 2)
        segments = _parse_segments(segments_param)
        state = self._store.tx(parse_uint(seq, "tx_seq"))
        for segment in segments:
            check_segment_size(segment.data)
            try:
                await self._put(segment, state)
            except RpcError as exc:
                if ALREADY_UPLOADING not in exc.rpc_message:
                    raise

    async def _put(self, segment: Segment, state: TxState | None) -> None:
        # The real node's put_segment_with_maybe_tx: tx checks first, then the segment's own rules.
        if state is not None and state.record.data_root != segment.root:
            raise internal_error("data root and tx seq not match")
        if not self._store.is_cached(segment.root):
            if state is not None:
                if state.record.size != segment.file_size:
                    raise invalid_params("file_size", "segment file size not matched with tx file size")
                if state.finalized:
                    raise invalid_params("root", "already uploaded and finalized")
            elif segment.file_size > MAX_CACHE_FILE_SIZE:
                raise invalid_params(
                    "file_size", "caching of large file when tx is unavailable is not supported"
                )
        validate_segment(segment)
        await self._store.put_segment(segment, state)

    # -- download ------------------------------------------------------------------------------

    async def download_segment(self, params: list[Any]) -> str | None:
        """`zgs_downloadSegment(root, startChunk, endChunk)` -> base64 | null."""
        root, start, end = params_at(params, 3)
        start_chunk, end_chunk = _chunk_range(start, end)
        state = self._store.tx_by_root(parse_hash(root), True)
        return None if state is None else self._read_chunks(state, start_chunk, end_chunk)

    async def download_segment_by_tx_seq(self, params: list[Any]) -> str | None:
        """`zgs_downloadSegmentByTxSeq(txSeq, startChunk, endChunk)` -> base64 | null."""
        seq, start, end = params_at(params, 3)
        start_chunk, end_chunk = _chunk_range(start, end)
        state = self._store.tx(parse_uint(seq, "tx_seq"))
        return None if state is None else self._read_chunks(state, start_chunk, end_chunk)

    async def download_segment_with_proof(self, params: list[Any]) -> dict[str, Any] | None:
        """`zgs_downloadSegmentWithProof(root, segIndex)` -> SegmentWithProof | null."""
        root, index = params_at(params, 2)
        state = self._store.tx_by_root(parse_hash(root), True)
        return None if state is None else self._segment_with_proof(state, parse_uint(index, "index"))

    async def download_segment_with_proof_by_tx_seq(self, params: list[Any]) -> dict[str, Any] | None:
        """`zgs_downloadSegmentWithProofByTxSeq(txSeq, segIndex)` -> SegmentWithProof | null."""
        seq, index = params_at(params, 2)
        state = self._store.tx(parse_uint(seq, "tx_seq"))
        return None if state is None else self._segment_with_proof(state, parse_uint(index, "index"))

    def _segment_with_proof(self, state: TxState, index: int) -> dict[str, Any] | None:
        if index >= segment_count(state.record.size):
            raise invalid_params("index", "index out of bound")
        data = self._store.read_segment(state, index)
        if data is None:
            return None  # not uploaded yet, or another shard's segment
        return {
            "root": "0x" + state.record.data_root.hex(),
            "data": base64.b64encode(data).decode(),
            "index": index,
            "proof": state.proofs[index].to_json(),
            "fileSize": state.record.size,
        }

    def _read_chunks(self, state: TxState, start: int, end: int) -> str | None:
        if end > state.record.num_entries:
            raise invalid_params("end_index", "index out of bound")
        data_segments = segment_count(state.record.size)
        parts: list[bytes] = []
        for local in range(start // SEGMENT_CHUNKS, (end - 1) // SEGMENT_CHUNKS + 1):
            lo = max(start, local * SEGMENT_CHUNKS) - local * SEGMENT_CHUNKS
            hi = min(end, (local + 1) * SEGMENT_CHUNKS) - local * SEGMENT_CHUNKS
            if local < data_segments:
                payload = self._store.read_segment(state, local)
                if payload is None:
                    return None  # the node does not have these chunks (yet)
            else:
                payload = b""  # pure flow padding: zeros the node fills in itself
            piece = payload[lo * CHUNK_SIZE : hi * CHUNK_SIZE]
            parts.append(piece + bytes((hi - lo) * CHUNK_SIZE - len(piece)))
        return base64.b64encode(b"".join(parts)).decode()


def _parse_segments(value: Any) -> list[Segment]:
    if not isinstance(value, list):
        raise bad_params("segments: expected an array")
    return [parse_segment(item) for item in value]


def _chunk_range(start: Any, end: Any) -> tuple[int, int]:
    start_chunk, end_chunk = parse_uint(start, "start_index"), parse_uint(end, "end_index")
    if start_chunk >= end_chunk:
        raise invalid_params("end_index", "invalid chunk index")
    if end_chunk - start_chunk > SEGMENT_CHUNKS:
        raise invalid_params("end_index", f"exceeds maximum chunks {SEGMENT_CHUNKS}")
    return start_chunk, end_chunk
