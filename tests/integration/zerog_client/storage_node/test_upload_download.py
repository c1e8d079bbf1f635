"""The storage node's upload, finalization and download protocol (SPEC §3.1-3.2, §3.5)."""

from __future__ import annotations

import base64

import pytest

from tests.integration.zerog_client.storage_node.harness import (
    Chain,
    error,
    load_vectors,
    pattern,
    result,
    segment_json,
    wait_until,
)
from zerog_client.devnet.storage_node import StorageNode
from zerog_client.storage import FileLayout, FileTree, Proof, verify_segment

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def _synced(url: str, seq: int) -> None:
    async def known() -> bool:
        return await result(url, "zgs_getFileInfoByTxSeq", [seq]) is not None

    await wait_until(known)


async def test_status_and_shard_config(storage: StorageNode, chain: Chain) -> None:
    status = await result(storage.url, "zgs_getStatus", [])
    assert set(status) == {"connectedPeers", "logSyncHeight", "logSyncBlock", "nextTxSeq", "networkIdentity"}
    assert status["nextTxSeq"] == 0
    assert status["networkIdentity"] == {
        "chainId": 1_660_999,
        "flowAddress": chain.flow.lower(),
        "p2pProtocolVersion": {"major": 0, "minor": 4, "build": 0},
    }
    assert await result(storage.url, "zgs_getShardConfig", []) == {"shardId": 0, "numShard": 1}


async def test_wire_example_257_bytes(storage: StorageNode, chain: Chain) -> None:
    """SPEC §3.5: tx 0 on a fresh flow, uploaded by tx seq, then its FileInfo."""
    vector = next(f for f in load_vectors()["files"] if f["name"] == "257_bytes_pattern")
    data = pattern(257)
    seq = await chain.submit(FileTree.from_bytes(data))
    await _synced(storage.url, seq)
    segment = {
        "root": vector["root"],
        "data": vector["segments"][0]["data_b64"],
        "index": 0,
        "proof": vector["segments"][0]["proof"],
        "fileSize": 257,
    }
    assert await result(storage.url, "zgs_uploadSegmentsByTxSeq", [[segment], 0]) is None
    info = await result(storage.url, "zgs_getFileInfoByTxSeq", [0])
    assert info == {
        "tx": {
            "streamIds": [],
            "data": [],
            "dataMerkleRoot": vector["root"],
            "merkleNodes": vector["node_merkle_nodes_json"],
            "startEntryIndex": 2,
            "size": 257,
            "seq": 0,
        },
        "finalized": True,
        "isCached": False,
        "uploadedSegNum": 1,
        "pruned": False,
    }
    assert await result(storage.url, "zgs_checkFileFinalized", [0]) is True
    assert await result(storage.url, "zgs_checkFileFinalized", [vector["root"]]) is True
    assert await result(storage.url, "zgs_checkFileFinalized", [7]) is None
    assert await result(storage.url, "zgs_getFileInfo", [vector["root"], True]) == info


async def test_upload_by_root_before_the_tx_is_seen(storage: StorageNode, chain: Chain) -> None:
    data = pattern(262_145)
    tree = FileTree.from_bytes(data)
    root = "0x" + tree.root.hex()
    assert await result(storage.url, "zgs_getFileInfo", [root, True]) is None
    segments = [segment_json(tree, data, i) for i in range(tree.layout.num_segments)]
    assert await result(storage.url, "zgs_uploadSegments", [segments]) is None
    # Cached, so a repeat is a duplicate.
    err = await error(storage.url, "zgs_uploadSegment", [segments[0]])
    assert err == {"code": -32000, "message": "segment has already been uploaded or is being uploaded"}
    seq = await chain.submit(tree)

    async def finalized() -> bool:
        info = await result(storage.url, "zgs_getFileInfo", [root, True])
        return info is not None and info["finalized"] is True

    await wait_until(finalized)
    info = await result(storage.url, "zgs_getFileInfoByTxSeq", [seq])
    assert info["uploadedSegNum"] == 2
    assert info["isCached"] is False


async def test_upload_by_root_after_the_tx_and_finalization(storage: StorageNode, chain: Chain) -> None:
    data = pattern(1_000_000)
    tree = FileTree.from_bytes(data)
    seq = await chain.submit(tree)
    await _synced(storage.url, seq)
    segments = [segment_json(tree, data, i) for i in range(4)]
    # Out of order: the window's left edge stays at 0 until segment 0 arrives.
    await result(storage.url, "zgs_uploadSegment", [segments[1]])
    info = await result(storage.url, "zgs_getFileInfoByTxSeq", [seq])
    assert (info["finalized"], info["uploadedSegNum"]) == (False, 0)
    await result(storage.url, "zgs_uploadSegment", [segments[0]])
    info = await result(storage.url, "zgs_getFileInfoByTxSeq", [seq])
    assert (info["finalized"], info["uploadedSegNum"]) == (False, 2)
    err = await error(storage.url, "zgs_uploadSegment", [segments[1]])
    assert err["message"] == "segment has already been uploaded or is being uploaded"
    # uploadSegmentsByTxSeq skips duplicates silently.
    assert await result(storage.url, "zgs_uploadSegmentsByTxSeq", [segments, seq]) is None
    info = await result(storage.url, "zgs_getFileInfoByTxSeq", [seq])
    assert (info["finalized"], info["uploadedSegNum"]) == (True, 4)
    err = await error(storage.url, "zgs_uploadSegment", [segments[0]])
    assert err == {
        "code": -32602,
        "message": "Invalid params: root",
        "data": "already uploaded and finalized",
    }


async def test_by_tx_seq_checks_root_and_size(storage: StorageNode, chain: Chain) -> None:
    data = pattern(4096)
    tree = FileTree.from_bytes(data)
    seq = await chain.submit(tree)
    await _synced(storage.url, seq)
    other = FileTree.from_bytes(pattern(300))
    err = await error(storage.url, "zgs_uploadSegmentByTxSeq", [segment_json(other, pattern(300), 0), seq])
    assert err == {"code": -32603, "message": "Internal error", "data": "data root and tx seq not match"}
    wrong_size = segment_json(tree, data, 0) | {"fileSize": 4095}
    err = await error(storage.url, "zgs_uploadSegmentByTxSeq", [wrong_size, seq])
    assert err == {
        "code": -32602,
        "message": "Invalid params: file_size",
        "data": "segment file size not matched with tx file size",
    }
    assert await result(storage.url, "zgs_uploadSegmentByTxSeq", [segment_json(tree, data, 0), seq]) is None
    assert await result(storage.url, "zgs_checkFileFinalized", [seq]) is True


async def test_download_with_proof_verifies_against_the_root(storage: StorageNode, chain: Chain) -> None:
    data = pattern(1_000_000)
    tree = FileTree.from_bytes(data)
    root = "0x" + tree.root.hex()
    seq = await chain.submit(tree)
    await _synced(storage.url, seq)
    await result(
        storage.url, "zgs_uploadSegmentsByTxSeq", [[segment_json(tree, data, i) for i in range(4)], seq]
    )
    layout = FileLayout.for_size(len(data))
    vector = next(f for f in load_vectors()["files"] if f["name"] == "1000000_bytes_pattern")
    for index in range(4):
        got = await result(storage.url, "zgs_downloadSegmentWithProof", [root, index])
        assert set(got) == {"root", "data", "index", "proof", "fileSize"}
        payload = base64.b64decode(got["data"])
        verify_segment(payload, Proof.from_json(got["proof"]), root=tree.root, index=index, layout=layout)
        assert got == await result(storage.url, "zgs_downloadSegmentWithProofByTxSeq", [seq, index])
    for key, expected in vector["download_with_proof_responses"].items():
        got = await result(storage.url, "zgs_downloadSegmentWithProof", [root, expected["index"]])
        assert {k: got[k] for k in ("root", "index", "fileSize", "proof")} == {
            k: expected[k] for k in ("root", "index", "fileSize", "proof")
        }, key
        assert len(base64.b64decode(got["data"])) == expected["data_len"]
        assert got["data"].startswith(expected["data_b64_first_64"])
    err = await error(storage.url, "zgs_downloadSegmentWithProof", [root, 4])
    assert err == {"code": -32602, "message": "Invalid params: index", "data": "index out of bound"}
    assert await result(storage.url, "zgs_downloadSegmentWithProof", ["0x" + "11" * 32, 0]) is None


async def test_download_chunk_ranges_and_limits(storage: StorageNode, chain: Chain) -> None:
    data = pattern(262_145)
    tree = FileTree.from_bytes(data)
    root = "0x" + tree.root.hex()
    seq = await chain.submit(tree)
    await _synced(storage.url, seq)
    assert await result(storage.url, "zgs_downloadSegmentByTxSeq", [seq, 0, 1]) is None  # not uploaded yet
    await result(
        storage.url, "zgs_uploadSegmentsByTxSeq", [[segment_json(tree, data, i) for i in range(2)], seq]
    )
    last = base64.b64decode(await result(storage.url, "zgs_downloadSegmentByTxSeq", [seq, 1024, 1025]))
    assert last == b"\x64" + bytes(255)
    first = base64.b64decode(await result(storage.url, "zgs_downloadSegment", [root, 0, 1024]))
    assert first == data[:262_144]
    straddling = base64.b64decode(await result(storage.url, "zgs_downloadSegment", [root, 1000, 1025]))
    assert straddling == data[1000 * 256 : 1025 * 256] + bytes(255)
    assert await error(storage.url, "zgs_downloadSegment", [root, 5, 5]) == {
        "code": -32602,
        "message": "Invalid params: end_index",
        "data": "invalid chunk index",
    }
    assert await error(storage.url, "zgs_downloadSegment", [root, 0, 1025]) == {
        "code": -32602,
        "message": "Invalid params: end_index",
        "data": "exceeds maximum chunks 1024",
    }
    assert await result(storage.url, "zgs_downloadSegment", ["0x" + "22" * 32, 0, 1]) is None


async def test_repeated_root_is_copy_finalized(storage: StorageNode, chain: Chain) -> None:
    data = pattern(5000)
    tree = FileTree.from_bytes(data)
    first = await chain.submit(tree)
    await _synced(storage.url, first)
    await result(storage.url, "zgs_uploadSegmentByTxSeq", [segment_json(tree, data, 0), first])
    second = await chain.submit(tree)
    await _synced(storage.url, second)
    info = await result(storage.url, "zgs_getFileInfoByTxSeq", [second])
    assert info["finalized"] is True
    got = base64.b64decode(await result(storage.url, "zgs_downloadSegmentByTxSeq", [second, 0, 20]))
    assert got[:5000] == data
