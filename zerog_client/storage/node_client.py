"""A client of one storage node's `zgs_*` JSON-RPC (SPEC §3): typed requests and answers."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any

from zerog_client.chain.jsonrpc import HttpJsonRpc, JsonRpcError
from zerog_client.storage.merkle import Proof, ProofJson

# Node answers (message and data) that mean "this segment is already there": success for an upload.
ALREADY_UPLOADED = (
    "segment has already been uploaded or is being uploaded",
    "already uploaded and finalized",
)


@dataclass(frozen=True, slots=True)
class ShardConfig:
    """Which global segments a node keeps: those with `index % num_shard == shard_id`."""

    shard_id: int
    num_shard: int

    def holds(self, global_segment: int) -> bool:
        """Whether the node keeps this global flow segment."""
        return self.num_shard < 2 or global_segment % self.num_shard == self.shard_id


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A node's view of a file (one flow transaction)."""

    tx_seq: int
    root: str
    size: int
    start_entry_index: int
    finalized: bool
    uploaded_segments: int
    pruned: bool

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FileInfo:
        tx = raw["tx"]
        return cls(
            tx_seq=int(tx["seq"]),
            root=str(tx["dataMerkleRoot"]).lower(),
            size=int(tx["size"]),
            start_entry_index=int(tx["startEntryIndex"]),
            finalized=bool(raw["finalized"]),
            uploaded_segments=int(raw.get("uploadedSegNum", 0)),
            pruned=bool(raw.get("pruned", False)),
        )


@dataclass(frozen=True, slots=True)
class SegmentWithProof:
    """A segment's payload and proof, as uploaded and downloaded."""

    root: str
    data: bytes
    index: int
    proof: Proof
    file_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "data": base64.b64encode(self.data).decode(),
            "index": self.index,
            "proof": self.proof.to_json(),
            "fileSize": self.file_size,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SegmentWithProof:
        proof: ProofJson = raw["proof"]
        return cls(
            root=str(raw["root"]).lower(),
            data=base64.b64decode(raw["data"], validate=True),
            index=int(raw["index"]),
            proof=Proof.from_json(proof),
            file_size=int(raw["fileSize"]),
        )


def is_already_uploaded(error: JsonRpcError) -> bool:
    """Whether a node's upload error only says the data is already there."""
    text = f"{error.rpc_message} {error.data if isinstance(error.data, str) else ''}"
    return any(marker in text for marker in ALREADY_UPLOADED)


class StorageNodeClient:
    """One node. Errors: `ChainUnreachableError` (transport), `JsonRpcError` (the node refused)."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        self.url = url
        self._rpc = HttpJsonRpc(url, timeout_s)

    def __repr__(self) -> str:
        return f"StorageNodeClient({self.url!r})"

    async def close(self) -> None:
        """Close the connections."""
        await self._rpc.close()

    async def shard_config(self) -> ShardConfig:
        """The node's shard."""
        raw = await self._rpc.call("zgs_getShardConfig")
        return ShardConfig(int(raw["shardId"]), int(raw["numShard"]))

    async def status(self) -> dict[str, Any]:
        """`zgs_getStatus` as returned."""
        return dict(await self._rpc.call("zgs_getStatus"))

    async def file_info(self, root: str, need_available: bool = True) -> FileInfo | None:
        """The node's record of the file with this root, or None."""
        raw = await self._rpc.call("zgs_getFileInfo", [root, need_available])
        return FileInfo.from_json(raw) if raw is not None else None

    async def file_info_by_tx_seq(self, tx_seq: int) -> FileInfo | None:
        """The node's record of flow transaction `tx_seq`, or None."""
        raw = await self._rpc.call("zgs_getFileInfoByTxSeq", [tx_seq])
        return FileInfo.from_json(raw) if raw is not None else None

    async def upload_segments_by_tx_seq(
        self,
        segments: list[SegmentWithProof],
        tx_seq: int,
        *,
        busy_retries: int = 12,
        busy_wait_s: float = 1.0,
    ) -> None:
        """Upload segments of one transaction; "already uploaded" answers count as success, and a node
        saying it has "too many data writing" is asked again (it limits concurrent writes)."""
        params = [[s.to_json() for s in segments], tx_seq]
        for attempt in range(busy_retries + 1):
            try:
                await self._rpc.call("zgs_uploadSegmentsByTxSeq", params)
                return
            except JsonRpcError as exc:
                if is_already_uploaded(exc):
                    return
                if "too many data writing" not in f"{exc.rpc_message} {exc.data}" or attempt == busy_retries:
                    raise
            await asyncio.sleep(busy_wait_s)  # the node frees write slots as other uploads finish

    async def download_segment_with_proof(self, root: str, index: int) -> SegmentWithProof | None:
        """A segment and its proof, or None when the node does not have it."""
        raw = await self._rpc.call("zgs_downloadSegmentWithProof", [root, index])
        return SegmentWithProof.from_json(raw) if raw is not None else None
