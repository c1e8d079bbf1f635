"""Properties of the storage layer, checked against a naive reference built from the spec's definitions."""

from __future__ import annotations

import io
import os
import random
import tempfile
import tracemalloc
from collections.abc import Sequence
from functools import lru_cache
from typing import BinaryIO, cast

import pytest
from eth_abi.abi import encode as abi_encode
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from zerog_client.storage import (
    CHUNK_SIZE,
    EMPTY_CHUNK_HASH,
    SEGMENT_CHUNKS,
    SEGMENT_SIZE,
    AccessControl,
    AclOp,
    FileChangedError,
    FileLayout,
    FileTree,
    FlowSimulator,
    InvalidProofError,
    InvalidSegmentError,
    KvBlobError,
    KvRead,
    KvWrite,
    MerkleTree,
    Proof,
    StreamData,
    Submission,
    SubmissionData,
    SubmissionNode,
    SubmitEvent,
    available_backends,
    build_submission,
    decode_stream_data,
    decode_submit_calldata,
    decode_submit_event,
    encode_stream_data,
    encode_submit_calldata,
    encode_submit_event,
    fee_sectors,
    is_valid_proof,
    proof_position,
    read_segment,
    submission_root,
    validate_submission,
    verify_proof,
    verify_segment,
)
from zerog_client.storage.keccak import keccak256
from zerog_client.storage.submission import BATCH_SUBMIT_SELECTOR, encode_batch_submit_calldata

pytestmark = pytest.mark.unit

# --- the reference: the recursive definition over all padded chunks, whole file in memory -------


def _reference_root(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two below len(leaves)
    return keccak256(_reference_root(leaves[:split]) + _reference_root(leaves[split:]))


def _reference_padded_chunks(num_chunks: int) -> int:
    p2 = 1
    while p2 < num_chunks:
        p2 *= 2
    if p2 == num_chunks:
        return p2
    unit = max(1, p2 // 16)
    return (num_chunks + unit - 1) // unit * unit


def _reference_file(data: bytes) -> tuple[bytes, list[tuple[bytes, int]]]:
    """File root and (root, height) nodes, straight from the definitions of SPEC 2.2-2.4."""
    num_chunks = (len(data) - 1) // CHUNK_SIZE + 1
    padded = _reference_padded_chunks(num_chunks)
    buffer = data + bytes(num_chunks * CHUNK_SIZE - len(data))
    leaves = [keccak256(buffer[i : i + CHUNK_SIZE]) for i in range(0, len(buffer), CHUNK_SIZE)]
    leaves += [EMPTY_CHUNK_HASH] * (padded - num_chunks)
    nodes, offset, size = [], 0, 1 << (padded - 1).bit_length()
    while offset < padded:
        if padded - offset >= size:
            nodes.append((_reference_root(leaves[offset : offset + size]), size.bit_length() - 1))
            offset += size
        size //= 2
    return _reference_root(leaves), nodes


def _pattern(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


# Sizes that sit on or next to every boundary the layout has: chunk, segment, padding unit, 2**k.
_BOUNDARIES = sorted(
    {
        base + delta
        for base in [1, CHUNK_SIZE, 16 * CHUNK_SIZE, SEGMENT_SIZE, 2 * SEGMENT_SIZE, 3 * SEGMENT_SIZE]
        + [4 * SEGMENT_SIZE, 17 * CHUNK_SIZE, 1025 * CHUNK_SIZE, 4 * 1024 * 1024, 16384 * CHUNK_SIZE]
        for delta in (-1, 0, 1)
        if base + delta > 0
    }
)
_SIZES = st.one_of(
    st.sampled_from(_BOUNDARIES),
    st.integers(min_value=1, max_value=4 * CHUNK_SIZE),
    st.integers(min_value=1, max_value=6 * SEGMENT_SIZE),
)
_SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@lru_cache(maxsize=8)
def _tree_and_data(size: int, seed: int) -> tuple[FileTree, bytes]:
    data = _pattern(size, seed)
    return FileTree.from_bytes(data), data


# --- file trees ---------------------------------------------------------------------------------


@_SLOW
@given(size=_SIZES, seed=st.integers(0, 3))
def test_file_tree_matches_the_reference(size: int, seed: int) -> None:
    tree, data = _tree_and_data(size, seed)
    root, nodes = _reference_file(data)
    assert tree.root == root
    assert [(node.root, node.height) for node in tree.nodes] == nodes
    assert submission_root(tree.nodes) == tree.root
    assert fee_sectors(tree.nodes) == tree.layout.padded_chunks


@_SLOW
@given(size=_SIZES, seed=st.integers(0, 3))
def test_every_segment_proof_verifies(size: int, seed: int) -> None:
    tree, data = _tree_and_data(size, seed)
    layout = tree.layout
    stream = io.BytesIO(data)
    for index in range(layout.num_padded_segments):
        proof = tree.proof_at(index)
        assert proof_position(proof.path, layout.num_padded_segments) == (index, 1)
        if index < layout.num_segments:
            verify_segment(
                read_segment(stream, layout, index), proof, root=tree.root, index=index, layout=layout
            )
        else:
            leaf = tree.segment_roots[index]
            count = layout.num_padded_segments
            assert is_valid_proof(proof, leaf=leaf, root=tree.root, position=index, num_leaves=count)


@_SLOW
@given(size=_SIZES, seed=st.integers(0, 3), where=st.integers(min_value=0), bit=st.integers(0, 7))
def test_a_tampered_segment_fails(size: int, seed: int, where: int, bit: int) -> None:
    tree, data = _tree_and_data(size, seed)
    layout = tree.layout
    index = where % layout.num_segments
    payload = bytearray(read_segment(io.BytesIO(data), layout, index))
    payload[where % len(payload)] ^= 1 << bit
    with pytest.raises(InvalidProofError):
        verify_segment(bytes(payload), tree.proof_at(index), root=tree.root, index=index, layout=layout)


@_SLOW
@given(size=_SIZES, seed=st.integers(0, 3), where=st.integers(min_value=0), bit=st.integers(0, 255))
def test_a_tampered_proof_fails(size: int, seed: int, where: int, bit: int) -> None:
    tree, data = _tree_and_data(size, seed)
    layout = tree.layout
    index = where % layout.num_segments
    payload = read_segment(io.BytesIO(data), layout, index)
    proof = tree.proof_at(index)
    lemma = list(proof.lemma)
    slot = where % (len(lemma) + len(proof.path))
    if slot < len(lemma):
        value = bytearray(lemma[slot])
        value[bit // 8] ^= 1 << (bit % 8)
        lemma[slot] = bytes(value)
        bad = Proof(tuple(lemma), proof.path)
    else:
        path = list(proof.path)
        path[slot - len(lemma)] = not path[slot - len(lemma)]
        bad = Proof(proof.lemma, tuple(path))
    with pytest.raises(InvalidProofError):
        verify_segment(payload, bad, root=tree.root, index=index, layout=layout)
    if layout.num_segments > 1:
        # A valid proof for another index is refused too.
        neighbour = tree.proof_at((index + 1) % layout.num_segments)
        with pytest.raises(InvalidProofError):
            verify_segment(payload, neighbour, root=tree.root, index=index, layout=layout)


def test_a_segment_of_the_wrong_length_fails() -> None:
    tree, data = _tree_and_data(SEGMENT_SIZE + 1, 0)
    payload = read_segment(io.BytesIO(data), tree.layout, 1)
    with pytest.raises(InvalidSegmentError):
        verify_segment(payload + bytes(256), tree.proof_at(1), root=tree.root, index=1, layout=tree.layout)
    with pytest.raises(InvalidSegmentError):
        verify_segment(payload, tree.proof_at(1), root=tree.root, index=2, layout=tree.layout)


class _TrickleStream:
    """A stream that returns at most `step` bytes per read, as pipes may."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._position, self._step = data, 0, step

    def read(self, size: int) -> bytes:
        count = min(size, self._step)
        chunk = self._data[self._position : self._position + count]
        self._position += len(chunk)
        return chunk


@settings(max_examples=25, deadline=None)
@given(size=_SIZES, seed=st.integers(0, 3), step=st.integers(1, 100_000))
def test_streaming_root_equals_in_memory_root(size: int, seed: int, step: int) -> None:
    tree, data = _tree_and_data(size, seed)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "file")
        with open(path, "wb") as out:
            out.write(data)
        from_disk = FileTree.from_path(path)
    trickled = FileTree.from_stream(cast(BinaryIO, _TrickleStream(data, step)), size)
    for other in (from_disk, trickled):
        assert other.root == tree.root
        assert other.nodes == tree.nodes
        assert list(other.segment_roots) == list(tree.segment_roots)


def test_a_short_stream_is_reported() -> None:
    with pytest.raises(FileChangedError):
        FileTree.from_stream(io.BytesIO(bytes(1000)), 1001)


class _GeneratedStream:
    """A long stream of generated bytes that never exists in memory as a whole."""

    def __init__(self, size: int) -> None:
        self._left = size

    def read(self, size: int) -> bytes:
        count = min(size, self._left)
        self._left -= count
        return bytes(range(256)) * (count // 256) + bytes(count % 256)


def test_memory_stays_bounded_by_a_segment() -> None:
    size = 16 * 1024 * 1024
    tracemalloc.start()
    try:
        tree = FileTree.from_stream(cast(BinaryIO, _GeneratedStream(size)), size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tree.layout.num_segments == 64
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes for a {size}-byte file"


# --- generic trees, layout, backends ----------------------------------------------------------

_LEAVES = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=300)


@given(_LEAVES)
def test_every_leaf_proof_verifies(leaves: list[bytes]) -> None:
    tree = MerkleTree(leaves)
    assert tree.root == _reference_root(leaves)
    for index, leaf in enumerate(leaves):
        proof = tree.proof_at(index)
        verify_proof(proof, leaf=leaf, root=tree.root, position=index, num_leaves=len(leaves))
        assert proof.to_json() == Proof.from_json(proof.to_json()).to_json()


@given(_LEAVES, st.data())
def test_a_proof_for_one_leaf_does_not_prove_another(leaves: list[bytes], data: st.DataObject) -> None:
    assume(len(leaves) > 1)
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.integers(0, len(leaves) - 1).filter(lambda i: i != index))
    proof = tree.proof_at(index)
    assert not is_valid_proof(
        proof, leaf=leaves[index], root=tree.root, position=other, num_leaves=len(leaves)
    )
    # Cutting the proof short (an inner node posing as a leaf) is refused as well.
    if len(proof.path) > 1:
        short = Proof((proof.lemma[0], *proof.lemma[2:]), proof.path[1:])
        count = len(leaves)
        assert not is_valid_proof(short, leaf=leaves[index], root=tree.root, position=index, num_leaves=count)


@given(st.integers(min_value=1, max_value=1 << 45))
def test_layout_invariants(size: int) -> None:
    layout = FileLayout.for_size(size)
    heights = layout.node_heights()
    assert layout.num_chunks <= layout.padded_chunks < 2 * layout.next_pow2_chunks
    assert sum(1 << h for h in heights) == layout.padded_chunks
    assert 1 <= len(heights) <= 4
    assert all(a > b for a, b in zip(heights, heights[1:], strict=False))
    assert heights[0] - heights[-1] < 4
    assert layout.padded_chunks == _reference_padded_chunks(layout.num_chunks)
    assert layout.num_segments == -(-size // SEGMENT_SIZE)
    last = layout.num_padded_segments - 1
    assert last * SEGMENT_CHUNKS + layout.segment_tree_chunks(last) == layout.padded_chunks
    assert layout.segment_data_chunks(last) > 0 or layout.padded_chunks % SEGMENT_CHUNKS == 0
    # The submission passes the contract's checks (length, minimal padding, heights).
    nodes = tuple(SubmissionNode(bytes(32), h) for h in heights)
    submitter = "0x" + "11" * 20
    validate_submission(Submission(SubmissionData(size, b"", nodes), submitter))


@given(st.binary(max_size=700))
def test_backends_agree(data: bytes) -> None:
    digests = {backend.name: backend.hash(data) for backend in available_backends()}
    assert len(set(digests.values())) == 1, digests


# --- ABI ------------------------------------------------------------------------------------------

_ADDRESSES = st.binary(min_size=20, max_size=20).filter(any).map(lambda raw: "0x" + raw.hex())
_NODES = st.lists(
    st.tuples(st.binary(min_size=32, max_size=32), st.integers(0, 63)), min_size=1, max_size=4
).map(lambda pairs: tuple(SubmissionNode(root, height) for root, height in pairs))
_DATA = st.builds(
    SubmissionData, length=st.integers(0, (1 << 256) - 1), tags=st.binary(max_size=100), nodes=_NODES
)
_SUBMISSIONS = st.builds(Submission, data=_DATA, submitter=_ADDRESSES)
_SUBMISSION_ABI = "((uint256,bytes,(bytes32,uint256)[]),address)"


def _abi_tuple(submission: Submission) -> tuple[object, ...]:
    data = submission.data
    nodes = [(node.root, node.height) for node in data.nodes]
    return ((data.length, data.tags, nodes), submission.submitter)


@given(_SUBMISSIONS)
def test_submit_calldata_matches_eth_abi_and_round_trips(submission: Submission) -> None:
    calldata = encode_submit_calldata(submission)
    assert calldata[4:] == abi_encode([_SUBMISSION_ABI], [_abi_tuple(submission)])
    assert decode_submit_calldata(calldata) == submission


@given(st.lists(_SUBMISSIONS, max_size=3))
def test_batch_submit_calldata_matches_eth_abi(submissions: list[Submission]) -> None:
    calldata = encode_batch_submit_calldata(submissions)
    assert calldata[:4] == BATCH_SUBMIT_SELECTOR
    assert calldata[4:] == abi_encode([_SUBMISSION_ABI + "[]"], [[_abi_tuple(s) for s in submissions]])


@given(
    submission=_SUBMISSIONS,
    index=st.integers(0, 1 << 64),
    start=st.integers(0, 1 << 64),
    length=st.integers(0, 1 << 64),
)
def test_submit_event_matches_eth_abi_and_round_trips(
    submission: Submission, index: int, start: int, length: int
) -> None:
    event = SubmitEvent(submission.submitter, keccak256(b"x"), index, start, length, submission.data)
    topics, data = encode_submit_event(event)
    abi_data = _abi_tuple(submission)[0]
    assert data == abi_encode(
        ["uint256", "uint256", "uint256", "(uint256,bytes,(bytes32,uint256)[])"],
        [index, start, length, abi_data],
    )
    assert decode_submit_event(topics, data) == event


@given(size=st.sampled_from(_BOUNDARIES), seed=st.integers(0, 1))
def test_built_submissions_are_valid(size: int, seed: int) -> None:
    tree, _ = _tree_and_data(size, seed)
    submission = build_submission(tree, "0x" + "ab" * 20)
    assert submission.data.sectors == tree.layout.padded_chunks


# --- flow placement -------------------------------------------------------------------------------


@given(st.lists(st.integers(min_value=1, max_value=1 << 34), min_size=1, max_size=30))
def test_flow_placement_invariants(sizes: list[int]) -> None:
    flow = FlowSimulator()
    end = flow.flow_length
    for size in sizes:
        heights = FileLayout.for_size(size).node_heights()
        placement = flow.submit(heights)
        assert placement.start_pos >= end
        assert placement.start_pos % (1 << heights[0]) == 0
        assert placement.length == sum(1 << h for h in heights)
        first, last = placement.segment_range
        if first != last:
            assert placement.start_pos % SEGMENT_CHUNKS == 0
        assert placement.flow_length_after == placement.start_pos + placement.length == flow.flow_length
        end = placement.flow_length_after


def test_a_submission_that_would_straddle_a_segment_moves_to_the_next_one() -> None:
    # Hand-derived from FlowTreeLib (SPEC 2.5); no shared vector reaches this branch.
    # 768 chunks -> nodes [9, 8]; aligned at 512 they would end at 1279, across segment 0/1.
    heights = FileLayout.for_size(768 * CHUNK_SIZE).node_heights()
    assert heights == [9, 8]
    placement = FlowSimulator().submit(heights)
    assert (placement.start_pos, placement.padding, placement.length) == (1024, 1023, 768)
    assert placement.flow_length_after == 1792
    assert placement.segment_range == (1, 1)


# --- KV blobs -------------------------------------------------------------------------------------

_STREAM_IDS = st.sampled_from([bytes(31) + bytes([i]) for i in range(4)])
_KEYS = st.binary(min_size=1, max_size=40)
_ACCOUNTS = st.binary(min_size=20, max_size=20)


@st.composite
def _controls(draw: st.DrawFn) -> AccessControl:
    op = draw(st.sampled_from(list(AclOp)))
    has_key = (
        op in {AclOp.SET_KEY_TO_SPECIAL, AclOp.SET_KEY_TO_NORMAL} or op >= AclOp.GRANT_SPECIAL_WRITER_ROLE
    )
    has_account = op in {
        AclOp.GRANT_ADMIN_ROLE,
        AclOp.GRANT_WRITER_ROLE,
        AclOp.REVOKE_WRITER_ROLE,
        AclOp.GRANT_SPECIAL_WRITER_ROLE,
        AclOp.REVOKE_SPECIAL_WRITER_ROLE,
    }
    return AccessControl(
        op,
        draw(_STREAM_IDS),
        draw(_KEYS) if has_key else None,
        draw(_ACCOUNTS) if has_account else None,
    )


_STREAM_DATA = st.builds(
    StreamData,
    version=st.integers(0, (1 << 64) - 1),
    reads=st.lists(st.builds(KvRead, _STREAM_IDS, _KEYS), max_size=5).map(tuple),
    writes=st.lists(st.builds(KvWrite, _STREAM_IDS, _KEYS, st.binary(max_size=300)), max_size=5).map(tuple),
    controls=st.lists(_controls(), max_size=5).map(tuple),
)


@given(_STREAM_DATA)
def test_kv_encoder_and_decoder_are_inverses(data: StreamData) -> None:
    blob = encode_stream_data(data)
    assert decode_stream_data(blob) == data
    expected = 8 + 4 + sum(35 + len(r.key) for r in data.reads) + 4
    expected += sum(43 + len(w.key) + len(w.value) for w in data.writes) + 4
    expected += sum(
        33 + (20 if c.account is not None else 0) + (3 + len(c.key) if c.key is not None else 0)
        for c in data.controls
    )
    assert len(blob) == expected


@given(_STREAM_DATA, st.integers(min_value=1, max_value=50))
def test_a_truncated_kv_blob_is_refused(data: StreamData, cut: int) -> None:
    blob = encode_stream_data(data)
    with pytest.raises(KvBlobError):
        decode_stream_data(blob[: max(0, len(blob) - cut)])
