"""Parsing and validation of an uploaded `SegmentWithProof`, in the storage node's order.

Pure functions: nothing here touches the store, so each SPEC §3.2 rule (1-6) is unit-testable.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from zerog_client.devnet.storage_node.errors import (
    INVALID_PARAMS,
    RpcError,
    call_error,
    invalid_params,
)
from zerog_client.storage import (
    CHUNK_SIZE,
    SEGMENT_CHUNKS,
    SEGMENT_SIZE,
    InvalidProofError,
    Proof,
    ProofFailure,
    hash_pair,
    padded_chunk_count,
    padded_segment_root,
    verify_proof,
    zero_hash,
)

_SEGMENT_HEIGHT = SEGMENT_CHUNKS.bit_length() - 1


@dataclass(frozen=True)
class Segment:
    """A `SegmentWithProof` as received.

    Attributes:
        root: the file root it claims to belong to.
        data: the segment's bytes.
        index: the local segment index.
        proof: its proof against `root`.
        file_size: the file's size in bytes.
    """

    root: bytes
    data: bytes
    index: int
    proof: Proof
    file_size: int


def bad_params(detail: str) -> RpcError:
    """A parameter that does not deserialize; jsonrpsee reports serde's text in `data`.

    Args:
        detail: what is wrong.
    """
    return RpcError(INVALID_PARAMS, "Invalid params", detail)


def parse_hash(value: Any, what: str = "root") -> bytes:
    """Parse a `0x`-prefixed 32-byte hash.

    Args:
        value: the JSON value.
        what: the parameter's name, for the error.

    Raises:
        RpcError: not a 32-byte hex string.
    """
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise bad_params(f"{what}: expected a 0x-prefixed 32-byte hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise bad_params(f"{what}: invalid hex") from None


def parse_uint(value: Any, what: str) -> int:
    """Parse a JSON number that must be a non-negative integer (u64/usize).

    Args:
        value: the JSON value.
        what: the parameter's name, for the error.

    Raises:
        RpcError: not a non-negative integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise bad_params(f"{what}: expected an unsigned integer")
    return value


def parse_segment(obj: Any) -> Segment:
    """Parse the JSON form of a `SegmentWithProof`.

    Args:
        obj: the JSON value.

    Raises:
        RpcError: a field is missing or has the wrong type (invalid params).
    """
    if not isinstance(obj, dict):
        raise bad_params("segment: expected an object")
    missing = [key for key in ("root", "data", "index", "proof", "fileSize") if key not in obj]
    if missing:
        raise bad_params(f"segment: missing field `{missing[0]}`")
    data_text = obj["data"]
    if not isinstance(data_text, str):
        raise bad_params("data: expected a base64 string")
    try:
        data = base64.b64decode(data_text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_params("data: invalid base64") from None
    proof_obj = obj["proof"]
    if not isinstance(proof_obj, dict):
        raise bad_params("proof: expected an object")
    lemma_obj, path_obj = proof_obj.get("lemma"), proof_obj.get("path")
    if not isinstance(lemma_obj, list) or not isinstance(path_obj, list):
        raise bad_params("proof: expected lemma and path lists")
    if not all(isinstance(step, bool) for step in path_obj):
        raise bad_params("proof: path entries must be booleans")
    lemma = tuple(parse_hash(node, "lemma") for node in lemma_obj)
    return Segment(
        root=parse_hash(obj["root"]),
        data=data,
        index=parse_uint(obj["index"], "index"),
        proof=Proof(lemma, tuple(path_obj)),
        file_size=parse_uint(obj["fileSize"], "fileSize"),
    )


def check_segment_size(data: bytes) -> None:
    """The chunk pool's first check, done before the transaction is looked up (rule 1).

    Raises:
        RpcError: empty data or a partial chunk (plain -32000 errors).
    """
    if not data:
        raise call_error("data is empty")
    if len(data) % CHUNK_SIZE:
        raise call_error("invalid data length")


def segment_count(file_size: int) -> int:
    """Data segments of a file: the ones uploaded.

    Args:
        file_size: bytes, at least 1.
    """
    return -(-file_size // SEGMENT_SIZE)


def proof_segment_count(file_size: int) -> int:
    """Leaves of the file tree: segments of the flow-padded data.

    Args:
        file_size: bytes, at least 1.
    """
    return -(-padded_chunk_count(-(-file_size // CHUNK_SIZE)) // SEGMENT_CHUNKS)


def expected_data_length(file_size: int, index: int) -> int:
    """Bytes that data segment `index` must carry: real data rounded up to a whole chunk.

    Args:
        file_size: bytes, at least 1.
        index: 0 <= index < segment_count(file_size).
    """
    if index < segment_count(file_size) - 1:
        return SEGMENT_SIZE
    tail = file_size - SEGMENT_SIZE * index
    return -(-tail // CHUNK_SIZE) * CHUNK_SIZE


def validate_segment(segment: Segment) -> None:
    """Run the node's `SegmentWithProof.validate` (rules 1-6 of SPEC §3.2), in its order.

    Args:
        segment: the parsed segment.

    Raises:
        RpcError: with the node's code, message and data for the first failing rule.
    """
    if not segment.data:
        raise invalid_params("data", "data bytes should not be empty")
    if len(segment.data) % CHUNK_SIZE:
        raise invalid_params("data", "invalid data length")
    if segment.file_size == 0:
        raise invalid_params("file_size", "file is empty")
    if segment.index >= segment_count(segment.file_size):
        raise invalid_params("index", "index out of bound")
    if len(segment.data) != expected_data_length(segment.file_size, segment.index):
        raise invalid_params("data", "invalid data length")
    _validate_proof(segment)


def _validate_proof(segment: Segment) -> None:
    num_leaves = proof_segment_count(segment.file_size)
    padded_chunks = padded_chunk_count(-(-segment.file_size // CHUNK_SIZE))
    tree_chunks = SEGMENT_CHUNKS
    if segment.index == num_leaves - 1:
        tree_chunks = padded_chunks % SEGMENT_CHUNKS or SEGMENT_CHUNKS
    leaf = padded_segment_root(segment.data, tree_chunks)
    try:
        verify_proof(
            segment.proof, leaf=leaf, root=segment.root, position=segment.index, num_leaves=num_leaves
        )
    except InvalidProofError as exc:
        if exc.failure is ProofFailure.FORMAT:
            raise invalid_params("proof", "invalid proof") from None
        if exc.failure is ProofFailure.POSITION:
            # The node bails with a plain text error for a position mismatch.
            raise call_error(str(exc)) from None
        raise invalid_params("proof", "validation failed") from None
    _check_padding_siblings(segment.proof, num_leaves, segment_count(segment.file_size))


def zero_segments_root(count: int) -> bytes:
    """Root of `count` all-zero full segments, built like every tree (odd node promoted).

    Args:
        count: at least 1.
    """
    if count & (count - 1) == 0:
        return zero_hash(count.bit_length() - 1 + _SEGMENT_HEIGHT)
    left = 1 << (count.bit_length() - 1)
    return hash_pair(zero_segments_root(left), zero_segments_root(count - left))


def _check_padding_siblings(proof: Proof, num_leaves: int, data_segments: int) -> None:
    # A right sibling made only of flow padding is fixed by the file size; checking it stops a
    # client from smuggling data into the padding range under a valid-looking proof.
    position, remaining = 0, num_leaves
    for level in range(len(proof.path) - 1, -1, -1):
        left = (1 << (remaining - 1).bit_length()) // 2
        if proof.path[level]:
            sibling_start, sibling_count = position + left, remaining - left
            if sibling_start >= data_segments and proof.lemma[level + 1] != zero_segments_root(sibling_count):
                raise call_error("invalid proof node value in the padding range")
            remaining = left
        else:
            position += left
            remaining -= left
