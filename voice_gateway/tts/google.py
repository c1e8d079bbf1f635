"""Google Cloud Text-to-Speech behind `TextToSpeech`, for the cluster profile (22,050 Hz PCM like Piper)."""

from __future__ import annotations

import io
import os
import wave

from google.api_core import exceptions as google_errors
from google.auth import exceptions as auth_errors
from google.cloud import texttospeech_v1 as tts

from voice_gateway.audio import AudioClip
from voice_gateway.tts.base import TtsError

GOOGLE_SAMPLE_RATE = 22_050


class GoogleTTS:
    """`SynthesizeSpeech` with LINEAR16 output at the rate every zgvoice voice uses."""

    voice = "google"
    sample_rate = GOOGLE_SAMPLE_RATE

    def __init__(
        self,
        client: tts.TextToSpeechAsyncClient | None = None,
        language: str = "en-US",
        voice_name: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        """Use `client`, or build one from the environment's Google credentials.

        Raises:
            TtsError: `tts_no_credentials` when no client is given and no credentials are configured.
        """
        if client is None:
            os.environ.setdefault("NO_GCE_CHECK", "True")
            try:
                client = tts.TextToSpeechAsyncClient()
            except auth_errors.DefaultCredentialsError as exc:
                raise TtsError(
                    "tts_no_credentials",
                    "Google Cloud Text-to-Speech needs credentials (set GOOGLE_APPLICATION_CREDENTIALS)",
                ) from exc
        self._client = client
        self._voice = tts.VoiceSelectionParams(language_code=language, name=voice_name or "")
        self._timeout_s = timeout_s

    async def synthesize(self, text: str) -> AudioClip:
        audio_config = tts.AudioConfig(
            audio_encoding=tts.AudioEncoding.LINEAR16, sample_rate_hertz=GOOGLE_SAMPLE_RATE
        )
        try:
            response = await self._client.synthesize_speech(
                input=tts.SynthesisInput(text=text),
                voice=self._voice,
                audio_config=audio_config,
                retry=None,
                timeout=self._timeout_s,
            )
        except google_errors.GoogleAPICallError as exc:
            raise TtsError("tts_failed", f"Google Cloud Text-to-Speech failed: {exc.message}") from exc
        except auth_errors.GoogleAuthError as exc:
            raise TtsError(
                "tts_no_credentials", f"Google Cloud Text-to-Speech refused the credentials: {exc}"
            ) from exc
        return _clip_from_linear16(response.audio_content)


def _clip_from_linear16(content: bytes) -> AudioClip:
    # LINEAR16 responses carry a WAV header; check it rather than trusting the request.
    try:
        with wave.open(io.BytesIO(content)) as reader:
            if reader.getsampwidth() != 2 or reader.getnchannels() != 1:
                raise TtsError("tts_failed", "Google returned audio in an unexpected format")
            return AudioClip(pcm=reader.readframes(reader.getnframes()), sample_rate=reader.getframerate())
    except (wave.Error, EOFError) as exc:
        raise TtsError("tts_failed", "Google returned audio that is not WAV") from exc
