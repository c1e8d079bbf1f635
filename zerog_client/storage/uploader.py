"""Uploading a file to 0G storage (SPEC §2.6): root -> existing? -> submit through the transaction
manager -> wait for the nodes to see the transaction -> send each node its shard's segments with
proofs -> wait for finality.

The submission's idempotency key is derived from the file root and size, so a rerun after a crash
between `submit` and the segment upload finds the stored transaction instead of paying again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.errors import ChainUnreachableError, ZeroGError
from zerog_client.storage.file_tree import FileTree, read_segment
from zerog_client.storage.layout import SEGMENT_CHUNKS, FileLayout
from zerog_client.storage.node_client import FileInfo, SegmentWithProof, ShardConfig, StorageNodeClient
from zerog_client.storage.submission import (
    SUBMIT_EVENT_TOPIC,
    build_submission,
    decode_submit_event,
    encode_submit_calldata,
)
from zerog_client.tx.manager import TransactionManager
from zerog_client.tx.records import TxStatus
from zerog_client.tx.requests import TxRequest

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (segments done, segments in all)


class UploadError(ZeroGError):
    """The upload could not complete (nodes never saw the transaction, refused segments, timed out)."""

    code = "upload_failed"
    retryable = True


@dataclass(frozen=True, slots=True)
class UploadResult:
    """What was stored: the root, its flow transaction, and whether it was there already."""

    root: str
    size: int
    tx_seq: int
    tx_hash: str | None
    already_stored: bool


class Uploader:
    """Uploads files through `manager` (which pays the fee) to `nodes` (all replicas of the data)."""

    def __init__(
        self,
        manager: TransactionManager,
        flow: str,
        nodes: list[StorageNodeClient],
        *,
        segments_per_request: int = 10,
        timeout_s: float = 300.0,
        max_file_bytes: int = 4 * 1024**3,
        expected_replicas: int = 1,
    ) -> None:
        if not nodes:
            raise ValueError("an upload needs at least one storage node")
        if expected_replicas < 1:
            raise ValueError("expected_replicas is at least 1")
        self._replicas = expected_replicas
        self._manager = manager
        self._reader = manager.reader
        self._flow = flow
        self._nodes = nodes
        self._per_request = segments_per_request
        self._timeout_s = timeout_s
        self._max_bytes = max_file_bytes

    async def upload(self, path: Path, progress: Progress | None = None) -> UploadResult:
        """Store the file at `path`; a file the nodes already hold (same root) costs nothing.

        Raises:
            EmptyFileError: the file is empty.
            UploadError: too large, unreadable, or the network did not take it in time.
            (and the transaction manager's errors: insufficient funds, fee cap, ...)
        """
        tree, size = await self._tree_of(path)
        root = "0x" + tree.root.hex()
        live = await self._live_nodes()
        infos = {n.client.url: await _quietly(n.client.file_info(root)) for n in live}
        layout = FileLayout.for_size(size)
        known = next((i for i in infos.values() if i is not None), None)
        if known is not None and self._covered(
            live, {u for u, i in infos.items() if i and i.finalized}, known, layout
        ):
            return UploadResult(root, size, known.tx_seq, None, already_stored=True)
        tx_hash: str | None = None
        if known is not None:
            tx_seq = known.tx_seq
        else:
            tx_seq, tx_hash = await self._submit(tree, root, size, b"", f"0g-storage:{root}:{size}")
        await self._finish(live, path, tree, root, size, tx_seq, progress)
        return UploadResult(root, size, tx_seq, tx_hash, already_stored=False)

    async def upload_new(
        self, path: Path, *, tags: bytes, idempotency_key: str, progress: Progress | None = None
    ) -> UploadResult:
        """Store the file at `path` as a new flow transaction with `tags`, even if its root exists.

        KV blobs need this: writing `a`, then `b`, then `a` again must be a third transaction. The
        caller's `idempotency_key` decides what counts as the same upload across retries.

        Raises:
            as `upload`.
        """
        tree, size = await self._tree_of(path)
        root = "0x" + tree.root.hex()
        live = await self._live_nodes()
        tx_seq, tx_hash = await self._submit(tree, root, size, tags, idempotency_key)
        await self._finish(live, path, tree, root, size, tx_seq, progress)
        return UploadResult(root, size, tx_seq, tx_hash, already_stored=False)

    async def _tree_of(self, path: Path) -> tuple[FileTree, int]:
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except OSError as exc:
            raise UploadError(f"cannot read {path}: {exc.strerror}") from exc
        if size > self._max_bytes:
            raise UploadError(f"{path} is {size} bytes; the limit is {self._max_bytes}")
        return await asyncio.to_thread(FileTree.from_path, path), size

    async def _finish(
        self,
        live: list[_Node],
        path: Path,
        tree: FileTree,
        root: str,
        size: int,
        tx_seq: int,
        progress: Progress | None,
    ) -> None:
        live = await self._wait_seen(live, tx_seq)
        live = await self._send_segments(live, path, tree, root, size, tx_seq, progress)
        await self._wait_finalized(live, tx_seq, FileLayout.for_size(size))

    async def _live_nodes(self) -> list[_Node]:
        live = []
        for node in self._nodes:
            try:
                live.append(_Node(node, await node.shard_config()))
            except (ChainUnreachableError, JsonRpcError):
                log.warning("storage node unavailable; going on without it", extra={"node": node.url})
        if not live:
            raise UploadError("no storage node is reachable")
        return live

    def _covered(self, live: list[_Node], finalized: set[str], info: FileInfo, layout: FileLayout) -> bool:
        """Whether every data segment is held by `expected_replicas` nodes that finalized the file."""
        first_global = info.start_entry_index // SEGMENT_CHUNKS
        holders = [n.shard for n in live if n.client.url in finalized]
        return all(
            sum(1 for shard in holders if shard.holds(first_global + i)) >= self._replicas
            for i in range(layout.num_segments)
        )

    async def _submit(self, tree: FileTree, root: str, size: int, tags: bytes, key: str) -> tuple[int, str]:
        submission = build_submission(tree, self._manager.sender, tags=tags)
        price = await self._price_per_sector()
        request = TxRequest(
            idempotency_key=key,
            to=self._flow,
            value=submission.data.sectors * price,
            data=encode_submit_calldata(submission),
        )
        record = await self._manager.submit(request)
        (done,) = await self._manager.wait([record.idempotency_key], TxStatus.MINED, self._timeout_s)
        if done.status is TxStatus.FAILED or done.mined_tx_hash is None:
            raise UploadError(f"the storage submission reverted ({done.error})")
        for log in await self._reader.logs_of(done.mined_tx_hash):
            topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
            if (
                str(log["address"]).lower() == self._flow.lower()
                and topics
                and topics[0] == SUBMIT_EVENT_TOPIC
            ):
                event = decode_submit_event(topics, bytes.fromhex(str(log["data"])[2:]))
                if "0x" + event.root.hex() == root:
                    return event.submission_index, done.mined_tx_hash
        raise UploadError("the submission emitted no Submit event for this file")

    async def _price_per_sector(self) -> int:
        (market,) = await self._reader.read(self._flow, "market()", [], [], ["address"])
        (price,) = await self._reader.read(str(market), "pricePerSector()", [], [], ["uint256"])
        return int(price)

    async def _poll(
        self, live: list[_Node], check: Callable[[StorageNodeClient], Awaitable[bool]], what: str
    ) -> list[_Node]:
        """Poll each live node until `check` holds; a node that stops answering is dropped."""
        deadline = time.monotonic() + self._timeout_s
        pending = list(live)
        alive = list(live)
        while pending:
            still = []
            for node in pending:
                try:
                    if not await check(node.client):
                        still.append(node)
                except (ChainUnreachableError, JsonRpcError):
                    log.warning("storage node failed; going on without it", extra={"node": node.client.url})
                    alive.remove(node)
            pending = still
            if not alive:
                raise UploadError(f"{what}: every storage node failed")
            if pending and time.monotonic() > deadline:
                raise UploadError(
                    f"{what}: {', '.join(n.client.url for n in pending)} did not get there in time"
                )
            if pending:
                await asyncio.sleep(0.2)  # the nodes follow the chain by polling too
        return alive

    async def _wait_seen(self, live: list[_Node], tx_seq: int) -> list[_Node]:
        async def seen(node: StorageNodeClient) -> bool:
            return await node.file_info_by_tx_seq(tx_seq) is not None

        return await self._poll(live, seen, "waiting for the nodes to see the submission")

    async def _wait_finalized(self, live: list[_Node], tx_seq: int, layout: FileLayout) -> None:
        async def finalized(node: StorageNodeClient) -> bool:
            info: FileInfo | None = await node.file_info_by_tx_seq(tx_seq)
            return info is not None and info.finalized

        alive = await self._poll(live, finalized, "waiting for finality")
        info = await alive[0].client.file_info_by_tx_seq(tx_seq)
        assert info is not None  # finalized just now
        if not self._covered(alive, {n.client.url for n in alive}, info, layout):
            raise UploadError(f"fewer than {self._replicas} live nodes hold every segment of the file")

    async def _send_segments(
        self,
        live: list[_Node],
        path: Path,
        tree: FileTree,
        root: str,
        size: int,
        tx_seq: int,
        progress: Progress | None,
    ) -> list[_Node]:
        layout = FileLayout.for_size(size)
        info = await live[0].client.file_info_by_tx_seq(tx_seq)
        assert info is not None  # waited for above
        first_global = info.start_entry_index // SEGMENT_CHUNKS
        done = 0
        alive = []
        stream = await asyncio.to_thread(path.open, "rb")
        try:
            for node in live:
                mine = [i for i in range(layout.num_segments) if node.shard.holds(first_global + i)]
                try:
                    # Resume: what this node already holds contiguously from the start is not sent again.
                    state = await node.client.file_info_by_tx_seq(tx_seq)
                    if state is not None and state.finalized:
                        mine = []
                    elif state is not None:
                        held = set(mine[: state.uploaded_segments])
                        mine = [i for i in mine if i not in held]
                    for start in range(0, len(mine), self._per_request):
                        batch = []
                        for i in mine[start : start + self._per_request]:
                            payload = await asyncio.to_thread(read_segment, stream, layout, i)
                            batch.append(SegmentWithProof(root, payload, i, tree.proof_at(i), size))
                        await node.client.upload_segments_by_tx_seq(batch, tx_seq)
                        done += len(batch)
                        if progress is not None:
                            progress(done, layout.num_segments * len(live))
                except (ChainUnreachableError, JsonRpcError) as exc:
                    # Another replica may still carry the file; coverage is checked at the end.
                    log.warning(
                        "storage node failed during upload",
                        extra={"node": node.client.url, "error": str(exc)},
                    )
                    continue
                alive.append(node)
        finally:
            stream.close()
        if not alive:
            raise UploadError("every storage node failed during the upload")
        return alive


@dataclass(frozen=True, slots=True)
class _Node:
    client: StorageNodeClient
    shard: ShardConfig


async def _quietly(request: Awaitable[FileInfo | None]) -> FileInfo | None:
    try:
        return await request
    except (ChainUnreachableError, JsonRpcError):
        return None


__all__ = ["Progress", "UploadError", "UploadResult", "Uploader"]
