"""A real WebSocket client of `zgv-voice/1` for tests: records every event and audio frame in order."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from zgvoice.login import VoiceTickets, origin_of

FRAME_BYTES = 640  # 20 ms at 16 kHz


@dataclass
class Received:
    """An event (dict) or an audio frame (bytes), with its arrival time."""

    at: float
    event: dict[str, Any] | None = None
    audio: bytes | None = None


@dataclass
class VoiceClient:
    ws: ClientConnection
    received: list[Received] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                item = Received(time.perf_counter())
                if isinstance(message, bytes):
                    item.audio = message
                else:
                    item.event = json.loads(message)
                async with self._changed:
                    self.received.append(item)
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            async with self._changed:
                self._changed.notify_all()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.event is not None]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(payload))

    async def send_audio(self, pcm: bytes, speed: float = 1.0) -> float:
        """Stream `pcm` as 20 ms frames, paced at `speed` x real time; returns when the last was sent."""
        started = time.perf_counter()
        for index, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
            due = started + index * 0.02 / speed
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing real-time audio, not waiting for a condition
            await self.ws.send(pcm[offset : offset + FRAME_BYTES])
        return time.perf_counter()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        """The first event (past or future) matching `predicate`."""
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for item in self.received:
                    if item.event is not None and predicate(item.event):
                        return item.event
                if self.closed.is_set():
                    raise AssertionError(f"connection closed before the event came; got {self.events}")
                await self._changed.wait()

    async def wait_type(self, kind: str, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
        return await self.wait_for(
            lambda e: e["type"] == kind and all(e.get(k) == v for k, v in fields.items()), timeout
        )

    def index_of(self, event: dict[str, Any]) -> int:
        return next(i for i, r in enumerate(self.received) if r.event is event)

    def audio_between(self, first: dict[str, Any], last: dict[str, Any] | None = None) -> list[Received]:
        start = self.index_of(first)
        end = self.index_of(last) if last is not None else len(self.received)
        return [r for r in self.received[start:end] if r.audio is not None]


_tickets = VoiceTickets()


async def signed_in_url(url: str) -> str:
    """`url` with a one-time ticket when its gateway asks for sign-in (as the devnet wallet)."""
    return await _tickets.url(url)


@asynccontextmanager
async def voice_client(
    url: str, *, origin: str | None = None, start: dict[str, Any] | None = None, signed_in: bool = True
) -> AsyncIterator[VoiceClient]:
    """Connect (signed in as the devnet wallet when the gateway asks, unless `signed_in` is off), send
    `start` (unless `start` is `{}`), wait for `ready`, and record everything. Without an `origin`,
    a signed-in client sends its gateway's own, as the mic page would."""
    if signed_in:
        url = await signed_in_url(url)
        origin = origin or origin_of(url)
    headers = {"Origin": origin} if origin else None
    async with connect(url, additional_headers=headers, max_size=2**22) as ws:
        client = VoiceClient(ws)
        reader = asyncio.create_task(client._read())
        try:
            if start != {}:
                await client.send_json({"type": "start", **(start or {})})
                await client.wait_type("ready", timeout=10)
            yield client
        finally:
            await ws.close()
            await reader
