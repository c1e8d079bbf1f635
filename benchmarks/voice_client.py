"""A measuring client of `zgv-voice/1` (docs/voice-protocol.md): streams clips like a microphone would
and timestamps everything the server sends.

Timing rules, so figures from different runs mean the same thing:
- Audio leaves in 20 ms frames on an absolute schedule (frame i at t0 + i * 20 ms), so a late wake-up
  never stretches the stream and never accumulates.
- The origin of a turn is the moment the last voiced frame of the clip was sent; which frame that is
  is decided once per clip by an energy threshold (benchmarks.pcm), independent of the server's VAD.
- Every server message is stamped with time.perf_counter() when the reader task takes it off the
  socket, and kept in order, so any interval can be computed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from benchmarks.pcm import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, read_wav, to_float, voiced_frames
from zgvoice.login import VoiceTickets, origin_of

_TICKETS = VoiceTickets()

FRAME_BYTES = FRAME_SAMPLES * 2
LEADING_SILENCE_FRAMES = 10  # the clip generator's 200 ms, used as the noise-floor reference
SILENCE_FRAME = bytes(FRAME_BYTES)
AUDIO = "audio"  # the kind of a received binary frame


@dataclass(frozen=True)
class Clip:
    """One manifest entry with its audio cut into 20 ms frames."""

    file: str
    text: str
    kind: str
    engine: str
    noise: str | None
    frames: tuple[bytes, ...]
    voiced: tuple[bool, ...]

    @property
    def last_voiced(self) -> int:
        """Index of the last voiced frame (-1 if the energy threshold found none)."""
        return max((i for i, v in enumerate(self.voiced) if v), default=-1)

    def frame_reaching(self, voiced_ms: int) -> int:
        """Index of the frame after which `voiced_ms` of voiced audio has been sent (-1 if never)."""
        needed = max(1, math.ceil(voiced_ms / FRAME_MS))
        count = 0
        for i, is_voiced in enumerate(self.voiced):
            count += is_voiced
            if count >= needed:
                return i
        return -1


def load_clips(directory: Path) -> list[Clip]:
    """The clips of `directory`/manifest.json in manifest order.

    The WAVs must be 16 kHz mono PCM16 and start with 200 ms without speech, as make_clips writes
    them: those frames are the noise floor of the end-of-speech threshold.
    """
    entries = json.loads((directory / "manifest.json").read_text())
    if not isinstance(entries, list):
        raise ValueError(f"{directory}/manifest.json must be a list")
    clips = []
    for entry in entries:
        samples, rate = read_wav(directory / entry["file"])
        if rate != SAMPLE_RATE:
            raise ValueError(f"{entry['file']}: {rate} Hz, the protocol needs {SAMPLE_RATE}")
        n_frames = -(-samples.size // FRAME_SAMPLES)
        padded = np.zeros(n_frames * FRAME_SAMPLES, dtype="<i2")
        padded[: samples.size] = samples
        pcm = padded.tobytes()
        mask = voiced_frames(to_float(padded), FRAME_SAMPLES, LEADING_SILENCE_FRAMES)
        if not mask.any():
            raise ValueError(f"{entry['file']}: no voiced frame; is it silent?")
        clips.append(
            Clip(
                file=str(entry["file"]),
                text=str(entry["text"]),
                kind=str(entry.get("kind", "question")),
                engine=str(entry.get("engine", "")),
                noise=entry.get("noise"),
                frames=tuple(pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)),
                voiced=tuple(bool(v) for v in mask),
            )
        )
    return clips


@dataclass(frozen=True)
class Received:
    """One server message: when it arrived, its `type` (or AUDIO), the JSON body, the audio size."""

    at: float
    kind: str
    body: dict[str, Any]
    nbytes: int = 0


class Inbox:
    """Everything the server sent, in order, with a way to wait for a condition on it."""

    def __init__(self) -> None:
        self.items: list[Received] = []
        self.closed = False
        self._changed = asyncio.Condition()

    async def push(self, item: Received) -> None:
        async with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    async def close(self) -> None:
        async with self._changed:
            self.closed = True
            self._changed.notify_all()

    def find(self, since: int, predicate: Callable[[Received], bool]) -> Received | None:
        """The first message at index >= `since` that satisfies `predicate`."""
        return next((item for item in self.items[since:] if predicate(item)), None)

    async def wait(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until `condition()` holds or the socket closes; False on timeout or close."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: condition() or self.closed), max(timeout_s, 0.0)
                )
            except TimeoutError:
                return False
            return condition()


def is_event(kind: str, **fields: Any) -> Callable[[Received], bool]:
    """A predicate on message type and exact field values."""
    return lambda item: item.kind == kind and all(item.body.get(k) == v for k, v in fields.items())


class VoiceSession:
    """One WebSocket session: a reader task fills the inbox while the caller streams audio."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.inbox = Inbox()
        self.ready: dict[str, Any] = {}
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stack = contextlib.AsyncExitStack()
        self._next_send_at = 0.0

    async def __aenter__(self) -> VoiceSession:
        try:
            # No compression: PCM barely compresses and deflate would add CPU time to every frame.
            # No proxy from the environment: the server is on this machine.
            # Signed in (the devnet wallet) when the gateway asks: a ticket per session, fetched
            # before the socket opens, so it is in no turn's timing.
            url = await _TICKETS.url(self.url)
            self._ws = await self._stack.enter_async_context(
                connect(
                    url,
                    origin=Origin(origin_of(self.url)),
                    compression=None,
                    proxy=None,
                    open_timeout=10,
                    close_timeout=5,
                    max_size=2**22,
                )
            )
            self._reader = asyncio.create_task(self._read())
            await self._ws.send(json.dumps({"type": "start", "protocol": "zgv-voice/1"}))
            await self.inbox.wait(lambda: self.inbox.find(0, is_event("ready")) is not None, 30)
            ready = self.inbox.find(0, is_event("ready"))
            if ready is None:
                error = self.inbox.find(0, is_event("error"))
                raise RuntimeError(f"no `ready` from the server: {error.body if error else 'timeout'}")
        except BaseException:
            await self._close()
            raise
        self.ready = ready.body
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._ws is not None:
                with contextlib.suppress(ConnectionClosed):
                    await self._ws.send(json.dumps({"type": "stop"}))
                    await self.inbox.wait(lambda: self.inbox.find(0, is_event("stopped")) is not None, 5)
        finally:
            await self._close()

    async def _close(self) -> None:
        try:
            await self._stack.aclose()
        finally:
            if self._reader is not None:
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                now = time.perf_counter()
                if isinstance(message, bytes):
                    await self.inbox.push(Received(now, AUDIO, {}, len(message)))
                else:
                    body = json.loads(message)
                    await self.inbox.push(Received(now, str(body.get("type")), body))
        except ConnectionClosed:
            pass
        finally:
            await self.inbox.close()

    @property
    def output_rate(self) -> int:
        return int(self.ready.get("output", {}).get("sample_rate", 22050))

    async def send_json(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send(json.dumps(message))

    def restart_clock(self) -> None:
        """Start a new stream: the next frame leaves now. Within a stream frames keep their slots."""
        self._next_send_at = time.perf_counter()

    async def send_frame(self, frame: bytes) -> float:
        """Send one frame at its slot on the schedule; returns when it was handed to the socket."""
        assert self._ws is not None
        delay = self._next_send_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing to the real-time schedule, not waiting for a condition
        await self._ws.send(frame)
        sent_at = time.perf_counter()
        self._next_send_at += FRAME_MS / 1000
        return sent_at


def silence(seconds: float) -> Iterator[bytes]:
    """Zero frames lasting `seconds`."""
    for _ in range(round(seconds * 1000 / FRAME_MS)):
        yield SILENCE_FRAME


@dataclass
class TurnResult:
    """What one spoken question produced; None where the server never sent the message."""

    clip: str
    reference: str
    engine: str
    noisy: bool
    transcript: str | None = None
    voice_to_voice_ms: float | None = None
    final_transcript_ms: float | None = None
    server_latency_ms: dict[str, float] = field(default_factory=dict)
    finals: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = False


def _turn_settled(inbox: Inbox, since: int) -> bool:
    """Every utterance the server heard since `since` has ended and been answered (metrics) or failed.

    Failures (`no_speech`, an STT error) carry no turn id, so they are counted against the turns
    that ended without metrics.
    """
    items = inbox.items[since:]
    started = sum(i.kind == "user_speech_started" for i in items)
    ended = {i.body.get("turn_id") for i in items if i.kind == "user_speech_stopped"}
    answered = {i.body.get("turn_id") for i in items if i.kind == "metrics"}
    failed = sum(i.kind == "error" for i in items)
    return bool(ended) and started == len(ended) and len(ended - answered) <= failed


async def speak_question(
    session: VoiceSession, clip: Clip, trailing_s: float, settle_timeout_s: float
) -> TurnResult:
    """Stream `clip` and its trailing silence in real time, then wait until the turn is over."""
    result = TurnResult(clip.file, clip.text, clip.engine, clip.noise is not None)
    inbox = session.inbox
    mark = len(inbox.items)
    session.restart_clock()
    origin = 0.0
    for index, frame in enumerate(clip.frames):
        sent_at = await session.send_frame(frame)
        if index == clip.last_voiced:
            origin = sent_at
    for frame in silence(trailing_s):
        await session.send_frame(frame)
    result.complete = await inbox.wait(lambda: _turn_settled(inbox, mark), settle_timeout_s)
    _fill_turn(result, inbox, mark, origin)
    return result


def _fill_turn(result: TurnResult, inbox: Inbox, mark: int, origin: float) -> None:
    items = inbox.items[mark:]
    finals = [i for i in items if i.kind == "transcript" and i.body.get("final")]
    result.finals = len(finals)
    # An utterance the server split in two is judged as the whole of what it heard.
    result.transcript = " ".join(str(i.body.get("text", "")) for i in finals).strip() if finals else None
    first_final = next((i for i in finals if i.at >= origin), None)
    if first_final is not None:
        result.final_transcript_ms = (first_final.at - origin) * 1000
    first_audio = next((i for i in items if i.kind == AUDIO and i.at >= origin), None)
    if first_audio is not None:
        result.voice_to_voice_ms = (first_audio.at - origin) * 1000
    turn_id = first_final.body.get("turn_id") if first_final is not None else None
    metrics = next((i for i in items if i.kind == "metrics" and i.body.get("turn_id") == turn_id), None)
    if metrics is not None:
        result.server_latency_ms = {
            str(k): float(v) for k, v in metrics.body.get("latency_ms", {}).items() if v is not None
        }
    result.errors = [i.body for i in items if i.kind == "error"]


@dataclass
class BargeInResult:
    """One interruption: how fast the bot went quiet after the user had said enough to interrupt."""

    question: str
    barge_in: str
    stop_ms: float | None = None
    reason: str | None = None
    audio_after_stop: int = 0
    transcript: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


async def barge_in(
    session: VoiceSession,
    question: Clip,
    interruption: Clip,
    min_speech_ms: int,
    trailing_s: float,
    max_wait_s: float,
    settle_timeout_s: float,
) -> BargeInResult:
    """Ask `question`; the moment the bot starts speaking, talk over it with `interruption`.

    The stream never pauses (a microphone does not): silence frames fill the wait for the reply.
    """
    result = BargeInResult(question.file, interruption.file)
    inbox = session.inbox
    mark = len(inbox.items)
    session.restart_clock()
    for frame in question.frames:
        await session.send_frame(frame)
    started = is_event("bot_speech_started")
    for frame in silence(max_wait_s):
        if inbox.find(mark, started) is not None:
            break
        await session.send_frame(frame)
    speaking_since = inbox.find(mark, started)
    if speaking_since is None:
        result.errors = [i.body for i in inbox.items[mark:] if i.kind == "error"]
        result.reason = "no_reply"
        return result
    stopped = is_event("bot_speech_stopped", turn_id=speaking_since.body.get("turn_id"))
    threshold_frame = interruption.frame_reaching(min_speech_ms)
    threshold_at: float | None = None
    barge_mark = len(inbox.items)
    reported = False
    trailing = silence(trailing_s)
    for index, frame in enumerate((*interruption.frames, *trailing)):
        sent_at = await session.send_frame(frame)
        if index == threshold_frame:
            threshold_at = sent_at
        stop = inbox.find(mark, stopped)
        if stop is not None and not reported:
            reported = True
            if stop.body.get("reason") == "barge_in":
                await _report_played(session, speaking_since, stop)
    await inbox.wait(lambda: _turn_settled(inbox, barge_mark), settle_timeout_s)
    stop = inbox.find(mark, stopped)
    if stop is not None and not reported and stop.body.get("reason") == "barge_in":
        await _report_played(session, speaking_since, stop)
    if stop is not None:
        result.reason = str(stop.body.get("reason"))
        if result.reason == "barge_in" and threshold_at is not None:
            result.stop_ms = (stop.at - threshold_at) * 1000
        # Audio of the interrupted reply that still came after the stop; the next reply does not count.
        for item in inbox.items[inbox.items.index(stop) + 1 :]:
            if item.kind == "bot_speech_started":
                break
            result.audio_after_stop += item.kind == AUDIO
    finals = [i for i in inbox.items[barge_mark:] if i.kind == "transcript" and i.body.get("final")]
    result.transcript = " ".join(str(i.body.get("text", "")) for i in finals).strip() or None
    result.errors = [i.body for i in inbox.items[mark:] if i.kind == "error"]
    return result


async def _report_played(session: VoiceSession, started: Received, stop: Received) -> None:
    """Tell the server how much it was heard, as the protocol asks a client to after a barge-in."""
    inbox = session.inbox
    begin, end = inbox.items.index(started), inbox.items.index(stop)
    received_ms = sum(i.nbytes for i in inbox.items[begin:end] if i.kind == AUDIO) / 2 / session.output_rate
    played_ms = min(received_ms * 1000, (stop.at - started.at) * 1000)
    with contextlib.suppress(ConnectionClosed):
        await session.send_json({"type": "interrupt", "played_ms": max(0, round(played_ms))})
