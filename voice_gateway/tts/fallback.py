"""Failover between engines of the same output format: the first that speaks wins."""

from __future__ import annotations

import logging

from voice_gateway.audio import AudioClip
from voice_gateway.tts.base import TextToSpeech, TtsError

log = logging.getLogger(__name__)


class FallbackTTS:
    """Tries `engines` in order; all must share one sample rate so a client never sees it change."""

    def __init__(self, engines: list[TextToSpeech]) -> None:
        if not engines:
            raise ValueError("at least one engine is needed")
        rates = {engine.sample_rate for engine in engines}
        if len(rates) != 1:
            raise ValueError(f"engines disagree on the sample rate: {sorted(rates)}")
        self._engines = engines
        self.voice = engines[0].voice
        self.sample_rate = engines[0].sample_rate

    async def synthesize(self, text: str) -> AudioClip:
        last: TtsError | None = None
        for engine in self._engines:
            try:
                return await engine.synthesize(text)
            except TtsError as exc:
                log.warning(
                    "tts engine failed, trying the next", extra={"voice": engine.voice, "code": exc.code}
                )
                last = exc
        assert last is not None
        raise last
