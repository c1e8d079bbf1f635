"""The speech-to-text interface. Streaming (interim results, speculative finals) is built on top of
whole-buffer decodes by `voice_gateway.voice.transcriber`, so every adapter gets it."""

from __future__ import annotations

from typing import Protocol


class SttError(Exception):
    """The recognizer failed (model missing, credentials absent, service down); `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SpeechToText(Protocol):
    """Transcribes 16 kHz mono PCM16 audio. Safe to call concurrently."""

    async def transcribe(self, pcm16k: bytes, *, interim: bool = False) -> str:
        """The text said in `pcm16k` ("" when nothing intelligible was said).

        `interim` marks a provisional decode of speech still going on: an adapter may trade
        accuracy for speed there.

        Raises:
            SttError: the recognizer could not run.
        """
        ...

    def busy(self) -> bool:
        """True when every decoder is in use: optional work (interim results) should wait."""
        ...
