"""Streams a reply's audio sentence by sentence, paced a little ahead of real time.

Synthesis of sentence N+1 overlaps the sending of sentence N. Pacing keeps at most `lead_ms` of audio
in flight, so a barge-in has little to flush and the server knows roughly what has been played.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from voice_gateway.audio import AudioClip
from voice_gateway.tts import TextToSpeech
from voice_gateway.voice.heard import SpokenSentence


@dataclass(slots=True)
class Playback:
    """What has been sent of one reply, and when its first audio left."""

    sentences: list[SpokenSentence] = field(default_factory=list)
    started_at: float | None = None
    sent_ms: float = 0.0

    def played_ms(self, now: float) -> float:
        """Estimated audio played by `now`: wall time since the first frame, capped by what was sent."""
        if self.started_at is None:
            return 0.0
        return min(self.sent_ms, (now - self.started_at) * 1000.0)

    def remaining_s(self, now: float) -> float:
        """Estimated seconds until the client has played everything sent."""
        return (
            max(0.0, self.sent_ms / 1000.0 - (now - self.started_at)) if self.started_at is not None else 0.0
        )


SendAudio = Callable[[bytes], Awaitable[None]]


async def speak(
    tts: TextToSpeech,
    sentences: list[str],
    send_audio: SendAudio,
    playback: Playback,
    *,
    chunk_ms: int,
    lead_ms: int,
    on_first_audio: Callable[[], Awaitable[None]],
) -> None:
    """Synthesize and send `sentences`; returns once everything is sent (not yet played).

    Cancellation (barge-in) stops it between chunks; the pending synthesis is cancelled too.
    """
    if not sentences:
        return
    next_clip: asyncio.Task[AudioClip] = asyncio.ensure_future(tts.synthesize(sentences[0]))
    try:
        for index, text in enumerate(sentences):
            clip = await next_clip
            if index + 1 < len(sentences):
                next_clip = asyncio.ensure_future(tts.synthesize(sentences[index + 1]))
            playback.sentences.append(SpokenSentence(text, clip.duration_s * 1000.0))
            await _send_clip(clip, send_audio, playback, chunk_ms, lead_ms, on_first_audio)
    finally:
        if not next_clip.done():
            next_clip.cancel()


async def _send_clip(
    clip: AudioClip,
    send_audio: SendAudio,
    playback: Playback,
    chunk_ms: int,
    lead_ms: int,
    on_first_audio: Callable[[], Awaitable[None]],
) -> None:
    chunk_bytes = max(2, int(clip.sample_rate * chunk_ms / 1000) * 2)
    for offset in range(0, len(clip.pcm), chunk_bytes):
        chunk = clip.pcm[offset : offset + chunk_bytes]
        if playback.started_at is None:
            await on_first_audio()
            playback.started_at = time.perf_counter()
        ahead_ms = playback.sent_ms - (time.perf_counter() - playback.started_at) * 1000.0
        if ahead_ms > lead_ms:
            await asyncio.sleep((ahead_ms - lead_ms) / 1000.0)  # pacing, not waiting for a condition
        await send_audio(chunk)
        playback.sent_ms += len(chunk) / 2 / clip.sample_rate * 1000.0
