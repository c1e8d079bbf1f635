"""A fresh devnet with one storage node and one KV node serving two streams, and KV writers for
two dev accounts (the first of which will own the streams it writes first)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import DevnetContracts, deploy_devnet_contracts
from zerog_client.devnet.kv_node import KvNode, KvNodeConfig
from zerog_client.devnet.storage_node import StorageNode, StorageNodeConfig
from zerog_client.storage.kv_client import KvClient
from zerog_client.storage.kv_writer import KvUploader, KvWriter
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import LocalSigner, TransactionManager
from zerog_client.tx.sqlite_outbox import SqliteOutbox

CHAIN_ID = 1_660_999
OWNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # dev account 0
OWNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
STRANGER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # dev account 1
STRANGER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
STREAM = bytes.fromhex("000000000000000000000000000000000000000000000000000000000000f2bd")
OTHER_STREAM = bytes.fromhex("000000000000000000000000000000000000000000000000000000000000f009")


@dataclass
class KvStack:
    node: AnvilNode
    contracts: DevnetContracts
    storage: StorageNode
    kv: KvNode
    kv_config: KvNodeConfig
    client: KvClient
    owner: KvWriter
    stranger: KvWriter


@pytest.fixture
async def kv_stack(node: AnvilNode, reader: ChainReader, tmp_path: Path) -> AsyncIterator[KvStack]:
    accounts = await reader.node_accounts()
    contracts = await deploy_devnet_contracts(node.rpc_url, accounts[-1])
    storage = StorageNode(
        StorageNodeConfig(
            data_dir=tmp_path / "storage",
            rpc_url=node.rpc_url,
            chain_id=CHAIN_ID,
            flow_address=contracts.flow,
            poll_interval_s=0.05,
        )
    )
    await storage.start()
    kv_config = KvNodeConfig(
        data_dir=tmp_path / "kv",
        rpc_url=node.rpc_url,
        chain_id=CHAIN_ID,
        flow_address=contracts.flow,
        storage_nodes=[storage.url],
        stream_ids=["0x" + STREAM.hex(), "0x" + OTHER_STREAM.hex()],
        poll_interval_s=0.05,
    )
    kv = KvNode(kv_config)
    await kv.start()
    client = KvClient(kv.url)
    storage_clients = [StorageNodeClient(storage.url), StorageNodeClient(storage.url)]
    outboxes = [SqliteOutbox(tmp_path / "owner.db"), SqliteOutbox(tmp_path / "stranger.db")]
    for outbox in outboxes:
        await outbox.open()
    async with (
        TransactionManager(reader, LocalSigner.devnet_key(OWNER_KEY), outboxes[0]) as owner_manager,
        TransactionManager(reader, LocalSigner.devnet_key(STRANGER_KEY), outboxes[1]) as stranger_manager,
    ):
        owner = KvWriter(
            KvUploader(Uploader(owner_manager, contracts.flow, storage_clients[:1], timeout_s=30)), client
        )
        stranger = KvWriter(
            KvUploader(Uploader(stranger_manager, contracts.flow, storage_clients[1:], timeout_s=30)), client
        )
        yield KvStack(node, contracts, storage, kv, kv_config, client, owner, stranger)
    for outbox in outboxes:
        await outbox.close()
    for storage_client in storage_clients:
        await storage_client.close()
    await client.close()
    await kv.stop()
    await storage.stop()
