"""Google Cloud Speech-to-Text (v1 `Recognize`) behind `SpeechToText`, for the cluster profile.

Never retried blindly: the client library's default retry keeps an offline call alive for a very
long time, so every call passes `retry=None` and a timeout, and a missing credential fails at once.
"""

from __future__ import annotations

import math
import os

from google.api_core import exceptions as google_errors
from google.auth import exceptions as auth_errors
from google.cloud import speech_v1

from voice_gateway.stt.base import DOMAIN_VOCABULARY, Alternative, SttError

# Phrase hints: the same domain words the local recognizer is primed with.
_PHRASES = [p.strip(" .") for p in DOMAIN_VOCABULARY.split(",")]


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
        response = await self._recognize(pcm16k, 1)
        parts = [r.alternatives[0].transcript.strip() for r in response.results if r.alternatives]
        return " ".join(p for p in parts if p)

    async def alternatives(self, pcm16k: bytes, limit: int = 5) -> list[Alternative]:
        if not 1 <= limit <= 10:
            raise ValueError("between 1 and 10 alternatives")
        response = await self._recognize(pcm16k, limit)
        results = [r for r in response.results if r.alternatives]
        if len(results) != 1:
            # Several results are consecutive stretches of a long utterance: their best readings,
            # joined, are the one hypothesis worth giving.
            text = " ".join(r.alternatives[0].transcript.strip() for r in results).strip()
            return [Alternative(text, 0.0)] if text else []
        return [
            Alternative(a.transcript.strip(), math.log(max(a.confidence, 1e-6)))
            for a in results[0].alternatives
            if a.transcript.strip()
        ]

    async def _recognize(self, pcm16k: bytes, limit: int) -> speech_v1.RecognizeResponse:
        config = speech_v1.RecognitionConfig(
            encoding=speech_v1.RecognitionConfig.AudioEncoding.LINEAR16,
            sample_rate_hertz=16_000,
            language_code=self._language,
            enable_automatic_punctuation=True,
            max_alternatives=limit,
            speech_contexts=[speech_v1.SpeechContext(phrases=_PHRASES)],
        )
        self._in_flight += 1
        try:
            return await self._client.recognize(
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
