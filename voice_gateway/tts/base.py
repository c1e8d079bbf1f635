"""The text-to-speech interface every adapter satisfies."""

from __future__ import annotations

from typing import Protocol

from voice_gateway.audio import AudioClip


class TextToSpeech(Protocol):
    """Speaks text. Implementations load their model once and may be called concurrently."""

    async def synthesize(self, text: str) -> AudioClip:
        """The whole of `text` as one clip."""
        ...
