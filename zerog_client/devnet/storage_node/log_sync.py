"""Follow the Flow contract's `Submit` events and turn them into the node's transaction records.

The node learns about files only from the chain: each `Submit` log is one transaction (txSeq,
data root, size, flow position). `LogSyncer` polls `eth_getLogs` in an owned background task and
hands the records, in order, to a `LogSink` (the segment store) together with its sync cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from zerog_client.chain.reader import ChainReader
from zerog_client.errors import ZeroGError
from zerog_client.storage import SUBMIT_EVENT_TOPIC, AbiDecodeError, SubmitEvent, decode_submit_event

_log = logging.getLogger(__name__)


class LogSyncError(ZeroGError):
    """A `Submit` log is malformed, or the logs skip a transaction sequence number."""

    code = "storage_log_sync_failed"


@dataclass(frozen=True)
class TxRecord:
    """One flow transaction as the storage node keeps it (its `Transaction` JSON type).

    Attributes:
        seq: the transaction sequence number (the event's submissionIndex).
        data_root: the file root, folded from the submission nodes.
        size: the file size in bytes.
        start_entry_index: the flow sector where the file starts (the event's startPos).
        merkle_nodes: `(height + 1, root)` per submission node, largest first, as the node reports them.
        block_number: the block holding the event.
        block_hash: that block's hash, `0x`-prefixed.
    """

    seq: int
    data_root: bytes
    size: int
    start_entry_index: int
    merkle_nodes: tuple[tuple[int, bytes], ...]
    block_number: int
    block_hash: str

    @property
    def num_entries(self) -> int:
        """Sectors the transaction occupies in the flow (its padded chunk count)."""
        return sum(1 << (depth - 1) for depth, _ in self.merkle_nodes)

    def to_json(self) -> dict[str, Any]:
        """The `Transaction` wire object (storage nodes always report no stream ids and no data)."""
        return {
            "streamIds": [],
            "data": [],
            "dataMerkleRoot": "0x" + self.data_root.hex(),
            "merkleNodes": [[depth, "0x" + root.hex()] for depth, root in self.merkle_nodes],
            "startEntryIndex": self.start_entry_index,
            "size": self.size,
            "seq": self.seq,
        }

    def to_store(self) -> dict[str, Any]:
        """A JSON form for the node's own metadata files (round-trips with `from_store`)."""
        return {**self.to_json(), "blockNumber": self.block_number, "blockHash": self.block_hash}

    @classmethod
    def from_store(cls, obj: Mapping[str, Any]) -> TxRecord:
        """Read back what `to_store` wrote.

        Args:
            obj: the stored object.
        """
        return cls(
            seq=int(obj["seq"]),
            data_root=bytes.fromhex(str(obj["dataMerkleRoot"])[2:]),
            size=int(obj["size"]),
            start_entry_index=int(obj["startEntryIndex"]),
            merkle_nodes=tuple(
                (int(depth), bytes.fromhex(str(root)[2:])) for depth, root in obj["merkleNodes"]
            ),
            block_number=int(obj["blockNumber"]),
            block_hash=str(obj["blockHash"]),
        )


def record_from_event(event: SubmitEvent, block_number: int, block_hash: str) -> TxRecord:
    """Build the transaction record of a decoded `Submit` event.

    Args:
        event: the decoded event.
        block_number: the block holding it.
        block_hash: that block's hash.
    """
    return TxRecord(
        seq=event.submission_index,
        data_root=event.root,
        size=event.data.length,
        start_entry_index=event.start_pos,
        merkle_nodes=tuple((node.height + 1, node.root) for node in event.data.nodes),
        block_number=block_number,
        block_hash=block_hash,
    )


def record_from_log(log: Mapping[str, Any]) -> TxRecord:
    """Build the transaction record of an `eth_getLogs` entry.

    Args:
        log: the JSON log object (`topics`, `data`, `blockNumber`, `blockHash`).

    Raises:
        LogSyncError: the log is not a well-formed `Submit` log.
    """
    try:
        topics = [bytes.fromhex(str(topic)[2:]) for topic in log["topics"]]
        data = bytes.fromhex(str(log["data"])[2:])
        event = decode_submit_event(topics, data)
        return record_from_event(event, int(str(log["blockNumber"]), 16), str(log["blockHash"]))
    except (KeyError, ValueError, TypeError, AbiDecodeError) as exc:
        raise LogSyncError(f"malformed Submit log: {exc}") from exc


class LogSink(Protocol):
    """Where synced transactions go; the segment store implements it."""

    @property
    def next_tx_seq(self) -> int:
        """The sequence number the next new transaction must have."""
        ...

    @property
    def log_sync_height(self) -> int | None:
        """The last block fully synced, or None before the first sync."""
        ...

    async def add_txs(self, records: Sequence[TxRecord], height: int, block_hash: str) -> None:
        """Store new transactions (in seq order), then move the sync cursor to `height`."""
        ...


class LogSyncer:
    """Polls the Flow's `Submit` logs and feeds them to a sink; owns its background task."""

    def __init__(
        self,
        reader: ChainReader,
        flow_address: str,
        sink: LogSink,
        *,
        start_block: int = 0,
        poll_interval_s: float = 0.5,
        max_block_range: int = 1000,
    ) -> None:
        """Prepare a syncer; nothing runs until `start()`.

        Args:
            reader: an open chain reader for the Flow's chain.
            flow_address: the Flow contract.
            sink: receives the records.
            start_block: the first block to scan when the sink has never synced.
            poll_interval_s: pause between polls once caught up.
            max_block_range: blocks per `eth_getLogs` request.
        """
        self._reader = reader
        self._flow = flow_address.lower()
        self._sink = sink
        self._start_block = start_block
        self._interval = poll_interval_s
        self._max_range = max_block_range
        self._task: asyncio.Task[None] | None = None
        self.last_error: Exception | None = None

    def start(self) -> None:
        """Start polling in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="zgs-log-sync")

    async def stop(self) -> None:
        """Cancel the polling task and wait for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sync_once(self) -> int:
        """Scan the blocks mined since the last sync, up to `max_block_range` of them.

        Returns:
            The number of new transactions stored.

        Raises:
            LogSyncError: a malformed log or a gap in the sequence numbers.
            ChainUnreachableError: the chain does not answer.
        """
        head = await self._reader.block_number()
        synced = self._sink.log_sync_height
        first = self._start_block if synced is None else synced + 1
        if first > head:
            return 0
        last = min(head, first + self._max_range - 1)
        logs = await self._reader.pool.call(
            "eth_getLogs",
            [
                {
                    "address": self._flow,
                    "topics": ["0x" + SUBMIT_EVENT_TOPIC.hex()],
                    "fromBlock": hex(first),
                    "toBlock": hex(last),
                }
            ],
        )
        records = _new_records([record_from_log(log) for log in logs], self._sink.next_tx_seq)
        block = await self._reader.block(last)
        if block is None:
            # The block vanished between the two calls (a reorg); retry from the same cursor.
            return 0
        await self._sink.add_txs(records, last, block.hash)
        return len(records)

    async def _run(self) -> None:
        while True:
            try:
                caught_up = await self._catch_up()
            except Exception as exc:  # noqa: BLE001 - a flaky chain must not kill the node; the error is kept
                self.last_error = exc
                _log.warning("log sync failed, retrying: %s", exc)
                caught_up = True
            if caught_up:
                await asyncio.sleep(self._interval)

    async def _catch_up(self) -> bool:
        before = self._sink.log_sync_height
        await self.sync_once()
        self.last_error = None
        # Only pause once a poll made no progress, so a long backlog is read back to back.
        return self._sink.log_sync_height == before


def _new_records(records: Sequence[TxRecord], next_seq: int) -> list[TxRecord]:
    fresh: list[TxRecord] = []
    for record in sorted(records, key=lambda r: r.seq):
        if record.seq < next_seq:
            continue  # already stored before a restart interrupted the cursor update
        if record.seq != next_seq:
            raise LogSyncError(f"transaction {next_seq} is missing: the next Submit log is {record.seq}")
        fresh.append(record)
        next_seq += 1
    return fresh
