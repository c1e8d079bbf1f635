"""Pure parts of the devnet storage node: record building, segment validation, shard selection."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from zerog_client.devnet.indexer import ShardedNode, select_trusted_and_discovered
from zerog_client.devnet.storage_node import RpcError, ShardConfig, record_from_log, select_nodes
from zerog_client.devnet.storage_node.shard import InvalidShardConfigError
from zerog_client.devnet.storage_node.validation import (
    expected_data_length,
    parse_segment,
    proof_segment_count,
    validate_segment,
    zero_segments_root,
)
from zerog_client.storage import (
    FileTree,
    SubmissionData,
    SubmitEvent,
    encode_submit_event,
    identity_digest,
    zero_hash,
)

pytestmark = pytest.mark.unit

_PROOFS = json.loads(Path("/work/shared/zerog/vectors-proofs.json").read_text())


def _pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def test_record_from_encoded_submit_event() -> None:
    tree = FileTree.from_bytes(_pattern(262_145))
    data = SubmissionData(262_145, b"\x01", tree.nodes)
    event = SubmitEvent("0x" + "11" * 20, identity_digest(tree.nodes), 7, 2048, data.sectors, data)
    topics, payload = encode_submit_event(event)
    log = {
        "topics": ["0x" + t.hex() for t in topics],
        "data": "0x" + payload.hex(),
        "blockNumber": "0x2a",
        "blockHash": "0x" + "ab" * 32,
    }
    record = record_from_log(log)
    vector = next(f for f in _PROOFS["files"] if f["name"] == "262145_bytes_pattern")
    assert record.to_json() == {
        "streamIds": [],
        "data": [],
        "dataMerkleRoot": vector["root"],
        "merkleNodes": vector["node_merkle_nodes_json"],
        "startEntryIndex": 2048,
        "size": 262_145,
        "seq": 7,
    }
    assert (record.block_number, record.num_entries) == (42, 1152)
    assert type(record).from_store(record.to_store()) == record


def test_every_vector_segment_validates() -> None:
    for vector in _PROOFS["files"]:
        for seg in vector["segments"]:
            if not seg["upload"] or "data_b64" not in seg:
                continue
            wire = {
                "root": vector["root"],
                "data": seg["data_b64"],
                "index": seg["index"],
                "proof": seg["proof"],
                "fileSize": vector["size"],
            }
            validate_segment(parse_segment(wire))
            assert len(base64.b64decode(seg["data_b64"])) == expected_data_length(
                vector["size"], seg["index"]
            )
        assert proof_segment_count(vector["size"]) == vector["flow_segments"]


def test_zero_segment_roots() -> None:
    assert zero_segments_root(1) == zero_hash(10)
    assert zero_segments_root(4) == zero_hash(12)
    assert zero_segments_root(3) != zero_hash(11)


def test_rpc_error_encoding() -> None:
    assert RpcError(-32602, "Invalid params: root", "x").to_json() == {
        "code": -32602,
        "message": "Invalid params: root",
        "data": "x",
    }
    assert RpcError(-32000, "boom").to_json() == {"code": -32000, "message": "boom"}


def test_shard_config() -> None:
    assert ShardConfig(1, 4).next_segment_index(6) == 9
    assert ShardConfig(1, 4).next_segment_index(5) == 5
    assert ShardConfig(0, 1).next_segment_index(7) == 7
    assert ShardConfig(1, 2).holds(3)
    assert not ShardConfig(1, 2).holds(4)
    with pytest.raises(InvalidShardConfigError):
        ShardConfig(0, 3)
    with pytest.raises(InvalidShardConfigError):
        ShardConfig(2, 2)


def test_select_nodes() -> None:
    configs = [ShardConfig(0, 2), ShardConfig(0, 4), ShardConfig(2, 4), ShardConfig(1, 2), ShardConfig(0, 1)]
    assert select_nodes(configs, 1, "max", lambda c: c) == [
        ShardConfig(0, 4),
        ShardConfig(2, 4),
        ShardConfig(1, 2),
    ]
    assert select_nodes(configs, 1, "min", lambda c: c) == [ShardConfig(0, 1)]
    assert select_nodes(configs, 2, "min", lambda c: c) == [
        ShardConfig(0, 1),
        ShardConfig(0, 2),
        ShardConfig(1, 2),
    ]
    assert select_nodes(configs, 3, "min", lambda c: c) is None
    assert select_nodes(configs, 1, "4", lambda c: c) is None
    assert select_nodes(configs, 0, "min", lambda c: c) is None
    # A node whose subtree is already covered is skipped.
    redundant = [ShardConfig(0, 1), ShardConfig(0, 2)]
    assert select_nodes(redundant * 2, 1, "min", lambda c: c) == [ShardConfig(0, 1)]
    random_pick = select_nodes(configs, 1, "random", lambda c: c)
    assert random_pick is not None
    with pytest.raises(ValueError, match="unknown selection method"):
        select_nodes(configs, 1, "fastest", lambda c: c)


def test_trusted_and_discovered_split() -> None:
    trusted = [ShardedNode("t", ShardConfig())]
    discovered = [ShardedNode("d0", ShardConfig(0, 2)), ShardedNode("d1", ShardConfig(1, 2))]
    assert select_trusted_and_discovered(trusted, discovered, 2, "min", False) == (trusted, discovered)
    assert select_trusted_and_discovered(trusted, discovered, 1, "min", True) == (trusted, [])
    assert select_trusted_and_discovered(trusted, [], 2, "min", True) is None
