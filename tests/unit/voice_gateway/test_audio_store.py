from __future__ import annotations

import io
import wave

import pytest

from voice_gateway.audio import AudioClip
from voice_gateway.audio_store import AudioStore

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def clip(tag: int, sample_rate: int = 22_050, samples: int = 100) -> AudioClip:
    return AudioClip(tag.to_bytes(2, "little", signed=True) * samples, sample_rate)


def read_wav(data: bytes) -> tuple[int, int, int, bytes]:
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.readframes(wav.getnframes())


def test_a_stored_clip_comes_back_as_a_mono_16_bit_wav() -> None:
    store = AudioStore(max_entries=4, ttl_s=60)
    original = clip(1234, sample_rate=22_050, samples=2205)
    data = store.get(store.put(original))
    assert data is not None
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    assert read_wav(data) == (1, 2, 22_050, original.pcm)


def test_the_wav_keeps_the_clips_sample_rate() -> None:
    store = AudioStore(max_entries=4, ttl_s=60)
    data = store.get(store.put(clip(7, sample_rate=16_000)))
    assert data is not None
    assert read_wav(data)[2] == 16_000


def test_an_empty_clip_is_a_valid_empty_wav() -> None:
    store = AudioStore(max_entries=4, ttl_s=60)
    data = store.get(store.put(AudioClip(b"", 22_050)))
    assert data is not None
    assert read_wav(data) == (1, 2, 22_050, b"")


def test_each_clip_is_kept_under_its_own_id() -> None:
    store = AudioStore(max_entries=8, ttl_s=60)
    ids = {tag: store.put(clip(tag)) for tag in range(5)}
    for tag, audio_id in ids.items():
        data = store.get(audio_id)
        assert data is not None
        assert read_wav(data)[3] == clip(tag).pcm


def test_ids_are_long_url_safe_and_distinct() -> None:
    store = AudioStore(max_entries=1000, ttl_s=60)
    ids = [store.put(clip(1)) for _ in range(500)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) >= 20 for i in ids)
    assert all(set(i) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for i in ids)


def test_ids_are_not_sequential_across_stores() -> None:
    first, second = AudioStore(4, 60), AudioStore(4, 60)
    assert first.put(clip(1)) != second.put(clip(1))


@pytest.mark.parametrize("audio_id", ["", "missing", "0", "../etc/passwd"])
def test_an_unknown_id_is_none(audio_id: str) -> None:
    store = AudioStore(max_entries=4, ttl_s=60)
    store.put(clip(1))
    assert store.get(audio_id) is None


def test_a_clip_expires_after_the_ttl() -> None:
    clock = Clock()
    store = AudioStore(max_entries=4, ttl_s=300, clock=clock)
    audio_id = store.put(clip(1))
    clock.now += 299.9
    assert store.get(audio_id) is not None
    clock.now += 0.2
    assert store.get(audio_id) is None
    clock.now -= 100  # the entry is gone, not merely hidden
    assert store.get(audio_id) is None


def test_reading_does_not_extend_the_lifetime() -> None:
    clock = Clock()
    store = AudioStore(max_entries=4, ttl_s=10, clock=clock)
    audio_id = store.put(clip(1))
    for _ in range(5):
        clock.now += 2.5
        store.get(audio_id)
    assert store.get(audio_id) is None


def test_each_clip_has_its_own_lifetime() -> None:
    clock = Clock()
    store = AudioStore(max_entries=4, ttl_s=10, clock=clock)
    old = store.put(clip(1))
    clock.now += 6
    young = store.put(clip(2))
    clock.now += 6
    assert store.get(old) is None
    assert store.get(young) is not None


def test_the_oldest_clip_is_evicted_beyond_max_entries() -> None:
    store = AudioStore(max_entries=3, ttl_s=60)
    ids = [store.put(clip(tag)) for tag in range(5)]
    assert [store.get(i) is not None for i in ids] == [False, False, True, True, True]
