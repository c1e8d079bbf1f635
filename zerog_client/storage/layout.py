"""How a file of n bytes maps onto chunks, flow padding, segments and submission nodes.

Pure arithmetic, no hashing: everything here follows from the file size alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from zerog_client.storage.errors import EmptyFileError

CHUNK_SIZE = 256
"""Bytes in a chunk (a sector, an entry): the leaf of every tree."""

SEGMENT_CHUNKS = 1024
"""Chunks in a segment, the unit of upload, download and sharding."""

SEGMENT_SIZE = CHUNK_SIZE * SEGMENT_CHUNKS
"""Bytes in a full segment (256 KiB)."""

MAX_TREE_HEIGHT = 64
"""The Flow contract rejects a submission whose first node is this high or higher."""


def next_pow2(value: int) -> int:
    """Return the smallest power of two that is at least `value` (1 for 0 and 1).

    Args:
        value: a non-negative integer.
    """
    return 1 if value <= 1 else 1 << (value - 1).bit_length()


def padded_chunk_count(num_chunks: int) -> int:
    """Apply flow padding: the chunk count the file occupies in the flow.

    Padding up to a multiple of a sixteenth of the next power of two keeps every submission at most
    four power-of-two nodes whose heights span fewer than four levels.

    Args:
        num_chunks: the file's chunks, at least 1.
    """
    p2 = next_pow2(num_chunks)
    if p2 == num_chunks:
        return p2
    min_chunk = p2 // 16 if p2 >= 16 else 1
    return -(-num_chunks // min_chunk) * min_chunk


def split_node_sizes(padded_chunks: int) -> list[int]:
    """Decompose the padded chunk count into the submission's power-of-two nodes, largest first.

    Args:
        padded_chunks: the output of `padded_chunk_count`.

    Returns:
        The chunk count of each node, in order; node `i` starts where node `i-1` ends.
    """
    sizes: list[int] = []
    remaining = padded_chunks
    size = next_pow2(padded_chunks)
    while remaining > 0:
        if remaining >= size:
            sizes.append(size)
            remaining -= size
        size //= 2
    return sizes


@dataclass(frozen=True)
class FileLayout:
    """The geometry of one file in 0G storage.

    Attributes:
        size: the file's length in bytes (at least 1).
        num_chunks: chunks holding real data; the last one is zero-filled.
        padded_chunks: chunks after flow padding; also the sectors the submission pays for.
        num_segments: segments holding real data, the ones uploaded (local indexes 0..n-1).
        num_padded_segments: leaves of the file tree; the extra ones are pure flow padding.
    """

    size: int
    num_chunks: int
    padded_chunks: int
    num_segments: int
    num_padded_segments: int

    @classmethod
    def for_size(cls, size: int) -> FileLayout:
        """Compute the layout of a file of `size` bytes.

        Args:
            size: the file length in bytes.

        Raises:
            EmptyFileError: `size` is 0 (or negative); 0G storage cannot hold an empty file.
        """
        if size <= 0:
            raise EmptyFileError("data is empty: 0G storage cannot store a zero-byte file")
        num_chunks = (size - 1) // CHUNK_SIZE + 1
        padded = padded_chunk_count(num_chunks)
        return cls(
            size=size,
            num_chunks=num_chunks,
            padded_chunks=padded,
            num_segments=-(-num_chunks // SEGMENT_CHUNKS),
            num_padded_segments=-(-padded // SEGMENT_CHUNKS),
        )

    @property
    def next_pow2_chunks(self) -> int:
        """The chunk count rounded up to a power of two."""
        return next_pow2(self.num_chunks)

    @property
    def padded_size(self) -> int:
        """Bytes of the zero-extended data the trees are computed over."""
        return self.padded_chunks * CHUNK_SIZE

    def node_sizes(self) -> list[int]:
        """The chunk count of each submission node, largest first."""
        return split_node_sizes(self.padded_chunks)

    def node_heights(self) -> list[int]:
        """The height (log2 of the chunk count) of each submission node."""
        return [size.bit_length() - 1 for size in self.node_sizes()]

    def segment_tree_chunks(self, index: int) -> int:
        """Leaves of padded segment `index`'s tree: 1024, except for the last padded segment.

        Args:
            index: 0 <= index < num_padded_segments.
        """
        self._check_padded_index(index)
        if index < self.num_padded_segments - 1:
            return SEGMENT_CHUNKS
        return self.padded_chunks - SEGMENT_CHUNKS * (self.num_padded_segments - 1)

    def segment_data_chunks(self, index: int) -> int:
        """Chunks of real data in padded segment `index` (0 for a pure padding segment).

        Args:
            index: 0 <= index < num_padded_segments.
        """
        self._check_padded_index(index)
        return max(0, min(SEGMENT_CHUNKS, self.num_chunks - index * SEGMENT_CHUNKS))

    def segment_byte_range(self, index: int) -> tuple[int, int]:
        """The file bytes `[start, end)` that data segment `index` carries.

        Args:
            index: 0 <= index < num_segments.
        """
        if not 0 <= index < self.num_segments:
            raise IndexError(f"segment {index} is outside 0..{self.num_segments - 1}")
        start = index * SEGMENT_SIZE
        return start, min(start + SEGMENT_SIZE, self.size)

    def segment_payload_size(self, index: int) -> int:
        """Bytes sent for data segment `index`: its real chunks, the last one zero-filled.

        Args:
            index: 0 <= index < num_segments.
        """
        if not 0 <= index < self.num_segments:
            raise IndexError(f"segment {index} is outside 0..{self.num_segments - 1}")
        return self.segment_data_chunks(index) * CHUNK_SIZE

    def _check_padded_index(self, index: int) -> None:
        if not 0 <= index < self.num_padded_segments:
            raise IndexError(f"segment {index} is outside 0..{self.num_padded_segments - 1}")
