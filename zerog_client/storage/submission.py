"""What a file upload puts on chain: the Flow `submit` call and the `Submit` event it emits.

The ABI is the current one (Dec 2025 / Jan 2026): `Submission{SubmissionData data; address
submitter}` with `SubmissionData{uint256 length; bytes tags; SubmissionNode[] nodes}`. The event
still carries the three-field `SubmissionData`. The encoding is written out here because the
shapes are fixed and small; the tests cross-check it against `eth_abi`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from zerog_client.storage.errors import AbiDecodeError, InvalidSubmissionError
from zerog_client.storage.file_tree import FileTree, SubmissionNode
from zerog_client.storage.keccak import keccak256
from zerog_client.storage.layout import CHUNK_SIZE, MAX_TREE_HEIGHT

_SUBMISSION_TYPE = "((uint256,bytes,(bytes32,uint256)[]),address)"
SUBMIT_SELECTOR: bytes = keccak256(f"submit({_SUBMISSION_TYPE})".encode())[:4]
"""`submit(Submission)`, 0xbc8c11f8."""
BATCH_SUBMIT_SELECTOR: bytes = keccak256(f"batchSubmit({_SUBMISSION_TYPE}[])".encode())[:4]
"""`batchSubmit(Submission[])`, 0x49aa3395."""
LEGACY_SUBMIT_SELECTOR: bytes = keccak256(b"submit((uint256,bytes,(bytes32,uint256)[]))")[:4]
"""The pre-2026 `submit(SubmissionData)` without a submitter, 0xef3e12dc; not encoded here."""
SUBMIT_EVENT_TOPIC: bytes = keccak256(
    b"Submit(address,bytes32,uint256,uint256,uint256,(uint256,bytes,(bytes32,uint256)[]))"
)
"""topic0 of `Submit(address indexed sender, bytes32 indexed identity, ...)`."""

_WORD = 32
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_UINT256_LIMIT = 1 << 256


@dataclass(frozen=True)
class SubmissionData:
    """The file part of a submission (also the tuple the `Submit` event carries).

    Attributes:
        length: the file size in bytes.
        tags: opaque bytes outside every root (KV puts stream ids here).
        nodes: the file's submission nodes, largest first.
    """

    length: int
    tags: bytes
    nodes: tuple[SubmissionNode, ...]

    @property
    def sectors(self) -> int:
        """Sectors charged: the sum of 2**height over the nodes."""
        return fee_sectors(self.nodes)


@dataclass(frozen=True)
class Submission:
    """The argument of Flow `submit`.

    Attributes:
        data: the file part.
        submitter: the 0x address the storage is attributed to; the SDKs use the signer's.
    """

    data: SubmissionData
    submitter: str


def build_submission(tree: FileTree, submitter: str, tags: bytes = b"") -> Submission:
    """Build the submission of a file whose tree has been computed.

    Args:
        tree: the file's tree.
        submitter: a 0x-prefixed 20-byte address (normally the signer's).
        tags: opaque tags; the Go client's default is empty.

    Raises:
        InvalidSubmissionError: the submitter is not an address or is the zero address.
    """
    submission = Submission(SubmissionData(tree.layout.size, bytes(tags), tree.nodes), submitter)
    validate_submission(submission)
    return submission


def fee_sectors(nodes: Sequence[SubmissionNode]) -> int:
    """Return the sectors a submission pays for; the fee is this times `Market.pricePerSector()`.

    Args:
        nodes: the submission nodes.
    """
    return sum(1 << node.height for node in nodes)


def submission_root(nodes: Sequence[SubmissionNode]) -> bytes:
    """Fold the node roots from the right, as the storage and KV nodes derive `dataMerkleRoot`.

    Args:
        nodes: at least one node, largest first.

    Raises:
        ValueError: `nodes` is empty.
    """
    if not nodes:
        raise ValueError("a submission has at least one node")
    root = nodes[-1].root
    for node in reversed(nodes[:-1]):
        root = keccak256(node.root + root)
    return root


def identity_digest(nodes: Sequence[SubmissionNode]) -> bytes:
    """Return the `Submit` event's `identity` topic: keccak256 of the node roots concatenated.

    Args:
        nodes: the submission nodes.
    """
    return keccak256(b"".join(node.root for node in nodes))


def validate_submission(submission: Submission) -> None:
    """Apply the Flow contract's checks, so that a bad submission fails before it costs gas.

    Args:
        submission: the submission to check.

    Raises:
        InvalidSubmissionError: the contract would revert with "Invalid submission".
    """
    if not _ADDRESS.fullmatch(submission.submitter):
        raise InvalidSubmissionError("the submitter must be a 0x-prefixed 20-byte address")
    if int(submission.submitter, 16) == 0:
        raise InvalidSubmissionError("the submitter must not be the zero address")
    data = submission.data
    nodes = data.nodes
    if not nodes:
        raise InvalidSubmissionError("a submission needs at least one node")
    heights = [node.height for node in nodes]
    if heights[0] >= MAX_TREE_HEIGHT or heights[-1] < 0:
        raise InvalidSubmissionError(f"node heights must lie in 0..{MAX_TREE_HEIGHT - 1}")
    if any(upper <= lower for upper, lower in zip(heights, heights[1:], strict=False)):
        raise InvalidSubmissionError("node heights must strictly decrease")
    if heights[0] - heights[-1] >= 4:
        raise InvalidSubmissionError("node heights must span fewer than 4 levels")
    if any(len(node.root) != _WORD for node in nodes):
        raise InvalidSubmissionError("a node root is 32 bytes")
    capacity = fee_sectors(nodes)
    if data.length > capacity * CHUNK_SIZE:
        raise InvalidSubmissionError("the length exceeds what the nodes cover")
    if capacity < 16:
        last = capacity - 1
    elif len(nodes) == 1:
        last = capacity - (capacity >> 4)
    else:
        last = capacity - (1 << (heights[0] - 3))
    if data.length <= last * CHUNK_SIZE:
        raise InvalidSubmissionError("the nodes are padded beyond the minimum for this length")


def encode_submit_calldata(submission: Submission) -> bytes:
    """Encode a call of `submit(Submission)` (selector 0xbc8c11f8).

    Args:
        submission: the submission; send it with value = sectors * pricePerSector.
    """
    return SUBMIT_SELECTOR + _uint(_WORD) + _encode_submission(submission)


def encode_batch_submit_calldata(submissions: Sequence[Submission]) -> bytes:
    """Encode a call of `batchSubmit(Submission[])` (selector 0x49aa3395).

    Args:
        submissions: the submissions, in order; one transaction pays for all.
    """
    return (
        BATCH_SUBMIT_SELECTOR
        + _uint(_WORD)
        + _encode_dynamic_array([_encode_submission(s) for s in submissions])
    )


def decode_submit_calldata(calldata: bytes) -> Submission:
    """Decode a call of `submit(Submission)`; what a dev node's Flow does on receipt.

    Args:
        calldata: the transaction input, selector included.

    Raises:
        AbiDecodeError: another selector, or malformed ABI data.
    """
    if calldata[:4] != SUBMIT_SELECTOR:
        raise AbiDecodeError(f"not a submit call: selector 0x{calldata[:4].hex()}")
    reader = _Reader(calldata[4:])
    return _decode_submission(reader, reader.offset(0, 0))


@dataclass(frozen=True)
class SubmitEvent:
    """A Flow `Submit` log.

    Attributes:
        sender: topic1; the current contract emits the submission's submitter.
        identity: topic2, keccak256 of the node roots.
        submission_index: the transaction sequence number (txSeq) in the flow.
        start_pos: the flow sector where the file starts.
        length: sectors the submission occupies (sum of 2**height).
        data: the submission's data.
    """

    sender: str
    identity: bytes
    submission_index: int
    start_pos: int
    length: int
    data: SubmissionData

    @property
    def root(self) -> bytes:
        """The file root (`dataMerkleRoot`) derived from the nodes, as the storage node does."""
        return submission_root(self.data.nodes)


def encode_submit_event(event: SubmitEvent) -> tuple[list[bytes], bytes]:
    """Encode a `Submit` log as (topics, data); what a dev node's Flow emits.

    Args:
        event: the event.
    """
    topics = [SUBMIT_EVENT_TOPIC, _address_word(event.sender), event.identity]
    head = _uint(event.submission_index) + _uint(event.start_pos) + _uint(event.length)
    return topics, head + _uint(4 * _WORD) + _encode_data(event.data)


def decode_submit_event(topics: Sequence[bytes], data: bytes) -> SubmitEvent:
    """Decode a `Submit` log from a receipt.

    Args:
        topics: the log's topics (32 bytes each).
        data: the log's data.

    Raises:
        AbiDecodeError: not a `Submit` log, or malformed data.
    """
    if len(topics) != 3 or topics[0] != SUBMIT_EVENT_TOPIC:
        raise AbiDecodeError("not a Flow Submit log")
    if len(topics[1]) != _WORD or len(topics[2]) != _WORD or any(topics[1][:12]):
        raise AbiDecodeError("malformed Submit topics")
    reader = _Reader(data)
    return SubmitEvent(
        sender="0x" + topics[1][12:].hex(),
        identity=bytes(topics[2]),
        submission_index=reader.word(0),
        start_pos=reader.word(_WORD),
        length=reader.word(2 * _WORD),
        data=_decode_data(reader, reader.offset(0, 3 * _WORD)),
    )


def _uint(value: int) -> bytes:
    if not 0 <= value < _UINT256_LIMIT:
        raise InvalidSubmissionError(f"{value} does not fit a uint256")
    return value.to_bytes(_WORD, "big")


def _address_word(address: str) -> bytes:
    if not _ADDRESS.fullmatch(address):
        raise InvalidSubmissionError("an address is 0x followed by 40 hexadecimal characters")
    return bytes(12) + bytes.fromhex(address[2:])


def _encode_data(data: SubmissionData) -> bytes:
    tags = _uint(len(data.tags)) + data.tags + bytes(-len(data.tags) % _WORD)
    nodes = _uint(len(data.nodes)) + b"".join(node.root + _uint(node.height) for node in data.nodes)
    return _uint(data.length) + _uint(3 * _WORD) + _uint(3 * _WORD + len(tags)) + tags + nodes


def _encode_submission(submission: Submission) -> bytes:
    return _uint(2 * _WORD) + _address_word(submission.submitter) + _encode_data(submission.data)


def _encode_dynamic_array(items: Sequence[bytes]) -> bytes:
    # Offsets of dynamic elements count from the first head, right after the length word.
    heads, tails, offset = [], [], len(items) * _WORD
    for item in items:
        heads.append(_uint(offset))
        tails.append(item)
        offset += len(item)
    return _uint(len(items)) + b"".join(heads) + b"".join(tails)


class _Reader:
    """Bounds-checked reads of 32-byte ABI words."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def word(self, position: int) -> int:
        return int.from_bytes(self.raw(position, _WORD), "big")

    def raw(self, position: int, size: int) -> bytes:
        if position < 0 or position + size > len(self._data):
            raise AbiDecodeError("ABI data is truncated")
        return self._data[position : position + size]

    def offset(self, base: int, position: int) -> int:
        target = base + self.word(base + position)
        if target > len(self._data):
            raise AbiDecodeError("ABI offset points past the data")
        return target


def _decode_data(reader: _Reader, base: int) -> SubmissionData:
    length = reader.word(base)
    tags_at = reader.offset(base, _WORD)
    tags = reader.raw(tags_at + _WORD, reader.word(tags_at))
    nodes_at = reader.offset(base, 2 * _WORD)
    count = reader.word(nodes_at)
    if count > MAX_TREE_HEIGHT:
        raise AbiDecodeError(f"{count} submission nodes cannot be valid")
    nodes = tuple(
        SubmissionNode(
            reader.raw(nodes_at + _WORD + i * 2 * _WORD, _WORD),
            reader.word(nodes_at + _WORD + i * 2 * _WORD + _WORD),
        )
        for i in range(count)
    )
    return SubmissionData(length, tags, nodes)


def _decode_submission(reader: _Reader, base: int) -> Submission:
    address = reader.raw(base + _WORD, _WORD)
    if any(address[:12]):
        raise AbiDecodeError("the submitter word has bits above 160")
    data = _decode_data(reader, reader.offset(base, 0))
    return Submission(data, "0x" + address[12:].hex())
