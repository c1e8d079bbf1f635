"""Whisper's n-best hypotheses: one beam search, several distinct readings best first, nothing for
silence, and the same first reading the plain transcription gives."""

from __future__ import annotations

import functools

import pytest

from tests.support.speech import piper_16k, silence, white_noise
from voice_gateway.stt import WhisperSTT

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@functools.cache
def whisper() -> WhisperSTT:
    return WhisperSTT(workers=1, cpu_threads=2)


async def test_several_distinct_readings_best_first() -> None:
    pcm = silence(200) + piper_16k("Send a quarter zero G to Dave, please.") + silence(300)
    heard = await whisper().alternatives(pcm, limit=5)
    assert 2 <= len(heard) <= 5
    assert len({alt.text for alt in heard}) == len(heard)
    assert [alt.score for alt in heard] == sorted((alt.score for alt in heard), reverse=True)
    assert "quarter" in heard[0].text.lower()


async def test_the_first_reading_is_what_transcription_gives() -> None:
    pcm = silence(200) + piper_16k("What is the latest block?") + silence(300)
    heard = await whisper().alternatives(pcm)
    assert heard[0].text == await whisper().transcribe(pcm)


async def test_silence_and_noise_give_nothing_and_limits_are_checked() -> None:
    assert await whisper().alternatives(silence(1500)) == []
    assert await whisper().alternatives(b"\0" * 100) == []
    assert await whisper().alternatives(white_noise(1500, dbfs=-45)) == []
    with pytest.raises(ValueError, match="between 1 and 10"):
        await whisper().alternatives(silence(500), limit=0)
    with pytest.raises(ValueError, match="between 1 and 10"):
        await whisper().alternatives(silence(500), limit=11)
