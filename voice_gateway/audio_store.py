"""Spoken replies of whole-file queries, kept for a while under an unguessable id (`GET /v1/audio/{id}`)."""

from __future__ import annotations

import io
import secrets
import time
import wave
from collections import OrderedDict
from collections.abc import Callable

from voice_gateway.audio import AudioClip


class AudioStore:
    """An in-memory store bounded by entries and age; ids are 128-bit random tokens."""

    def __init__(self, max_entries: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_entries
        self._ttl = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def put(self, clip: AudioClip) -> str:
        """Store `clip` as a WAV file; return its id."""
        self._expire()
        audio_id = secrets.token_urlsafe(16)
        self._items[audio_id] = (self._clock() + self._ttl, _wav_bytes(clip))
        while len(self._items) > self._max:
            self._items.popitem(last=False)
        return audio_id

    def get(self, audio_id: str) -> bytes | None:
        """The WAV bytes, or None when unknown or expired."""
        self._expire()
        entry = self._items.get(audio_id)
        return entry[1] if entry is not None else None

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, (expires, _) in self._items.items() if expires <= now]:
            del self._items[key]


def _wav_bytes(clip: AudioClip) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(clip.sample_rate)
        out.writeframes(clip.pcm)
    return buffer.getvalue()
