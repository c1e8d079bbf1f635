from __future__ import annotations

import hashlib

import anyio
import pytest

from voice_gateway.audio import AudioClip
from voice_gateway.tts import AudioCache, CachedTTS, TtsError

pytestmark = pytest.mark.unit

RATE = 22_050


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingTTS:
    """A real `TextToSpeech`: deterministic audio per (voice, text), and a record of every call."""

    def __init__(self, voice: str = "piper", sample_rate: int = RATE, fail_first: int = 0) -> None:
        self.voice = voice
        self.sample_rate = sample_rate
        self.calls: list[str] = []
        self._fail_first = fail_first

    async def synthesize(self, text: str) -> AudioClip:
        self.calls.append(text)
        if len(self.calls) <= self._fail_first:
            raise TtsError("engine_failed", "scripted failure")
        return clip_for(self.voice, text, self.sample_rate)


def clip_for(voice: str, text: str, sample_rate: int = RATE) -> AudioClip:
    return AudioClip(hashlib.sha256(f"{voice}:{text}".encode()).digest(), sample_rate)


def key(text: str, voice: str = "piper", rate: int = RATE) -> tuple[str, str, int]:
    return (text, voice, rate)


# --- AudioCache ----------------------------------------------------------------------------------


def test_a_stored_clip_is_returned() -> None:
    cache = AudioCache(max_entries=4, ttl_s=60)
    clip = clip_for("piper", "hello")
    cache.put(key("hello"), clip)
    assert cache.get(key("hello")) == clip
    assert len(cache) == 1


def test_unknown_key_is_a_miss() -> None:
    cache = AudioCache(max_entries=4, ttl_s=60)
    assert cache.get(key("hello")) is None
    assert (cache.hits, cache.misses) == (0, 1)


def test_voice_and_rate_are_part_of_the_key() -> None:
    cache = AudioCache(max_entries=4, ttl_s=60)
    cache.put(key("hello"), clip_for("piper", "hello"))
    assert cache.get(key("hello", voice="espeak")) is None
    assert cache.get(key("hello", rate=16_000)) is None
    assert cache.get(key("Hello")) is None


def test_hits_and_misses_are_counted() -> None:
    cache = AudioCache(max_entries=4, ttl_s=60)
    cache.get(key("a"))
    cache.put(key("a"), clip_for("piper", "a"))
    cache.get(key("a"))
    cache.get(key("a"))
    cache.get(key("b"))
    assert (cache.hits, cache.misses) == (2, 2)


def test_least_recently_stored_is_evicted_first() -> None:
    cache = AudioCache(max_entries=2, ttl_s=60)
    for text in ("a", "b", "c"):
        cache.put(key(text), clip_for("piper", text))
    assert len(cache) == 2
    assert cache.get(key("a")) is None
    assert cache.get(key("b")) == clip_for("piper", "b")
    assert cache.get(key("c")) == clip_for("piper", "c")


def test_a_read_makes_an_entry_recently_used() -> None:
    cache = AudioCache(max_entries=2, ttl_s=60)
    cache.put(key("a"), clip_for("piper", "a"))
    cache.put(key("b"), clip_for("piper", "b"))
    assert cache.get(key("a")) is not None
    cache.put(key("c"), clip_for("piper", "c"))
    assert cache.get(key("b")) is None
    assert cache.get(key("a")) == clip_for("piper", "a")
    assert cache.get(key("c")) == clip_for("piper", "c")


def test_storing_again_replaces_and_refreshes_an_entry() -> None:
    cache = AudioCache(max_entries=2, ttl_s=60)
    cache.put(key("a"), clip_for("piper", "old"))
    cache.put(key("b"), clip_for("piper", "b"))
    cache.put(key("a"), clip_for("piper", "new"))
    assert len(cache) == 2
    cache.put(key("c"), clip_for("piper", "c"))
    assert cache.get(key("b")) is None
    assert cache.get(key("a")) == clip_for("piper", "new")


def test_eviction_order_follows_use_over_many_operations() -> None:
    cache = AudioCache(max_entries=3, ttl_s=60)
    for text in "abc":
        cache.put(key(text), clip_for("piper", text))
    cache.get(key("a"))  # recency now b, c, a
    cache.put(key("d"), clip_for("piper", "d"))  # evicts b
    cache.get(key("c"))  # recency a, d, c
    cache.put(key("e"), clip_for("piper", "e"))  # evicts a
    assert [t for t in "abcde" if cache.get(key(t)) is not None] == ["c", "d", "e"]


def test_entries_older_than_the_ttl_are_misses() -> None:
    clock = Clock()
    cache = AudioCache(max_entries=4, ttl_s=10, clock=clock)
    cache.put(key("a"), clip_for("piper", "a"))
    clock.now = 10.0
    assert cache.get(key("a")) is not None
    clock.now = 10.5
    assert cache.get(key("a")) is None
    assert len(cache) == 0, "an expired entry is dropped, not kept around"
    assert (cache.hits, cache.misses) == (1, 1)


def test_the_ttl_counts_from_when_the_clip_was_stored() -> None:
    clock = Clock()
    cache = AudioCache(max_entries=4, ttl_s=10, clock=clock)
    cache.put(key("a"), clip_for("piper", "a"))
    clock.now = 8.0
    assert cache.get(key("a")) is not None
    clock.now = 12.0
    assert cache.get(key("a")) is None


def test_storing_again_restarts_the_ttl() -> None:
    clock = Clock()
    cache = AudioCache(max_entries=4, ttl_s=10, clock=clock)
    cache.put(key("a"), clip_for("piper", "a"))
    clock.now = 8.0
    cache.put(key("a"), clip_for("piper", "a"))
    clock.now = 15.0
    assert cache.get(key("a")) is not None


def test_max_entries_zero_disables_the_cache() -> None:
    cache = AudioCache(max_entries=0, ttl_s=60)
    cache.put(key("a"), clip_for("piper", "a"))
    assert len(cache) == 0
    assert cache.get(key("a")) is None
    assert cache.misses == 1


# --- CachedTTS -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_engine_is_called_once_per_text() -> None:
    engine = CountingTTS()
    tts = CachedTTS(engine, AudioCache(max_entries=16, ttl_s=60))
    first = await tts.synthesize("You have 10,000 0G.")
    second = await tts.synthesize("You have 10,000 0G.")
    other = await tts.synthesize("Anything else?")
    assert engine.calls == ["You have 10,000 0G.", "Anything else?"]
    assert first == second == clip_for("piper", "You have 10,000 0G.")
    assert other == clip_for("piper", "Anything else?")


@pytest.mark.anyio
async def test_cached_tts_speaks_with_the_engines_voice_and_rate() -> None:
    tts = CachedTTS(CountingTTS(voice="espeak", sample_rate=16_000), AudioCache(4, 60))
    assert (tts.voice, tts.sample_rate) == ("espeak", 16_000)
    clip = await tts.synthesize("hi")
    assert clip.sample_rate == 16_000


@pytest.mark.anyio
async def test_engines_sharing_a_cache_never_get_each_others_audio() -> None:
    cache = AudioCache(max_entries=16, ttl_s=60)
    piper, espeak, slow = CountingTTS("piper"), CountingTTS("espeak"), CountingTTS("piper", 16_000)
    tts = [CachedTTS(engine, cache) for engine in (piper, espeak, slow)]
    for _ in range(2):
        clips = [await t.synthesize("Hello.") for t in tts]
        assert clips == [
            clip_for("piper", "Hello."),
            clip_for("espeak", "Hello."),
            clip_for("piper", "Hello.", 16_000),
        ]
    assert (piper.calls, espeak.calls, slow.calls) == (["Hello."], ["Hello."], ["Hello."])


@pytest.mark.anyio
async def test_a_failure_is_not_cached() -> None:
    engine = CountingTTS(fail_first=1)
    tts = CachedTTS(engine, AudioCache(max_entries=16, ttl_s=60))
    with pytest.raises(TtsError):
        await tts.synthesize("Hello.")
    assert await tts.synthesize("Hello.") == clip_for("piper", "Hello.")
    assert await tts.synthesize("Hello.") == clip_for("piper", "Hello.")
    assert engine.calls == ["Hello.", "Hello."]


@pytest.mark.anyio
async def test_an_expired_phrase_is_synthesized_again() -> None:
    clock = Clock()
    engine = CountingTTS()
    tts = CachedTTS(engine, AudioCache(max_entries=16, ttl_s=30, clock=clock))
    await tts.synthesize("Hello.")
    clock.now = 31.0
    await tts.synthesize("Hello.")
    assert engine.calls == ["Hello.", "Hello."]


@pytest.mark.anyio
async def test_a_disabled_cache_calls_the_engine_every_time() -> None:
    engine = CountingTTS()
    tts = CachedTTS(engine, AudioCache(max_entries=0, ttl_s=30))
    for _ in range(3):
        assert await tts.synthesize("Hello.") == clip_for("piper", "Hello.")
    assert engine.calls == ["Hello."] * 3


@pytest.mark.anyio
async def test_concurrent_requests_for_one_phrase_share_one_synthesis() -> None:
    import asyncio

    release = asyncio.Event()

    class SlowEngine:
        voice = "slow"
        sample_rate = 22050
        calls = 0

        async def synthesize(self, text: str) -> AudioClip:
            SlowEngine.calls += 1
            await release.wait()
            return AudioClip(pcm=text.encode().ljust(4, b"\0")[:4], sample_rate=22050)

    tts = CachedTTS(SlowEngine(), AudioCache(8, 60))
    waiters = [asyncio.ensure_future(tts.synthesize("same")) for _ in range(5)]
    await anyio.wait_all_tasks_blocked()
    waiters[0].cancel()  # one requester giving up (barge-in) must not cancel the others
    release.set()
    results = await asyncio.gather(*waiters[1:])
    assert SlowEngine.calls == 1
    assert all(clip.pcm == b"same" for clip in results)
    assert (await tts.synthesize("same")).pcm == b"same"
    assert SlowEngine.calls == 1
