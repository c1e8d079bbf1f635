"""Downloading a file from 0G storage (SPEC §2.8) with every segment verified against the root: a
segment that fails its proof (a tampered or broken replica) is fetched from another node."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.errors import ChainUnreachableError, ZeroGError
from zerog_client.storage.errors import InvalidProofError, InvalidSegmentError
from zerog_client.storage.file_tree import verify_segment
from zerog_client.storage.layout import SEGMENT_CHUNKS, SEGMENT_SIZE, FileLayout
from zerog_client.storage.node_client import FileInfo, ShardConfig, StorageNodeClient

log = logging.getLogger(__name__)
_ROOT_LENGTH = 66


class DownloadError(ZeroGError):
    """The file could not be fetched whole and verified."""

    code = "download_failed"


class InvalidRootError(ZeroGError, ValueError):
    """Not a file root (0x + 64 hex characters)."""

    code = "invalid_root"


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """Where the verified file went."""

    root: str
    size: int
    path: Path
    rejected_segments: int  # segments a node served that failed verification


def check_root(root: str) -> str:
    """Validate and lower-case a file root.

    Raises:
        InvalidRootError: malformed.
    """
    body = root[2:] if root.startswith("0x") else ""
    if len(root) != _ROOT_LENGTH or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise InvalidRootError("a file root is 0x followed by 64 hexadecimal characters")
    return root.lower()


class Downloader:
    """Fetches files from any of `nodes`, trusting none of them."""

    def __init__(self, nodes: list[StorageNodeClient]) -> None:
        if not nodes:
            raise ValueError("a download needs at least one storage node")
        self._nodes = nodes

    async def info(self, root: str) -> FileInfo:
        """What the nodes know of the file.

        Raises:
            InvalidRootError: malformed root.
            DownloadError: no node knows a finalized file with this root.
        """
        checked = check_root(root)
        for node in self._nodes:
            try:
                info = await node.file_info(checked)
            except (ChainUnreachableError, JsonRpcError):
                continue
            if info is not None and info.finalized:
                return info
        raise DownloadError(f"no storage node has a finalized file with root {checked}")

    async def download(
        self, root: str, out: Path, progress: Callable[[int, int], None] | None = None
    ) -> DownloadResult:
        """Fetch, verify and write the file to `out` (atomically: a partial file never appears there).

        Raises:
            InvalidRootError, DownloadError: as above, or a segment no node could serve verified.
        """
        info = await self.info(root)
        checked = info.root
        layout = FileLayout.for_size(info.size)
        root_bytes = bytes.fromhex(checked[2:])
        first_global = info.start_entry_index // SEGMENT_CHUNKS
        reachable: list[tuple[StorageNodeClient, ShardConfig]] = []
        for node in self._nodes:
            try:
                reachable.append((node, await node.shard_config()))
            except (ChainUnreachableError, JsonRpcError):
                log.warning("storage node unavailable; downloading from the others", extra={"node": node.url})
        partial = out.with_name(out.name + ".part")
        rejected = 0
        handle = await asyncio.to_thread(partial.open, "wb")
        try:
            for index in range(layout.num_segments):
                holders = [n for n, shard in reachable if shard.holds(first_global + index)]
                payload, bad = await self._verified_segment(holders, checked, root_bytes, index, layout)
                rejected += bad
                keep = min(SEGMENT_SIZE, info.size - index * SEGMENT_SIZE)
                await asyncio.to_thread(handle.write, payload[:keep])
                if progress is not None:
                    progress(index + 1, layout.num_segments)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        handle.close()
        await asyncio.to_thread(os.replace, partial, out)
        return DownloadResult(checked, info.size, out, rejected)

    async def _verified_segment(
        self, holders: list[StorageNodeClient], root: str, root_bytes: bytes, index: int, layout: FileLayout
    ) -> tuple[bytes, int]:
        rejected = 0
        for node in holders:
            try:
                segment = await node.download_segment_with_proof(root, index)
            except (ChainUnreachableError, JsonRpcError):
                continue
            if segment is None:
                continue
            try:
                verify_segment(segment.data, segment.proof, root=root_bytes, index=index, layout=layout)
            except (InvalidProofError, InvalidSegmentError):
                rejected += 1
                log.warning(
                    "a node served a segment that fails its proof", extra={"node": node.url, "index": index}
                )
                continue
            return segment.data, rejected
        raise DownloadError(f"no node served segment {index} of {root} with a valid proof")
