"""A file's storage tree, computed by streaming: segment roots, file root, submission nodes, proofs.

The file is read one segment (256 KiB) at a time, so memory stays bounded by one segment plus
32 bytes per segment root, whatever the file size.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from zerog_client.storage.errors import FileChangedError, InvalidSegmentError
from zerog_client.storage.layout import CHUNK_SIZE, SEGMENT_CHUNKS, FileLayout
from zerog_client.storage.merkle import (
    EMPTY_CHUNK_HASH,
    MerkleTree,
    Proof,
    hash_chunks,
    tree_root,
    verify_proof,
    zero_hash,
)

_SEGMENT_HEIGHT = SEGMENT_CHUNKS.bit_length() - 1


@dataclass(frozen=True)
class SubmissionNode:
    """One power-of-two node of a submission.

    Attributes:
        root: the root of the tree over the node's chunks.
        height: log2 of the node's chunk count.
    """

    root: bytes
    height: int

    @property
    def chunks(self) -> int:
        """Chunks (sectors) the node covers."""
        return 1 << self.height


@dataclass(frozen=True)
class FileTree:
    """The Merkle structure of one file.

    Attributes:
        layout: the file's geometry.
        segment_tree: the tree whose leaves are the padded segments' roots.
        nodes: the submission nodes, largest first.
    """

    layout: FileLayout
    segment_tree: MerkleTree
    nodes: tuple[SubmissionNode, ...]

    @property
    def root(self) -> bytes:
        """The file root (`dataMerkleRoot`)."""
        return self.segment_tree.root

    @property
    def segment_roots(self) -> Sequence[bytes]:
        """The root of every padded segment, pure padding segments included."""
        return self.segment_tree.leaves

    def proof_at(self, segment_index: int) -> Proof:
        """Return the proof of segment `segment_index` against the file root.

        Args:
            segment_index: 0 <= index < layout.num_padded_segments.
        """
        return self.segment_tree.proof_at(segment_index)

    @classmethod
    def from_stream(cls, stream: BinaryIO, size: int) -> FileTree:
        """Compute the tree of the next `size` bytes of `stream`, one segment at a time.

        Args:
            stream: a binary stream positioned at the file's first byte.
            size: bytes to read.

        Raises:
            EmptyFileError: `size` is 0.
            FileChangedError: the stream ended before `size` bytes.
        """
        layout = FileLayout.for_size(size)
        segment_roots: list[bytes] = []
        tail_leaves: list[bytes] = []
        for index in range(layout.num_padded_segments):
            tree_chunks = layout.segment_tree_chunks(index)
            if index < layout.num_segments:
                start, end = layout.segment_byte_range(index)
                leaves = hash_chunks(_read_exact(stream, end - start))
                leaves.extend([EMPTY_CHUNK_HASH] * (tree_chunks - len(leaves)))
                segment_roots.append(tree_root(leaves))
            else:
                # Pure flow padding exists only when padding is a multiple of whole segments.
                leaves = []
                segment_roots.append(_zero_root(tree_chunks))
            if index == layout.num_padded_segments - 1:
                tail_leaves = leaves or [EMPTY_CHUNK_HASH] * tree_chunks
        nodes = _submission_nodes(layout, segment_roots, tail_leaves)
        return cls(layout, MerkleTree(segment_roots), nodes)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> FileTree:
        """Compute the tree of a file on disk without loading it into memory.

        Args:
            path: the file.

        Raises:
            EmptyFileError: the file is empty.
            FileChangedError: the file changed size while it was read.
        """
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            tree = cls.from_stream(stream, size)
            if os.fstat(stream.fileno()).st_size != size:
                raise FileChangedError(f"{os.fspath(path)} changed size while its root was computed")
        return tree

    @classmethod
    def from_bytes(cls, data: bytes) -> FileTree:
        """Compute the tree of data held in memory.

        Args:
            data: the whole file.

        Raises:
            EmptyFileError: `data` is empty.
        """
        return cls.from_stream(io.BytesIO(data), len(data))


def _read_exact(stream: BinaryIO, count: int) -> bytes:
    data = stream.read(count)
    if len(data) == count:
        return data
    # Pipes and sockets may return short reads before the end.
    parts = [data]
    missing = count - len(data)
    while missing > 0:
        more = stream.read(missing)
        if not more:
            raise FileChangedError(f"the data ended {missing} bytes before its announced size")
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def _zero_root(chunks: int) -> bytes:
    if chunks == SEGMENT_CHUNKS:
        return zero_hash(_SEGMENT_HEIGHT)
    return tree_root([EMPTY_CHUNK_HASH] * chunks)


def _submission_nodes(
    layout: FileLayout, segment_roots: Sequence[bytes], tail_leaves: Sequence[bytes]
) -> tuple[SubmissionNode, ...]:
    nodes: list[SubmissionNode] = []
    offset = 0
    tail_start = (layout.num_padded_segments - 1) * SEGMENT_CHUNKS
    for size in layout.node_sizes():
        if size >= SEGMENT_CHUNKS:
            # Larger nodes come first, so this one starts on a segment boundary.
            first = offset // SEGMENT_CHUNKS
            root = tree_root(segment_roots[first : first + size // SEGMENT_CHUNKS])
        else:
            # Nodes below a segment add up to less than one, so they all lie in the last segment.
            local = offset - tail_start
            root = tree_root(tail_leaves[local : local + size])
        nodes.append(SubmissionNode(root, size.bit_length() - 1))
        offset += size
    return tuple(nodes)


def read_segment(stream: BinaryIO, layout: FileLayout, index: int) -> bytes:
    """Read the payload of data segment `index`: its real chunks, the last one zero-filled.

    This is what `zgs_uploadSegment*` sends and `zgs_downloadSegmentWithProof` returns.

    Args:
        stream: a seekable binary stream of the file, at any position.
        layout: the file's layout.
        index: 0 <= index < layout.num_segments.

    Raises:
        IndexError: `index` is not a data segment.
        FileChangedError: the file is shorter than the layout says.
    """
    start, end = layout.segment_byte_range(index)
    stream.seek(start)
    data = _read_exact(stream, end - start)
    return data + bytes(layout.segment_payload_size(index) - len(data))


def padded_segment_root(payload: bytes, tree_chunks: int) -> bytes:
    """Return a segment's root, extending its payload with zero chunks to `tree_chunks` leaves.

    Args:
        payload: the segment's bytes, a multiple of 256 long (as uploaded or downloaded).
        tree_chunks: the leaves of that segment's tree (`FileLayout.segment_tree_chunks`).

    Raises:
        InvalidSegmentError: the payload is empty, not whole chunks, or longer than the tree.
    """
    if not payload or len(payload) % CHUNK_SIZE:
        raise InvalidSegmentError("data", "invalid data length")
    leaves = hash_chunks(payload)
    if len(leaves) > tree_chunks:
        raise InvalidSegmentError("data", "invalid data length")
    leaves.extend([EMPTY_CHUNK_HASH] * (tree_chunks - len(leaves)))
    return tree_root(leaves)


def verify_segment(payload: bytes, proof: Proof, *, root: bytes, index: int, layout: FileLayout) -> None:
    """Check a downloaded (or to-be-uploaded) segment against the file root.

    Args:
        payload: the segment's bytes.
        proof: its proof against the file root.
        root: the trusted file root.
        index: the segment's local index.
        layout: the file's layout (from its size).

    Raises:
        InvalidSegmentError: the index or the payload length does not fit the file.
        InvalidProofError: the proof does not show this payload at this index under `root`.
    """
    if not 0 <= index < layout.num_segments:
        raise InvalidSegmentError("index", "index out of bound")
    if len(payload) != layout.segment_payload_size(index):
        raise InvalidSegmentError("data", "invalid data length")
    leaf = padded_segment_root(payload, layout.segment_tree_chunks(index))
    verify_proof(proof, leaf=leaf, root=root, position=index, num_leaves=layout.num_padded_segments)
