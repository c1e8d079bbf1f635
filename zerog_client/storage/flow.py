"""Where the Flow contract places each submission (`startPos`), replayed off chain.

A dev node that emulates Flow needs this to emit `Submit` logs; a client can use it to predict
which global flow segments, and so which shards, a file lands on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zerog_client.storage.errors import InvalidSubmissionError
from zerog_client.storage.layout import SEGMENT_CHUNKS


def next_align(length: int, height: int) -> int:
    """Round `length` up to a multiple of 2**height (0 stays 0).

    Args:
        length: a flow length in sectors.
        height: the alignment, as a power of two.
    """
    if length == 0:
        return 0
    return (((length - 1) >> height) + 1) << height


@dataclass(frozen=True)
class FlowPlacement:
    """Where one submission went.

    Attributes:
        submission_index: its txSeq (0, 1, 2, ... on a fresh flow).
        start_pos: the sector of its first node (`Submit.startPos`).
        length: sectors it occupies (`Submit.length`, the sum of 2**height).
        padding: sectors skipped before it, charged to the padding part of the fee.
        flow_length_after: the flow length once it is appended.
    """

    submission_index: int
    start_pos: int
    length: int
    padding: int
    flow_length_after: int

    @property
    def segment_range(self) -> tuple[int, int]:
        """First and last global flow segment the submission occupies (inclusive)."""
        return self.start_pos // SEGMENT_CHUNKS, (self.start_pos + self.length - 1) // SEGMENT_CHUNKS


class FlowSimulator:
    """The Flow contract's placement rules (`FlowTreeLib`) over a flow that starts empty."""

    def __init__(self, flow_length: int = 1, next_submission_index: int = 0) -> None:
        """Start from a given state.

        Args:
            flow_length: sectors already in the flow; a fresh flow holds one identifier sector.
            next_submission_index: the txSeq the next submission gets.
        """
        self._length = flow_length
        self._next_index = next_submission_index

    @property
    def flow_length(self) -> int:
        """Sectors in the flow so far."""
        return self._length

    def submit(self, heights: Sequence[int]) -> FlowPlacement:
        """Append a submission and return where it was placed.

        Args:
            heights: the submission's node heights, largest first.

        Raises:
            InvalidSubmissionError: no nodes, or heights not strictly decreasing.
        """
        if not heights:
            raise InvalidSubmissionError("a submission needs at least one node")
        if any(upper <= lower for upper, lower in zip(heights, heights[1:], strict=False)):
            raise InvalidSubmissionError("node heights must strictly decrease")
        previous = self._length
        length = self._length
        start = next_align(length, heights[0])
        size = sum(1 << height for height in heights)
        if start % SEGMENT_CHUNKS and start // SEGMENT_CHUNKS != (start + size - 1) // SEGMENT_CHUNKS:
            # A submission never straddles a segment boundary unless it starts on one.
            length = start + SEGMENT_CHUNKS - start % SEGMENT_CHUNKS
        start_pos = -1
        for height in heights:
            position = next_align(length, height)
            if start_pos < 0:
                start_pos = position
            length = position + (1 << height)
        self._length = length
        placement = FlowPlacement(
            submission_index=self._next_index,
            start_pos=start_pos,
            length=length - start_pos,
            padding=start_pos - previous,
            flow_length_after=length,
        )
        self._next_index += 1
        return placement
