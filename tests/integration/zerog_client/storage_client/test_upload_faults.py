"""Storage upload faults: a replica dies mid-upload, and the process dies between `submit` and the
segment upload (the rerun finishes the same file without a second submission or fee)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.zerog_client.storage_client.test_upload_download import SENDER, contracts, start_nodes
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import DevnetContracts
from zerog_client.storage import SUBMIT_EVENT_TOPIC
from zerog_client.storage.downloader import Downloader
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import LocalSigner, TransactionManager
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ROOT = Path(__file__).resolve().parents[4]
__all__ = ["contracts"]  # the fixture, re-exported for this module


async def test_a_replica_dying_mid_upload_leaves_the_file_stored_on_the_other(
    node: AnvilNode, reader: ChainReader, outbox: SqliteOutbox, contracts: DevnetContracts, tmp_path: Path
) -> None:
    storage = await start_nodes(node, contracts, tmp_path, 2)
    clients = [StorageNodeClient(s.url) for s in storage]
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * 262_144 + 5))  # 4 segments
    killed: list[asyncio.Task[None]] = []

    def kill_second_node_midway(done: int, total: int) -> None:
        # Segments go to node 0 first, then node 1: kill node 1 after it got one segment.
        if done == 5 and not killed:
            killed.append(asyncio.ensure_future(storage[1].stop()))

    try:
        async with TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager:
            uploader = Uploader(manager, contracts.flow, clients, segments_per_request=1, timeout_s=30)
            result = await uploader.upload(source, progress=kill_second_node_midway)
        assert killed
        await killed[0]
        out = tmp_path / "out.bin"
        await Downloader(clients).download(result.root, out)
        assert out.read_bytes() == source.read_bytes()
    finally:
        for client in clients:
            await client.close()
        for s in storage:
            await s.stop()


async def test_a_crash_between_submit_and_upload_is_finished_without_paying_twice(
    node: AnvilNode, reader: ChainReader, contracts: DevnetContracts, tmp_path: Path
) -> None:
    (storage,) = await start_nodes(node, contracts, tmp_path, 1)
    client = StorageNodeClient(storage.url)
    db = tmp_path / "outbox.db"
    source = tmp_path / "crash.bin"
    source.write_bytes(os.urandom(600_000))
    try:
        nonce_before = await reader.transaction_count(SENDER, "latest")
        child = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "tests.support.upload_child",
                "--rpc",
                node.rpc_url,
                "--flow",
                contracts.flow,
                "--node",
                storage.url,
                "--db",
                str(db),
                "--file",
                str(source),
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert child.returncode == 9, child.stderr.decode()[-2000:]
        assert await reader.transaction_count(SENDER, "latest") == nonce_before + 1  # it did submit
        outbox = SqliteOutbox(db)
        await outbox.open()
        try:
            async with TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager:
                result = await Uploader(manager, contracts.flow, [client], timeout_s=30).upload(source)
        finally:
            await outbox.close()
        assert not result.already_stored
        assert await reader.transaction_count(SENDER, "latest") == nonce_before + 1  # no second submission
        logs = await reader.pool.call(
            "eth_getLogs",
            [{"address": contracts.flow, "fromBlock": "0x0", "topics": ["0x" + SUBMIT_EVENT_TOPIC.hex()]}],
        )
        assert len(logs) == 1
        out = tmp_path / "out.bin"
        await Downloader([client]).download(result.root, out)
        assert out.read_bytes() == source.read_bytes()
    finally:
        await client.close()
        await storage.stop()


async def test_nodes_chosen_through_the_indexer_store_and_serve_the_file(
    node: AnvilNode, reader: ChainReader, outbox: SqliteOutbox, contracts: DevnetContracts, tmp_path: Path
) -> None:
    from zerog_client.devnet.indexer import Indexer
    from zerog_client.storage.indexer_client import nodes_from_indexer

    storage = await start_nodes(node, contracts, tmp_path, 2)
    indexer = Indexer([s.url for s in storage])
    await indexer.start(0)
    clients = await nodes_from_indexer(indexer.url, expected_replicas=2)
    try:
        assert sorted(c.url for c in clients) == sorted(s.url for s in storage)
        source = tmp_path / "via-indexer.bin"
        source.write_bytes(os.urandom(70_000))
        async with TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager:
            result = await Uploader(
                manager, contracts.flow, clients, expected_replicas=2, timeout_s=30
            ).upload(source)
        for single in clients:  # each replica alone serves the whole file
            out = tmp_path / f"out-{single.url[-5:]}.bin"
            await Downloader([single]).download(result.root, out)
            assert out.read_bytes() == source.read_bytes()
    finally:
        for client in clients:
            await client.close()
        await indexer.stop()
        for s in storage:
            await s.stop()
