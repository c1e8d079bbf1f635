"""The per-session send queue: bounded, and able to drop queued reply audio at once on barge-in."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AudioOut:
    """Reply audio of one turn."""

    turn_id: str
    pcm: bytes


@dataclass(frozen=True, slots=True)
class CloseOut:
    """Close the socket once everything queued before this has been sent."""

    code: int
    reason: str


Outgoing = dict[str, Any] | AudioOut | CloseOut


class OutboxFull(Exception):
    """The client has not taken messages for longer than the send timeout."""


class Outbox:
    """A bounded FIFO of events and audio, drained by the session's writer."""

    def __init__(self, max_items: int) -> None:
        self._items: deque[Outgoing] = deque()
        self._max = max_items
        self._changed = asyncio.Condition()

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: Outgoing, timeout_s: float) -> None:
        """Queue `item`, waiting up to `timeout_s` for room.

        Raises:
            OutboxFull: no room in time (the client is not reading).
        """
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(self._items) < self._max), timeout_s
                )
            except TimeoutError as exc:
                raise OutboxFull("the client is not reading") from exc
            self._items.append(item)
            self._changed.notify_all()

    async def get(self) -> Outgoing:
        """The oldest item, waiting for one."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items))
            item = self._items.popleft()
            self._changed.notify_all()
            return item

    async def drop_audio(self, turn_id: str) -> int:
        """Remove queued audio of `turn_id`; returns how many frames were dropped."""
        async with self._changed:
            kept = deque(i for i in self._items if not (isinstance(i, AudioOut) and i.turn_id == turn_id))
            dropped = len(self._items) - len(kept)
            self._items = kept
            self._changed.notify_all()
            return dropped
