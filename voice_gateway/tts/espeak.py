"""espeak-ng as a subprocess: robotic but ~15 ms to first audio and no model to load."""

from __future__ import annotations

import io
import shutil
import wave

import anyio

from voice_gateway.audio import AudioClip
from voice_gateway.tts.base import TtsError

ESPEAK_SAMPLE_RATE = 22_050


class EspeakTTS:
    """Runs `espeak-ng --stdout`; the text goes through stdin, never the command line."""

    voice = "espeak"
    sample_rate = ESPEAK_SAMPLE_RATE

    def __init__(self, espeak_voice: str = "en-us", words_per_minute: int = 165) -> None:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise TtsError("tts_unavailable", "espeak-ng is not installed")
        self._command = [binary, "-v", espeak_voice, "-s", str(words_per_minute), "--stdout"]

    async def synthesize(self, text: str) -> AudioClip:
        result = await anyio.run_process(self._command, input=text.encode(), check=False)
        if result.returncode != 0:
            raise TtsError("tts_failed", f"espeak-ng exited with {result.returncode}")
        try:
            with wave.open(io.BytesIO(result.stdout)) as wav:
                if wav.getframerate() != ESPEAK_SAMPLE_RATE or wav.getsampwidth() != 2:
                    raise TtsError("tts_failed", "espeak-ng produced an unexpected format")
                return AudioClip(pcm=wav.readframes(wav.getnframes()), sample_rate=ESPEAK_SAMPLE_RATE)
        except (wave.Error, EOFError) as exc:
            raise TtsError("tts_failed", "espeak-ng produced no audio") from exc
