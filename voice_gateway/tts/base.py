"""The text-to-speech interface every adapter satisfies."""

from __future__ import annotations

from typing import Protocol

from voice_gateway.audio import AudioClip


class TtsError(Exception):
    """An engine could not speak; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TextToSpeech(Protocol):
    """Speaks text as mono PCM16 at `sample_rate`. Implementations load their model once."""

    voice: str
    sample_rate: int

    async def synthesize(self, text: str) -> AudioClip:
        """`text` (one sentence or a few) as one clip.

        Raises:
            TtsError: the engine failed.
        """
        ...
