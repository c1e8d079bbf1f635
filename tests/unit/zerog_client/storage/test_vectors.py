"""Conformance: every storage vector of shared/zerog (roots, nodes, proofs, ABI, flow, KV)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from zerog_client.errors import ZeroGError
from zerog_client.storage import (
    BATCH_SUBMIT_SELECTOR,
    EMPTY_CHUNK_HASH,
    LEGACY_SUBMIT_SELECTOR,
    SEGMENT_CHUNKS,
    STREAM_DOMAIN,
    SUBMIT_EVENT_TOPIC,
    SUBMIT_SELECTOR,
    EmptyFileError,
    FileLayout,
    FileTree,
    FlowSimulator,
    InvalidProofError,
    InvalidSegmentError,
    KvWrite,
    Proof,
    ProofFailure,
    StreamData,
    SubmitEvent,
    available_backends,
    build_submission,
    decode_stream_data,
    decode_submit_calldata,
    decode_submit_event,
    encode_stream_data,
    encode_submit_calldata,
    encode_submit_event,
    identity_digest,
    parse_stream_tags,
    read_segment,
    sort_stream_data,
    stream_tags,
    submission_root,
    tree_root,
    value_ranges,
    verify_proof,
    verify_segment,
    zero_hash,
)
from zerog_client.storage.keccak import keccak256

pytestmark = pytest.mark.unit

_SHARED = Path(__file__).resolve().parents[4] / ".." / "shared" / "zerog"


def _load(name: str) -> dict[str, Any]:
    path = _SHARED / name
    if not path.is_file():
        raise FileNotFoundError(f"the conformance vectors are missing: expected {path.resolve()}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


VECTORS = _load("vectors.json")
PROOFS = _load("vectors-proofs.json")
PROOF_FILES: dict[str, dict[str, Any]] = {entry["name"]: entry for entry in PROOFS["files"]}
SIZED_FILES = {name: case for name, case in VECTORS["files"].items() if case["size"] > 0}


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _file_data(name: str, size: int) -> bytes:
    """Rebuild a vector file from its name (checked against its sha256 by the tests)."""
    if name == "1_byte_00":
        return b"\x00"
    if name == "4096_bytes_AB":
        return b"\xab" * 4096
    assert name.endswith("_pattern"), name
    return bytes(i % 251 for i in range(size))


def _nodes_json(tree: FileTree) -> list[dict[str, Any]]:
    return [{"height": node.height, "root": _hex(node.root)} for node in tree.nodes]


@pytest.fixture(scope="module")
def trees() -> dict[str, FileTree]:
    names = {name: case["size"] for name, case in SIZED_FILES.items()}
    names.update({name: case["size"] for name, case in PROOF_FILES.items()})
    return {name: FileTree.from_bytes(_file_data(name, size)) for name, size in names.items()}


# --- files: roots, layout, submission nodes, segment roots and proofs --------------------------


@pytest.mark.parametrize("name", sorted(SIZED_FILES))
def test_file_vector(name: str, trees: dict[str, FileTree]) -> None:
    case = SIZED_FILES[name]
    data = _file_data(name, case["size"])
    assert hashlib.sha256(data).hexdigest() == case["data_sha256"]
    if "data_hex" in case:
        assert data.hex() == case["data_hex"]
    tree = trees[name]
    layout = tree.layout
    assert _hex(tree.root) == case["root"] == case["ref_root"] == case["root_by_node_fold"]
    assert _nodes_json(tree) == case["nodes"] == case["ref_nodes"]
    assert _hex(submission_root(tree.nodes)) == case["root_by_node_fold"]
    assert layout.size == case["submission_length"]
    assert layout.num_chunks == case["num_chunks"]
    assert layout.padded_chunks == case["padded_chunks"]
    assert layout.next_pow2_chunks == case["chunks_next_pow2"]
    assert layout.num_padded_segments == case["num_segments_padded (file-tree leaves)"]
    assert layout.num_segments == case["num_segments_uploaded"]
    assert sum(1 << node.height for node in tree.nodes) == case["fee_sectors"]
    assert [_hex(root) for root in tree.segment_roots] == case["segment_roots"]
    for index, proof in case["segment_proofs"].items():
        assert tree.proof_at(int(index)).to_json() == proof


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    assert VECTORS["files"]["empty"]["size"] == 0
    with pytest.raises(EmptyFileError):
        FileTree.from_bytes(b"")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        FileTree.from_path(empty)


@pytest.mark.parametrize("name", sorted(PROOF_FILES))
def test_proof_file_vector(name: str, trees: dict[str, FileTree], tmp_path: Path) -> None:
    case = PROOF_FILES[name]
    data = _file_data(name, case["size"])
    assert hashlib.sha256(data).hexdigest() == case["sha256"]
    tree = trees[name]
    layout = tree.layout
    assert _hex(tree.root) == case["root"]
    assert _nodes_json(tree) == case["submission_nodes"]
    assert [node.height for node in tree.nodes] == case["heights"] == layout.node_heights()
    assert sum(node.chunks for node in tree.nodes) == case["sectors_charged"]
    # The node reports merkleNodes with depth = height + 1.
    assert [[node.height + 1, _hex(node.root)] for node in tree.nodes] == case["node_merkle_nodes_json"]
    assert (layout.num_chunks, layout.padded_chunks) == (case["chunks"], case["padded_chunks"])
    assert layout.next_pow2_chunks == case["next_pow2_chunks"]
    assert (layout.num_segments, layout.num_padded_segments) == (
        case["data_segments"],
        case["flow_segments"],
    )
    assert [segment["index"] for segment in case["segments"]] == list(range(layout.num_padded_segments))
    stream = io.BytesIO(data)
    for segment in case["segments"]:
        index = segment["index"]
        proof = tree.proof_at(index)
        assert _hex(tree.segment_roots[index]) == segment["segment_root"]
        assert proof.to_json() == segment["proof"]
        assert segment["upload"] == (index < layout.num_segments)
        verify_proof(
            Proof.from_json(segment["proof"]),
            leaf=bytes.fromhex(segment["segment_root"][2:]),
            root=tree.root,
            position=index,
            num_leaves=layout.num_padded_segments,
        )
        if not segment["upload"]:
            assert tree.segment_roots[index] == zero_hash(10)
            continue
        payload = read_segment(stream, layout, index)
        assert len(payload) == segment["data_len"] == layout.segment_payload_size(index)
        assert hashlib.sha256(payload).hexdigest() == segment["data_sha256"]
        if "data_b64" in segment:
            assert base64.b64encode(payload).decode() == segment["data_b64"]
        verify_segment(payload, Proof.from_json(segment["proof"]), root=tree.root, index=index, layout=layout)
    # Streaming from disk gives the same tree.
    path = tmp_path / name
    path.write_bytes(data)
    from_disk = FileTree.from_path(path)
    assert (from_disk.root, from_disk.nodes) == (tree.root, tree.nodes)
    assert list(from_disk.segment_roots) == list(tree.segment_roots)


def test_download_with_proof_responses(trees: dict[str, FileTree]) -> None:
    case = PROOF_FILES["1000000_bytes_pattern"]
    tree = trees["1000000_bytes_pattern"]
    stream = io.BytesIO(_file_data(case["name"], case["size"]))
    for response in case["download_with_proof_responses"].values():
        index = response["index"]
        assert response["root"] == _hex(tree.root)
        assert response["fileSize"] == tree.layout.size
        assert tree.proof_at(index).to_json() == response["proof"]
        payload = read_segment(stream, tree.layout, index)
        assert len(payload) == response["data_len"]
        assert hashlib.sha256(payload).hexdigest() == response["data_sha256"]
        assert base64.b64encode(payload).decode().startswith(response["data_b64_first_64"])


# The negative cases are described in prose; each gets its mutation here, keyed by its text.
_NEGATIVE_CASES = {
    "index beyond data segments [mutation: index=4]",
    "last segment missing its final chunk [mutation: data = first 213504 bytes]",
    "data not a multiple of 256 [mutation: data = first 213759 bytes]",
    "proof path for another position [mutation: path=[true,false]]",
    "tampered sibling [mutation: lemma[1]=0x00..00]",
    "lemma/path length mismatch [mutation: drop last lemma entry]",
    "fileSize 0 [mutation: fileSize=0]",
}


def test_segment_validation_negative_cases(trees: dict[str, FileTree]) -> None:
    cases = PROOFS["node_validation_negative_cases"]["cases"]
    assert {case["case"] for case in cases} == _NEGATIVE_CASES
    expected = {case["case"]: case["expected_error"] for case in cases}
    tree = trees["1000000_bytes_pattern"]
    layout = tree.layout
    payload = read_segment(io.BytesIO(_file_data("1000000_bytes_pattern", layout.size)), layout, 3)
    proof = tree.proof_at(3)
    verify_segment(payload, proof, root=tree.root, index=3, layout=layout)

    def segment_error(data: bytes, index: int, bad_proof: Proof) -> ZeroGError:
        with pytest.raises((InvalidSegmentError, InvalidProofError)) as caught:
            verify_segment(data, bad_proof, root=tree.root, index=index, layout=layout)
        return caught.value

    error = segment_error(payload, 4, proof)
    assert isinstance(error, InvalidSegmentError)
    want = expected["index beyond data segments [mutation: index=4]"]
    assert (f"Invalid params: {error.field}", error.message) == (want["message"], want["data"])

    for size, case in [
        (213504, "last segment missing its final chunk [mutation: data = first 213504 bytes]"),
        (213759, "data not a multiple of 256 [mutation: data = first 213759 bytes]"),
    ]:
        error = segment_error(payload[:size], 3, proof)
        assert isinstance(error, InvalidSegmentError)
        assert error.message == expected[case].get("data", expected[case]["message"])

    error = segment_error(payload, 3, Proof(proof.lemma, (True, False)))
    assert isinstance(error, InvalidProofError)
    assert error.failure is ProofFailure.POSITION
    assert (
        error.message == expected["proof path for another position [mutation: path=[true,false]]"]["message"]
    )

    tampered = (proof.lemma[0], bytes(32), *proof.lemma[2:])
    error = segment_error(payload, 3, Proof(tampered, proof.path))
    assert isinstance(error, InvalidProofError)
    assert error.message == expected["tampered sibling [mutation: lemma[1]=0x00..00]"]["data"]

    error = segment_error(payload, 3, Proof(proof.lemma[:-1], proof.path))
    assert isinstance(error, InvalidProofError)
    assert error.failure is ProofFailure.FORMAT
    assert error.message == expected["lemma/path length mismatch [mutation: drop last lemma entry]"]["data"]

    with pytest.raises(EmptyFileError):
        FileLayout.for_size(0)


# --- RPC examples: the segment objects the uploader sends ------------------------------------


def test_rpc_upload_examples(trees: dict[str, FileTree]) -> None:
    examples = VECTORS["rpc_examples"]
    small = examples["zgs_uploadSegmentsByTxSeq_257B"]["params"][0][0]
    big = examples["zgs_uploadSegmentsByTxSeq_262145B_segment1"]
    for name, segment in [("257_bytes_pattern", small), ("262145_bytes_pattern", big)]:
        tree = trees[name]
        data = _file_data(name, tree.layout.size)
        payload = read_segment(io.BytesIO(data), tree.layout, segment["index"])
        assert segment["root"] == _hex(tree.root)
        assert segment["fileSize"] == tree.layout.size
        assert segment["data"] == base64.b64encode(payload).decode()
        assert segment["proof"] == tree.proof_at(segment["index"]).to_json()

    info = examples["zgs_getFileInfoByTxSeq_257B_result_after_finalize"]["tx"]
    tree = trees["257_bytes_pattern"]
    assert info["dataMerkleRoot"] == _hex(submission_root(tree.nodes))
    assert info["merkleNodes"] == [[node.height + 1, _hex(node.root)] for node in tree.nodes]
    assert info["size"] == tree.layout.size
    assert info["startEntryIndex"] == FlowSimulator().submit(tree.layout.node_heights()).start_pos

    download = examples["zgs_downloadSegmentByTxSeq_request_262145B_seg1"]
    layout = trees["262145_bytes_pattern"].layout
    start = SEGMENT_CHUNKS
    end = min(2 * SEGMENT_CHUNKS, layout.num_chunks)
    assert download["params"][1:] == [start, end]
    assert len(base64.b64encode(bytes((end - start) * 256))) == download["result_base64_len"]


# --- zero subtrees and the Go/TS unit-test trees ----------------------------------------------


def test_zero_subtree_hashes() -> None:
    assert _hex(EMPTY_CHUNK_HASH) == VECTORS["_meta"]["empty_chunk_hash"]
    for height, value in VECTORS["zero_subtree_hashes"]["values"].items():
        assert _hex(zero_hash(int(height))) == value
    assert [_hex(zero_hash(h)) for h in range(64)] == PROOFS["zero_subtree_hashes"]


@pytest.mark.parametrize("backend", available_backends(), ids=lambda backend: backend.name)
def test_every_backend_is_keccak_not_sha3(backend: Any) -> None:
    assert _hex(backend.hash(bytes(256))) == VECTORS["_meta"]["empty_chunk_hash"]
    assert backend.hash(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def _chunk_data_root(count: int) -> str:
    return _hex(tree_root([keccak256(f"chunk data - {i}".encode()) for i in range(count)]))


@pytest.mark.parametrize("count", [3, 4, 5, 6, 7, 35, 36])
def test_go_and_ts_unit_test_trees(count: int) -> None:
    case = VECTORS["cross_checks"][f"leaves_chunk_data_{count}"]
    assert _chunk_data_root(count) == case["expected_go_ts_tests"]
    assert _chunk_data_root(count) == PROOFS["unit_test_crosschecks"][f"chunk_data_{count}_leaves"]


def test_ts_example_layouts() -> None:
    # The TS test files' bytes are not in the vectors, so only their geometry can be checked.
    md = VECTORS["cross_checks"]["ts_test_example.md"]
    assert FileLayout.for_size(md["size"]).node_heights() == [node["height"] for node in md["sdk_nodes"]]
    assert md["sdk_nodes"] == VECTORS["cross_checks"]["ts_test_example.md_expected_nodes"]
    ts = VECTORS["cross_checks"]["ts_test_example.ts"]
    assert FileLayout.for_size(ts["size"]).node_heights() == [0]


# --- Flow ABI: selectors, submit calldata, the Submit event ----------------------------------


def test_selectors_and_topics() -> None:
    abi = VECTORS["flow_abi"]
    assert _hex(SUBMIT_SELECTOR) == abi["submit_selector_new"]
    assert _hex(LEGACY_SUBMIT_SELECTOR) == abi["submit_selector_legacy"]
    assert _hex(BATCH_SUBMIT_SELECTOR) == abi["batchSubmit_selector_new"]
    assert _hex(SUBMIT_EVENT_TOPIC) == abi["Submit_topic0"] == PROOFS["abi"]["Submit_topic0"]
    selectors = PROOFS["abi"]["selectors"]
    assert _hex(SUBMIT_SELECTOR) == selectors["submit(((uint256,bytes,(bytes32,uint256)[]),address))"]
    assert (
        _hex(BATCH_SUBMIT_SELECTOR)
        == selectors["batchSubmit(((uint256,bytes,(bytes32,uint256)[]),address)[])"]
    )
    assert (
        _hex(LEGACY_SUBMIT_SELECTOR)
        == selectors["submit((uint256,bytes,(bytes32,uint256)[])) [pre-2026 Flow]"]
    )


def test_submit_calldata(trees: dict[str, FileTree]) -> None:
    example = VECTORS["flow_abi"]["example_257B"]
    spec = example["submission"]
    tree = trees["257_bytes_pattern"]
    submission = build_submission(tree, spec["submitter"], bytes.fromhex(spec["tags"][2:]))
    assert submission.data.length == spec["length"]
    assert [{"height": n.height, "root": _hex(n.root)} for n in submission.data.nodes] == spec["nodes"]
    calldata = encode_submit_calldata(submission)
    assert (
        _hex(calldata) == example["submit_calldata"] == PROOFS["abi"]["example_submit_257_bytes"]["calldata"]
    )
    assert decode_submit_calldata(calldata) == submission
    assert submission.data.sectors == 2


def test_submit_event(trees: dict[str, FileTree]) -> None:
    example = VECTORS["flow_abi"]["example_257B"]
    expected = example["Submit_event_if_first_tx_on_fresh_flow"]
    assert expected == {
        "topics": PROOFS["abi"]["example_submit_257_bytes"]["Submit_event_if_first_on_fresh_flow"]["topics"],
        "data": PROOFS["abi"]["example_submit_257_bytes"]["Submit_event_if_first_on_fresh_flow"]["data"],
        "decoded": PROOFS["abi"]["example_submit_257_bytes"]["Submit_event_if_first_on_fresh_flow"]["fields"],
    }
    tree = trees["257_bytes_pattern"]
    submission = build_submission(tree, example["submission"]["submitter"])
    assert _hex(identity_digest(tree.nodes)) == example["identity_digest_topic2"]
    placement = FlowSimulator().submit([node.height for node in tree.nodes])
    event = SubmitEvent(
        sender=submission.submitter,
        identity=identity_digest(tree.nodes),
        submission_index=placement.submission_index,
        start_pos=placement.start_pos,
        length=placement.length,
        data=submission.data,
    )
    topics, data = encode_submit_event(event)
    assert [_hex(topic) for topic in topics] == expected["topics"]
    assert _hex(data) == expected["data"]
    decoded = decode_submit_event(
        [bytes.fromhex(t[2:]) for t in expected["topics"]], bytes.fromhex(expected["data"][2:])
    )
    assert decoded == event
    fields = expected["decoded"]
    assert (decoded.submission_index, decoded.start_pos, decoded.length) == (
        fields["submissionIndex"],
        fields["startPos"],
        fields["length(sectors)"],
    )
    assert decoded.root == tree.root


# --- Flow placement (startPos) ----------------------------------------------------------------

_SIM_FILES = {
    "257B": "257_bytes_pattern",
    "262145B": "262145_bytes_pattern",
    "1B": "1_byte_00",
    "1000000B": "1000000_bytes_pattern",
    "4096B": "4096_bytes_AB",
}


def test_flow_position_simulation(trees: dict[str, FileTree]) -> None:
    flow = FlowSimulator()
    for index, step in enumerate(VECTORS["flow_position_simulation_fresh_flow"]):
        heights = trees[_SIM_FILES[step["file"]]].layout.node_heights()
        assert heights == step["heights"]
        placement = flow.submit(heights)
        assert placement.submission_index == index
        assert placement.start_pos == step["startPos"]
        assert placement.length == step["length_sectors"]
        assert placement.padding == step["padded_sectors_charged_to_padding"]
        assert placement.flow_length_after == step["currentLength_after"] == flow.flow_length
        assert list(placement.segment_range) == step["segment_range"]


def test_flow_placement_example(trees: dict[str, FileTree]) -> None:
    flow = FlowSimulator()
    for index, step in enumerate(PROOFS["flow_placement_example"]["sequence"]):
        heights = trees[step["file"]].layout.node_heights()
        assert heights == step["heights"]
        placement = flow.submit(heights)
        assert placement.submission_index == index
        assert placement.start_pos == step["startPos"]
        assert placement.padding == step["paddingSectors"]
        assert placement.length == step["chargedSectors"]
        assert placement.flow_length_after == step["flowLengthAfter"]


# --- KV blobs and tags ------------------------------------------------------------------------


def _kv_value(text: str) -> bytes:
    # The vectors write `01*300` for 300 bytes of 0x01.
    if "*" in text:
        byte, count = text.split("*")
        return bytes.fromhex(byte) * int(count)
    return text.encode()


@pytest.mark.parametrize("name", ["two_writes_version_max", "two_writes_version0_sorted"])
def test_kv_blob_vectors(name: str) -> None:
    case = VECTORS["kv"][name]
    stream_id = bytes.fromhex(case["stream_id"][2:])
    if "writes_in_order" in case:
        writes = [(key, _kv_value(value)) for key, value in case["writes_in_order"]]
    else:
        values = dict(VECTORS["kv"]["two_writes_version_max"]["writes_in_order"])
        writes = [(key, _kv_value(values[key])) for key in reversed(case["sorted_order"])]
    data = StreamData(
        version=case["version"],
        writes=tuple(KvWrite(stream_id, key.encode(), value) for key, value in writes),
    )
    if "sorted_order" in case:
        data = sort_stream_data(data)
        assert [write.key.decode() for write in data.writes] == case["sorted_order"]
    blob = encode_stream_data(data)
    assert blob.hex() == case["encoded_hex"]
    assert len(blob) == case["encoded_len"]
    assert decode_stream_data(blob) == data
    tags = stream_tags(data)
    assert tags.hex() == case["tags_hex"] == VECTORS["kv"]["tags_expected"]
    assert parse_stream_tags(tags) == [stream_id]
    tree = FileTree.from_bytes(blob)
    assert _hex(tree.root) == case["blob_file_root"]
    if "blob_file_nodes" in case:
        assert _nodes_json(tree) == case["blob_file_nodes"]
        assert case["stream_domain_sha256_STREAM"] == STREAM_DOMAIN.hex()


def test_kv_blobs_of_the_proofs_file() -> None:
    kv = PROOFS["kv"]
    stream_id = bytes.fromhex(kv["stream_id"][2:])
    values = {
        key: _kv_value(value) for key, value in VECTORS["kv"]["two_writes_version_max"]["writes_in_order"]
    }
    for blob_case in kv["blobs"]:
        data = sort_stream_data(
            StreamData(
                version=int(blob_case["version"]),
                writes=tuple(KvWrite(stream_id, key.encode(), value) for key, value in values.items()),
            )
        )
        blob = encode_stream_data(data)
        assert _hex(blob) == blob_case["hex"]
        assert len(blob) == blob_case["len"]
        assert _hex(stream_tags(data, sort=True)) == kv["tags"]
        tree = FileTree.from_bytes(blob)
        assert _hex(tree.root) == blob_case["file_root"]
        assert _nodes_json(tree) == blob_case["submission_nodes"]
        ranges = dict(zip((w.key.decode() for w in data.writes), value_ranges(data), strict=True))
        assert {key: list(span) for key, span in ranges.items()} == blob_case["value_byte_offsets_in_blob"]
        for write, (start, end) in zip(data.writes, value_ranges(data), strict=True):
            assert blob[start:end] == write.value
