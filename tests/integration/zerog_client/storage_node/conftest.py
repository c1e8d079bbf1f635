"""Fixtures of the storage node protocol suite: a fresh anvil with a Submit emitter, and nodes on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.integration.conftest import CHAIN_ID
from tests.integration.zerog_client.storage_node.harness import Chain
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.storage_node import StorageNode, StorageNodeConfig

NodeFactory = Callable[..., Awaitable[StorageNode]]


@pytest.fixture
async def chain(node: AnvilNode) -> Chain:
    return await Chain.deploy(node.rpc_url)


@pytest.fixture
async def make_node(chain: Chain, tmp_path: Path) -> AsyncIterator[NodeFactory]:
    started: list[StorageNode] = []

    async def factory(name: str = "node", shard_id: int = 0, num_shard: int = 1) -> StorageNode:
        config = StorageNodeConfig(
            data_dir=tmp_path / name,
            rpc_url=chain.rpc_url,
            chain_id=CHAIN_ID,
            flow_address=chain.flow,
            shard_id=shard_id,
            num_shard=num_shard,
            poll_interval_s=0.05,
        )
        storage = StorageNode(config)
        await storage.start()
        started.append(storage)
        return storage

    yield factory
    for storage in started:
        await storage.stop()


@pytest.fixture
async def storage(make_node: NodeFactory) -> StorageNode:
    return await make_node()
