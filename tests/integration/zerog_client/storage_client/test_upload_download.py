"""Our storage client against the devnet: the real DevFlow contract, real storage nodes, real fees.
Upload pays once, a second upload of the same file pays nothing, download verifies every segment,
and a tampered replica is rejected in favour of an honest one."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import DevnetContracts, deploy_devnet_contracts
from zerog_client.devnet.storage_node import StorageNode, StorageNodeConfig
from zerog_client.storage import EmptyFileError
from zerog_client.storage.downloader import Downloader, DownloadError, InvalidRootError
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader, UploadError
from zerog_client.tx import LocalSigner, TransactionManager
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN_ID = 1_660_999
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # dev account 0
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture
async def contracts(node: AnvilNode, reader: ChainReader) -> DevnetContracts:
    accounts = await reader.node_accounts()
    return await deploy_devnet_contracts(node.rpc_url, accounts[-1])


async def start_nodes(
    node: AnvilNode, contracts: DevnetContracts, base: Path, count: int
) -> list[StorageNode]:
    nodes = []
    for i in range(count):
        config = StorageNodeConfig(
            data_dir=base / f"node{i}",
            rpc_url=node.rpc_url,
            chain_id=CHAIN_ID,
            flow_address=contracts.flow,
            poll_interval_s=0.05,
        )
        storage = StorageNode(config)
        await storage.start()
        nodes.append(storage)
    return nodes


@pytest.fixture
async def stack(
    node: AnvilNode, reader: ChainReader, outbox: SqliteOutbox, contracts: DevnetContracts, tmp_path: Path
) -> AsyncIterator[tuple[Uploader, Downloader, list[StorageNode], TransactionManager]]:
    storage_nodes = await start_nodes(node, contracts, tmp_path, 2)
    clients = [StorageNodeClient(n.url) for n in storage_nodes]
    async with TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager:
        yield (
            Uploader(manager, contracts.flow, clients, timeout_s=30),
            Downloader(clients),
            storage_nodes,
            manager,
        )
    for client in clients:
        await client.close()
    for storage in storage_nodes:
        await storage.stop()


@pytest.mark.parametrize("size", [1, 257, 262_144, 262_145, 1_000_000])
async def test_upload_then_verified_download_round_trips(
    stack: tuple[Uploader, Downloader, list[StorageNode], TransactionManager], tmp_path: Path, size: int
) -> None:
    uploader, downloader, _, _ = stack
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(size))
    seen: list[tuple[int, int]] = []
    result = await uploader.upload(source, progress=lambda done, total: seen.append((done, total)))
    assert not result.already_stored
    assert result.tx_hash is not None
    assert seen
    assert seen[-1][0] == seen[-1][1]
    out = tmp_path / "out.bin"
    downloaded = await downloader.download(result.root, out)
    assert out.read_bytes() == source.read_bytes()
    assert downloaded.rejected_segments == 0
    assert not (tmp_path / "out.bin.part").exists()


async def test_a_second_upload_of_the_same_file_pays_nothing(
    stack: tuple[Uploader, Downloader, list[StorageNode], TransactionManager],
    reader: ChainReader,
    tmp_path: Path,
) -> None:
    uploader, _, _, _ = stack
    source = tmp_path / "twice.bin"
    source.write_bytes(os.urandom(5000))
    first = await uploader.upload(source)
    nonce = await reader.transaction_count(SENDER, "latest")
    balance = await reader.balance(SENDER)
    second = await uploader.upload(source)
    assert second.already_stored
    assert second.root == first.root
    assert second.tx_seq == first.tx_seq
    assert await reader.transaction_count(SENDER, "latest") == nonce
    assert await reader.balance(SENDER) == balance


async def test_a_tampered_replica_is_rejected_and_an_honest_one_used(
    stack: tuple[Uploader, Downloader, list[StorageNode], TransactionManager], tmp_path: Path
) -> None:
    uploader, downloader, storage_nodes, _ = stack
    source = tmp_path / "tamper.bin"
    source.write_bytes(os.urandom(300_000))  # two segments
    result = await uploader.upload(source)
    # Corrupt node 0's copy of segment 0 on disk (the node serves what it has).
    segment_file = storage_nodes[0].config.data_dir / "segments" / str(result.tx_seq) / "0"
    assert segment_file.exists()
    data = bytearray(segment_file.read_bytes())
    data[10] ^= 0xFF
    segment_file.write_bytes(bytes(data))
    downloaded = await downloader.download(result.root, tmp_path / "out.bin")
    assert downloaded.rejected_segments == 1
    assert (tmp_path / "out.bin").read_bytes() == source.read_bytes()


async def test_bad_input_is_refused_with_nothing_paid(
    stack: tuple[Uploader, Downloader, list[StorageNode], TransactionManager],
    reader: ChainReader,
    tmp_path: Path,
) -> None:
    uploader, downloader, _, _ = stack
    nonce = await reader.transaction_count(SENDER, "latest")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        await uploader.upload(empty)
    with pytest.raises(UploadError, match="cannot read"):
        await uploader.upload(tmp_path / "missing.bin")
    with pytest.raises(InvalidRootError):
        await downloader.download("0x1234", tmp_path / "x")
    with pytest.raises(DownloadError, match="no storage node"):
        await downloader.download("0x" + "ab" * 32, tmp_path / "x")
    assert await reader.transaction_count(SENDER, "latest") == nonce
    assert not (tmp_path / "x").exists()
