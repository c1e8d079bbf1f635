"""Google Cloud Speech-to-Text (v1 `Recognize`) behind `SpeechToText`, for the cluster profile.

Never retried blindly: the client library's default retry keeps an offline call alive for a very
long time, so every call passes `retry=None` and a timeout, and a missing credential fails at once.
"""

from __future__ import annotations

import os

from google.api_core import exceptions as google_errors
from google.auth import exceptions as auth_errors
from google.cloud import speech_v1

from voice_gateway.stt.base import SttError


class GoogleSpeechSTT:
    """Synchronous recognition of whole utterances (16 kHz LINEAR16)."""

    def __init__(
        self,
        client: speech_v1.SpeechAsyncClient | None = None,
        language: str = "en-US",
        timeout_s: float = 10.0,
        max_concurrent: int = 16,
    ) -> None:
        """Use `client`, or build one from the environment's Google credentials.

        Raises:
            SttError: `stt_no_credentials` when no client is given and no credentials are configured.
        """
        if client is None:
            # Without this, google-auth probes the GCE metadata server first and an offline start stalls.
            os.environ.setdefault("NO_GCE_CHECK", "True")
            try:
                client = speech_v1.SpeechAsyncClient()
            except auth_errors.DefaultCredentialsError as exc:
                raise SttError(
                    "stt_no_credentials",
                    "Google Cloud Speech needs credentials (set GOOGLE_APPLICATION_CREDENTIALS)",
                ) from exc
        self._client = client
        self._language = language
        self._timeout_s = timeout_s
        self._in_flight = 0
        self._max_concurrent = max_concurrent

    def busy(self) -> bool:
        return self._in_flight >= self._max_concurrent

    async def transcribe(self, pcm16k: bytes, *, interim: bool = False) -> str:
        config = speech_v1.RecognitionConfig(
            encoding=speech_v1.RecognitionConfig.AudioEncoding.LINEAR16,
            sample_rate_hertz=16_000,
            language_code=self._language,
            enable_automatic_punctuation=True,
        )
        self._in_flight += 1
        try:
            response = await self._client.recognize(
                config=config,
                audio=speech_v1.RecognitionAudio(content=pcm16k),
                retry=None,
                timeout=self._timeout_s,
            )
        except google_errors.GoogleAPICallError as exc:
            raise SttError("stt_failed", f"Google Cloud Speech failed: {exc.message}") from exc
        except auth_errors.GoogleAuthError as exc:
            raise SttError(
                "stt_no_credentials", f"Google Cloud Speech refused the credentials: {exc}"
            ) from exc
        finally:
            self._in_flight -= 1
        parts = [r.alternatives[0].transcript.strip() for r in response.results if r.alternatives]
        return " ".join(p for p in parts if p)
