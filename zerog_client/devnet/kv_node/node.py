"""A devnet KV node: follows the Flow's `Submit` logs, replays KV blobs, serves `kv_*` JSON-RPC.

Two stages, both persisted so a restart resumes: log sync queues every flow transaction (with its
chain sender when its tags name only watched streams), and replay takes the queue in tx-seq order,
downloading each blob verified from the storage nodes once it is finalized there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.chain.reader import ChainReader
from zerog_client.devnet.kv_node.replay import (
    SENDER_NO_WRITE_PERMISSION,
    may_write_some_stream,
    replay,
    watched_streams,
)
from zerog_client.devnet.kv_node.rpc import KvRpc
from zerog_client.devnet.kv_node.store import KvStore, PendingTx
from zerog_client.devnet.storage_node.jsonrpc_server import JsonRpcServer
from zerog_client.errors import ChainUnreachableError, ZeroGError
from zerog_client.storage.downloader import Downloader, DownloadError
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.submission import SUBMIT_EVENT_TOPIC, decode_submit_event

_log = logging.getLogger(__name__)


class KvSyncError(ZeroGError):
    """A `Submit` log or its transaction could not be read."""

    code = "kv_node_sync_failed"


class KvNodeConfig(BaseModel):
    """Settings of one devnet KV node.

    Attributes:
        data_dir: where the SQLite state lives; reuse it to resume after a restart.
        rpc_url: the chain's JSON-RPC endpoint.
        chain_id: the chain the node must find there.
        flow_address: the Flow contract whose `Submit` events it follows.
        storage_nodes: URLs of storage nodes to download blobs from.
        stream_ids: the streams served (`0x` + 64 hex digits each).
        port: the JSON-RPC port on 127.0.0.1 (0 for any free port).
        start_block: the first block scanned on a fresh data directory.
        poll_interval_s: pause between polls once caught up.
        max_block_range: blocks per `eth_getLogs` request.
    """

    model_config = ConfigDict(frozen=True)

    data_dir: Path
    rpc_url: str
    chain_id: int
    flow_address: str
    storage_nodes: list[str] = Field(min_length=1)
    stream_ids: list[str] = Field(min_length=1)
    port: int = Field(default=0, ge=0, le=65535)
    start_block: int = Field(default=0, ge=0)
    poll_interval_s: float = Field(default=0.2, gt=0)
    max_block_range: int = Field(default=1000, gt=0)


class KvNode:
    """One running KV node; `start()`/`stop()` own its chain reader, clients, task and server."""

    def __init__(self, config: KvNodeConfig) -> None:
        """Prepare the node; nothing runs until `start()`.

        Args:
            config: its settings.
        """
        self.config = config
        self.watched = [bytes.fromhex(s.removeprefix("0x")) for s in config.stream_ids]
        if any(len(s) != 32 for s in self.watched):
            raise ValueError("a stream id is 32 bytes")
        self.store = KvStore(config.data_dir / "kv.sqlite3")
        self._reader: ChainReader | None = None
        self._clients: list[StorageNodeClient] = []
        self._server: JsonRpcServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_error: Exception | None = None

    @property
    def url(self) -> str:
        """The node's JSON-RPC URL (once started)."""
        if self._server is None:
            raise RuntimeError("the KV node is not running")
        return self._server.url

    async def start(self) -> None:
        """Open the state, connect to the chain, start the server and the sync task.

        Raises:
            ChainUnreachableError: the chain does not answer.
            WrongChainError: the endpoint serves another chain.
        """
        self.store.open()
        try:
            reader = ChainReader(self.config.rpc_url, self.config.chain_id)
            await reader.open()
            self._reader = reader
            self._clients = [StorageNodeClient(url) for url in self.config.storage_nodes]
            self._server = JsonRpcServer(KvRpc(self.store, self.watched).methods())
            await self._server.start(self.config.port)
            self._task = asyncio.create_task(self._run(), name="kv-node-sync")
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Cancel the sync task, stop the server, close connections and the state."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
        for client in self._clients:
            await client.close()
        self._clients = []
        reader, self._reader = self._reader, None
        if reader is not None:
            await reader.close()
        self.store.close()

    async def step(self) -> bool:
        """Sync one range of logs, then replay what can be replayed.

        Returns:
            Whether anything moved (so the caller should not pause).
        """
        synced = await self.sync_logs()
        replayed = await self.replay_pending()
        return synced or replayed

    async def _run(self) -> None:
        while True:
            try:
                moved = await self.step()
                self.last_error = None
            except Exception as exc:  # a flaky chain or storage node must not kill the node; kept
                self.last_error = exc
                _log.warning("KV node sync failed, retrying: %s", exc)
                moved = False
            if not moved:
                await asyncio.sleep(self.config.poll_interval_s)

    @property
    def _chain(self) -> ChainReader:
        if self._reader is None:
            raise RuntimeError("the KV node is not running")
        return self._reader

    async def sync_logs(self) -> bool:
        """Queue the flow transactions of the next block range; True when the cursor moved."""
        head = await self._chain.block_number()
        synced = self.store.meta("log_height")
        first = self.config.start_block if synced is None else synced + 1
        if first > head:
            return False
        last = min(head, first + self.config.max_block_range - 1)
        logs = await self._chain.pool.call(
            "eth_getLogs",
            [
                {
                    "address": self.config.flow_address.lower(),
                    "topics": ["0x" + SUBMIT_EVENT_TOPIC.hex()],
                    "fromBlock": hex(first),
                    "toBlock": hex(last),
                }
            ],
        )
        queued = self.store.last_queued_seq()
        txs = [
            tx for tx in [await self._pending_of(log) for log in logs] if queued is None or tx.seq > queued
        ]
        self.store.add_pending(sorted(txs, key=lambda tx: tx.seq), last)
        return True

    async def _pending_of(self, log: dict[str, Any]) -> PendingTx:
        try:
            topics = [bytes.fromhex(str(t)[2:]) for t in log["topics"]]
            event = decode_submit_event(topics, bytes.fromhex(str(log["data"])[2:]))
            tx_hash = str(log["transactionHash"])
        except (KeyError, ValueError, TypeError, ZeroGError) as exc:
            raise KvSyncError(f"malformed Submit log: {exc}") from exc
        sender: bytes | None = None
        if watched_streams(event.data.tags, self.watched) is not None:
            # The writer is the chain transaction's sender, not the event's submitter field.
            tx = await self._chain.transaction(tx_hash)
            if tx is None:
                raise KvSyncError(f"the chain does not know transaction {tx_hash}")
            sender = bytes.fromhex(str(tx["from"])[2:])
        root = "0x" + event.root.hex()
        return PendingTx(event.submission_index, root, sender, event.data.tags)

    async def replay_pending(self) -> bool:
        """Replay queued transactions in seq order until one waits for its data; True if any ran."""
        moved = False
        while (tx := self.store.next_pending()) is not None:
            streams = watched_streams(tx.tags, self.watched)
            if streams is None or tx.sender is None:
                self.store.finish(tx.seq, None)
            elif not may_write_some_stream(self.store, streams, tx.sender):
                self.store.finish(tx.seq, SENDER_NO_WRITE_PERMISSION)
            else:
                blob = await self._download(tx)
                if blob is None:
                    return moved  # not finalized yet: wait, as the real node does
                outcome = replay(self.store, streams, tx.sender, blob, self.watched)
                self.store.finish(tx.seq, outcome.result, outcome.commit)
            moved = True
        return moved

    async def _download(self, tx: PendingTx) -> bytes | None:
        finalized = False
        for client in self._clients:
            with contextlib.suppress(ChainUnreachableError, JsonRpcError):
                info = await client.file_info_by_tx_seq(tx.seq)
                finalized = finalized or (info is not None and info.finalized)
        if not finalized:
            return None
        with tempfile.TemporaryDirectory(dir=self.config.data_dir) as scratch:
            out = Path(scratch) / "blob"
            try:
                await Downloader(self._clients).download(tx.root, out)
            except DownloadError as exc:
                _log.warning("KV blob of tx %d not downloadable yet: %s", tx.seq, exc)
                return None
            return await asyncio.to_thread(out.read_bytes)


__all__ = ["KvNode", "KvNodeConfig", "KvSyncError"]
