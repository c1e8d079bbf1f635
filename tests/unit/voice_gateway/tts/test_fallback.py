from __future__ import annotations

import logging

import pytest

from voice_gateway.audio import AudioClip
from voice_gateway.tts import FallbackTTS, TtsError

pytestmark = pytest.mark.unit


class ScriptedTTS:
    """A real `TextToSpeech` that either speaks (its voice name as audio) or fails with a given error."""

    def __init__(self, voice: str, sample_rate: int = 22_050, error: Exception | None = None) -> None:
        self.voice = voice
        self.sample_rate = sample_rate
        self.error = error
        self.calls: list[str] = []

    async def synthesize(self, text: str) -> AudioClip:
        self.calls.append(text)
        if self.error is not None:
            raise self.error
        return AudioClip(f"{self.voice}:{text}".encode(), self.sample_rate)


@pytest.mark.anyio
async def test_the_first_engine_speaks_when_it_works() -> None:
    first, second = ScriptedTTS("piper"), ScriptedTTS("espeak")
    clip = await FallbackTTS([first, second]).synthesize("Hello.")
    assert clip.pcm == b"piper:Hello."
    assert second.calls == []


@pytest.mark.anyio
async def test_a_failing_engine_falls_back_to_the_next(caplog: pytest.LogCaptureFixture) -> None:
    first = ScriptedTTS("piper", error=TtsError("model_missing", "no model"))
    second = ScriptedTTS("espeak")
    with caplog.at_level(logging.WARNING):
        clip = await FallbackTTS([first, second]).synthesize("Hello.")
    assert clip == AudioClip(b"espeak:Hello.", 22_050)
    assert first.calls == second.calls == ["Hello."]
    assert any(record.levelno == logging.WARNING for record in caplog.records)


@pytest.mark.anyio
async def test_every_call_tries_the_preferred_engine_again() -> None:
    first = ScriptedTTS("piper", error=TtsError("busy", "busy"))
    second = ScriptedTTS("espeak")
    tts = FallbackTTS([first, second])
    await tts.synthesize("One.")
    first.error = None
    assert (await tts.synthesize("Two.")).pcm == b"piper:Two."
    assert second.calls == ["One."]


@pytest.mark.anyio
async def test_when_all_engines_fail_the_last_error_is_raised() -> None:
    engines = [
        ScriptedTTS("piper", error=TtsError("first", "first failed")),
        ScriptedTTS("espeak", error=TtsError("second", "second failed")),
        ScriptedTTS("other", error=TtsError("third", "third failed")),
    ]
    with pytest.raises(TtsError) as caught:
        await FallbackTTS(engines).synthesize("Hello.")
    assert caught.value.code == "third"
    assert all(engine.calls == ["Hello."] for engine in engines)


@pytest.mark.anyio
async def test_an_unexpected_exception_is_not_treated_as_a_fallback_case() -> None:
    first = ScriptedTTS("piper", error=RuntimeError("a bug, not an engine failure"))
    second = ScriptedTTS("espeak")
    with pytest.raises(RuntimeError):
        await FallbackTTS([first, second]).synthesize("Hello.")
    assert second.calls == []


def test_engines_with_different_sample_rates_are_rejected() -> None:
    with pytest.raises(ValueError, match="sample rate"):
        FallbackTTS([ScriptedTTS("piper", 22_050), ScriptedTTS("espeak", 16_000)])


def test_an_empty_engine_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="engine"):
        FallbackTTS([])


def test_the_fallback_speaks_as_its_first_engine() -> None:
    tts = FallbackTTS([ScriptedTTS("piper", 16_000), ScriptedTTS("espeak", 16_000)])
    assert (tts.voice, tts.sample_rate) == ("piper", 16_000)


@pytest.mark.anyio
async def test_a_single_engine_is_used_as_is() -> None:
    engine = ScriptedTTS("espeak", 16_000)
    assert await FallbackTTS([engine]).synthesize("Hi.") == AudioClip(b"espeak:Hi.", 16_000)
