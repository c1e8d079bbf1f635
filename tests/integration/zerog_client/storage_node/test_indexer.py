"""The devnet indexer's `indexer_*` methods over real storage nodes (SPEC §3.3-3.4)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.zerog_client.storage_node.conftest import NodeFactory
from tests.integration.zerog_client.storage_node.harness import (
    Chain,
    error,
    pattern,
    result,
    segment_json,
    wait_until,
)
from zerog_client.devnet.indexer import Indexer
from zerog_client.devnet.storage_node import StorageNode
from zerog_client.storage import FileTree

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
async def cluster(make_node: NodeFactory) -> AsyncIterator[tuple[Indexer, list[StorageNode]]]:
    nodes = [await make_node("full"), await make_node("s0", 0, 2), await make_node("s1", 1, 2)]
    indexer = Indexer([n.url for n in nodes])
    await indexer.start()
    yield indexer, nodes
    await indexer.stop()


async def test_sharded_nodes(cluster: tuple[Indexer, list[StorageNode]]) -> None:
    indexer, nodes = cluster
    listed = await result(indexer.url, "indexer_getShardedNodes", [])
    assert listed["discovered"] == []
    assert [(n["url"], n["config"]) for n in listed["trusted"]] == [
        (nodes[0].url, {"shardId": 0, "numShard": 1}),
        (nodes[1].url, {"shardId": 0, "numShard": 2}),
        (nodes[2].url, {"shardId": 1, "numShard": 2}),
    ]
    assert all(set(n) == {"url", "config", "latency", "since"} for n in listed["trusted"])


async def test_selected_nodes(cluster: tuple[Indexer, list[StorageNode]]) -> None:
    indexer, nodes = cluster
    # "min" puts the full node first: it alone covers every shard once.
    chosen = await result(indexer.url, "indexer_getSelectedNodes", [1, "min", True, []])
    assert [n["url"] for n in chosen["trusted"]] == [nodes[0].url]
    assert chosen["discovered"] == []
    # "max" starts with the two halves, which together cover everything.
    chosen = await result(indexer.url, "indexer_getSelectedNodes", [1, "max", True, []])
    assert [n["url"] for n in chosen["trusted"]] == [nodes[1].url, nodes[2].url]
    chosen = await result(indexer.url, "indexer_getSelectedNodes", [2, "random", False, []])
    assert sorted(n["url"] for n in chosen["trusted"]) == sorted(n.url for n in nodes)
    chosen = await result(indexer.url, "indexer_getSelectedNodes", [1, "2", True, []])
    assert {n["config"]["numShard"] for n in chosen["trusted"]} == {2}
    err = await error(indexer.url, "indexer_getSelectedNodes", [1, "max", True, [nodes[0].url, nodes[2].url]])
    assert err["code"] == -32000
    assert "cannot select a subset" in err["message"]
    err = await error(indexer.url, "indexer_getSelectedNodes", [3, "min", True, []])
    assert "cannot select a subset" in err["message"]


async def test_file_locations(cluster: tuple[Indexer, list[StorageNode]], chain: Chain) -> None:
    indexer, nodes = cluster
    data = pattern(3000)
    tree = FileTree.from_bytes(data)
    root = "0x" + tree.root.hex()
    assert await result(indexer.url, "indexer_getFileLocations", [root]) is None
    seq = await chain.submit(tree)
    for storage in nodes:

        async def known(url: str = storage.url) -> bool:
            return await result(url, "zgs_getFileInfoByTxSeq", [seq]) is not None

        await wait_until(known)
    await result(nodes[0].url, "zgs_uploadSegmentByTxSeq", [segment_json(tree, data, 0), seq])
    located = await result(indexer.url, "indexer_getFileLocations", [root])
    holders = {n["url"] for n in located}
    # The half that does not own the file's single segment has nothing to wait for: it is final
    # at once. The owning half lists the file only after its own upload.
    assert nodes[0].url in holders
    owner = nodes[1] if (await _start_segment(nodes[0].url, seq)) % 2 == 0 else nodes[2]
    other = nodes[2] if owner is nodes[1] else nodes[1]
    assert owner.url not in holders
    assert other.url in holders
    await result(owner.url, "zgs_uploadSegmentByTxSeq", [segment_json(tree, data, 0), seq])
    located = await result(indexer.url, "indexer_getFileLocations", [root])
    assert {n["url"] for n in located} == {n.url for n in nodes}


async def _start_segment(url: str, seq: int) -> int:
    info = await result(url, "zgs_getFileInfoByTxSeq", [seq])
    return int(info["tx"]["startEntryIndex"]) // 1024
