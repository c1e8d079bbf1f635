"""Sharding across two nodes, state surviving a restart, batches and the body cap."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest

from tests.integration.zerog_client.storage_node.conftest import NodeFactory
from tests.integration.zerog_client.storage_node.harness import (
    Chain,
    pattern,
    result,
    segment_json,
    wait_until,
)
from zerog_client.storage import FileTree

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def _wait_tx(url: str, seq: int) -> None:
    async def known() -> bool:
        return await result(url, "zgs_getFileInfoByTxSeq", [seq]) is not None

    await wait_until(known)


async def test_two_shards_hold_only_their_segments(make_node: NodeFactory, chain: Chain) -> None:
    even = await make_node("even", shard_id=0, num_shard=2)
    odd = await make_node("odd", shard_id=1, num_shard=2)
    assert await result(odd.url, "zgs_getShardConfig", []) == {"shardId": 1, "numShard": 2}
    data = pattern(1_000_000)
    tree = FileTree.from_bytes(data)
    seq = await chain.submit(tree)
    info = None
    for storage in (even, odd):
        await _wait_tx(storage.url, seq)
        info = await result(storage.url, "zgs_getFileInfoByTxSeq", [seq])
    assert info is not None
    start_segment = info["tx"]["startEntryIndex"] // 1024
    for storage, shard in ((even, 0), (odd, 1)):
        mine = [i for i in range(4) if (start_segment + i) % 2 == shard]
        # Other shards' segments are accepted but not kept; the node finalizes on its own ones.
        order = [i for i in range(4) if i not in mine] + mine
        segments = [segment_json(tree, data, i) for i in order]
        await result(storage.url, "zgs_uploadSegmentsByTxSeq", [segments, seq])
        assert (await result(storage.url, "zgs_getFileInfoByTxSeq", [seq]))["finalized"] is True
        for index in range(4):
            got = await result(storage.url, "zgs_downloadSegmentWithProofByTxSeq", [seq, index])
            assert (got is not None) == (index in mine), (shard, index)
        files = sorted(p.name for p in (storage.store.data_dir / "segments" / str(seq)).iterdir())
        assert files == sorted(str(i) for i in mine)


async def test_finalization_with_only_own_segments(make_node: NodeFactory, chain: Chain) -> None:
    odd = await make_node("odd", shard_id=1, num_shard=2)
    data = pattern(1_000_000)
    tree = FileTree.from_bytes(data)
    seq = await chain.submit(tree)
    await _wait_tx(odd.url, seq)
    info = await result(odd.url, "zgs_getFileInfoByTxSeq", [seq])
    start_segment = info["tx"]["startEntryIndex"] // 1024
    mine = [i for i in range(4) if (start_segment + i) % 2 == 1]
    await result(odd.url, "zgs_uploadSegmentsByTxSeq", [[segment_json(tree, data, i) for i in mine], seq])
    assert await result(odd.url, "zgs_checkFileFinalized", [seq]) is True


async def test_state_survives_a_restart(make_node: NodeFactory, chain: Chain) -> None:
    first = await make_node("persist")
    data = pattern(262_145)
    tree = FileTree.from_bytes(data)
    seq = await chain.submit(tree)
    partial = FileTree.from_bytes(pattern(600_000))
    partial_seq = await chain.submit(partial)
    await _wait_tx(first.url, partial_seq)
    await result(
        first.url, "zgs_uploadSegmentsByTxSeq", [[segment_json(tree, data, i) for i in range(2)], seq]
    )
    await result(
        first.url, "zgs_uploadSegmentByTxSeq", [segment_json(partial, pattern(600_000), 0), partial_seq]
    )
    status = await result(first.url, "zgs_getStatus", [])
    before = await result(first.url, "zgs_getFileInfoByTxSeq", [partial_seq])
    await first.stop()

    second = await make_node("persist")
    restarted = await result(second.url, "zgs_getStatus", [])
    assert restarted["nextTxSeq"] == status["nextTxSeq"] == 2
    assert restarted["logSyncHeight"] >= status["logSyncHeight"]
    assert await result(second.url, "zgs_getFileInfoByTxSeq", [partial_seq]) == before
    assert (await result(second.url, "zgs_getFileInfoByTxSeq", [seq]))["finalized"] is True
    got = base64.b64decode(await result(second.url, "zgs_downloadSegmentByTxSeq", [seq, 1024, 1025]))
    assert got == b"\x64" + bytes(255)
    # Resuming the upload continues the same window; the first segment is a duplicate.
    segment = segment_json(partial, pattern(600_000), 0)
    err = await result_or_error(second.url, "zgs_uploadSegmentByTxSeq", [segment, partial_seq])
    assert err == {"code": -32000, "message": "segment has already been uploaded or is being uploaded"}
    # New transactions keep their numbering after the restart.
    third = await chain.submit(FileTree.from_bytes(pattern(10)))
    await _wait_tx(second.url, third)
    assert third == 2


async def result_or_error(url: str, method: str, params: list[object]) -> object:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        reply = await response.json()
    return reply.get("error", reply.get("result"))


async def test_batch_requests_and_notifications(make_node: NodeFactory) -> None:
    storage = await make_node()
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "zgs_getShardConfig", "params": []},
        {"jsonrpc": "2.0", "method": "zgs_getStatus", "params": []},
        {"jsonrpc": "2.0", "id": "b", "method": "zgs_missing", "params": []},
    ]
    async with aiohttp.ClientSession() as session:
        async with session.post(storage.url, json=batch) as response:
            replies = await response.json()
        assert replies == [
            {"jsonrpc": "2.0", "id": 1, "result": {"shardId": 0, "numShard": 1}},
            {"jsonrpc": "2.0", "id": "b", "error": {"code": -32601, "message": "Method not found"}},
        ]
        async with session.post(
            storage.url, data=b"{not json", headers={"Content-Type": "application/json"}
        ) as response:
            assert (await response.json())["error"]["code"] == -32700
        async with session.post(storage.url, json=[]) as response:
            assert (await response.json())["error"]["code"] == -32600


async def test_request_body_cap(make_node: NodeFactory, chain: Chain, tmp_path: object) -> None:
    storage = await make_node()
    cap = storage.config.max_request_body
    assert cap == 100 * 1024 * 1024
    small = storage.config.model_copy(
        update={"max_request_body": 1024, "data_dir": storage.config.data_dir.parent / "cap"}
    )
    from zerog_client.devnet.storage_node import StorageNode

    capped = StorageNode(small)
    await capped.start()
    try:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "zgs_getStatus", "params": ["x" * 2000]})
        async with (
            aiohttp.ClientSession() as session,
            session.post(capped.url, data=body.encode()) as response,
        ):
            assert response.status == 413
    finally:
        await capped.stop()
