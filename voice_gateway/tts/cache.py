"""An LRU + TTL cache of synthesized audio, keyed by text, voice and format."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

from voice_gateway.audio import AudioClip
from voice_gateway.tts.base import TextToSpeech

CacheKey = tuple[str, str, int]


class AudioCache:
    """Bounded by entry count; entries older than `ttl_s` are misses. Not thread-safe: use on one loop."""

    def __init__(self, max_entries: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_entries
        self._ttl = ttl_s
        self._clock = clock
        self._entries: OrderedDict[CacheKey, tuple[float, AudioClip]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> AudioClip | None:
        """The cached clip, refreshed as most recently used, or None."""
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] > self._ttl:
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: CacheKey, clip: AudioClip) -> None:
        """Store a clip, evicting the least recently used entry when full."""
        if self._max == 0:
            return
        self._entries[key] = (self._clock(), clip)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class CachedTTS:
    """Wraps an engine with an `AudioCache`; repeated phrases ("You have 10,000 0G.") cost nothing.

    A synthesis runs in a task of its own, shared by everyone asking for the same phrase meanwhile;
    a requester that is cancelled (barge-in) does not cancel it for the others, and its result is
    cached for the next time.
    """

    def __init__(self, engine: TextToSpeech, cache: AudioCache) -> None:
        self._engine = engine
        self._cache = cache
        self.voice = engine.voice
        self.sample_rate = engine.sample_rate
        self._in_flight: dict[CacheKey, asyncio.Task[AudioClip]] = {}

    async def synthesize(self, text: str) -> AudioClip:
        key = (text, self.voice, self.sample_rate)
        clip = self._cache.get(key)
        if clip is not None:
            return clip
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._engine.synthesize(text))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: CacheKey, task: asyncio.Task[AudioClip]) -> None:
        del self._in_flight[key]
        if not task.cancelled() and task.exception() is None:
            self._cache.put(key, task.result())

    async def aclose(self) -> None:
        """Cancel syntheses still running (at shutdown)."""
        for task in list(self._in_flight.values()):
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
