"""The Google Cloud adapters at their protocol boundary: a real gRPC server in this process speaks the
services' wire protocol with the client library's own message types; offline and credential-less
starts fail fast with a clear code."""

from __future__ import annotations

import functools
import io
import json
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.cloud import speech_v1, texttospeech_v1
from google.cloud.speech_v1.services.speech.transports import SpeechGrpcAsyncIOTransport
from google.cloud.speech_v1.types import cloud_speech
from google.cloud.texttospeech_v1.services.text_to_speech.transports import TextToSpeechGrpcAsyncIOTransport
from google.cloud.texttospeech_v1.types import cloud_tts

from voice_gateway.stt import SttError
from voice_gateway.stt.google import GoogleSpeechSTT
from voice_gateway.tts import TtsError
from voice_gateway.tts.google import GoogleTTS

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@dataclass
class FakeGoogle:
    """What the in-process server saw, and how it should answer."""

    requests: list[Any] = field(default_factory=list)
    fail_with: grpc.StatusCode | None = None
    port: int = 0


async def _recognize(fake: FakeGoogle, request: Any, context: grpc.aio.ServicerContext) -> Any:
    fake.requests.append(request)
    if fake.fail_with is not None:
        await context.abort(fake.fail_with, "the service is down")
    words = f"heard {len(request.audio.content)} bytes"
    alternative = cloud_speech.SpeechRecognitionAlternative(transcript=words, confidence=0.9)
    return cloud_speech.RecognizeResponse(
        results=[cloud_speech.SpeechRecognitionResult(alternatives=[alternative])]
    )


async def _synthesize(fake: FakeGoogle, request: Any, context: grpc.aio.ServicerContext) -> Any:
    fake.requests.append(request)
    if fake.fail_with is not None:
        await context.abort(fake.fail_with, "the service is down")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(request.audio_config.sample_rate_hertz)
        out.writeframes(b"\1\0" * 2205 * len(request.input.text))  # 0.1 s per character
    return cloud_tts.SynthesizeSpeechResponse(audio_content=buffer.getvalue())


@pytest.fixture
async def google() -> AsyncIterator[FakeGoogle]:
    fake = FakeGoogle()
    server = grpc.aio.server()
    speech = grpc.method_handlers_generic_handler(
        "google.cloud.speech.v1.Speech",
        {
            "Recognize": grpc.unary_unary_rpc_method_handler(
                functools.partial(_recognize, fake),
                request_deserializer=cloud_speech.RecognizeRequest.deserialize,
                response_serializer=cloud_speech.RecognizeResponse.serialize,
            )
        },
    )
    text_to_speech = grpc.method_handlers_generic_handler(
        "google.cloud.texttospeech.v1.TextToSpeech",
        {
            "SynthesizeSpeech": grpc.unary_unary_rpc_method_handler(
                functools.partial(_synthesize, fake),
                request_deserializer=cloud_tts.SynthesizeSpeechRequest.deserialize,
                response_serializer=cloud_tts.SynthesizeSpeechResponse.serialize,
            )
        },
    )
    server.add_generic_rpc_handlers((speech, text_to_speech))
    fake.port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield fake
    finally:
        await server.stop(grace=None)


def speech_client(port: int) -> speech_v1.SpeechAsyncClient:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return speech_v1.SpeechAsyncClient(transport=SpeechGrpcAsyncIOTransport(channel=channel))


def tts_client(port: int) -> texttospeech_v1.TextToSpeechAsyncClient:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return texttospeech_v1.TextToSpeechAsyncClient(
        transport=TextToSpeechGrpcAsyncIOTransport(channel=channel)
    )


async def test_speech_sends_linear16_at_16k_and_returns_the_transcript(google: FakeGoogle) -> None:
    stt = GoogleSpeechSTT(client=speech_client(google.port))
    audio = b"\1\2" * 8000
    assert await stt.transcribe(audio) == "heard 16000 bytes"
    (request,) = google.requests
    assert request.config.encoding == cloud_speech.RecognitionConfig.AudioEncoding.LINEAR16
    assert request.config.sample_rate_hertz == 16000
    assert request.config.language_code == "en-US"
    assert request.audio.content == audio


async def test_speech_failure_is_one_call_and_a_clear_error(google: FakeGoogle) -> None:
    google.fail_with = grpc.StatusCode.UNAVAILABLE
    stt = GoogleSpeechSTT(client=speech_client(google.port))
    started = time.monotonic()
    with pytest.raises(SttError) as err:
        await stt.transcribe(b"\0" * 3200)
    assert err.value.code == "stt_failed"
    assert "down" in err.value.message
    assert len(google.requests) == 1  # no blind retries
    assert time.monotonic() - started < 5


async def test_tts_asks_for_linear16_at_22050_and_returns_pcm(google: FakeGoogle) -> None:
    voice = GoogleTTS(client=tts_client(google.port))
    clip = await voice.synthesize("hello")
    assert clip.sample_rate == 22050 == voice.sample_rate
    assert clip.duration_s == pytest.approx(0.5)
    (request,) = google.requests
    assert request.input.text == "hello"
    assert request.audio_config.audio_encoding == cloud_tts.AudioEncoding.LINEAR16


async def test_tts_failure_is_a_clear_error(google: FakeGoogle) -> None:
    google.fail_with = grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(TtsError) as err:
        await GoogleTTS(client=tts_client(google.port)).synthesize("hello")
    assert err.value.code == "tts_failed"


@pytest.fixture
def no_google_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no application-default credentials file either
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


@pytest.mark.usefixtures("no_google_credentials")
def test_without_credentials_construction_fails_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(SttError) as stt_err:
        GoogleSpeechSTT()
    with pytest.raises(TtsError) as tts_err:
        GoogleTTS()
    assert stt_err.value.code == "stt_no_credentials"
    assert tts_err.value.code == "tts_no_credentials"
    assert "GOOGLE_APPLICATION_CREDENTIALS" in stt_err.value.message
    assert time.monotonic() - started < 5


@pytest.fixture
def service_account_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path / "sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "offline-test",
                "private_key_id": "0",
                "private_key": pem.decode(),
                "client_email": "test@offline-test.iam.gserviceaccount.com",
                "client_id": "0",
                "token_uri": "http://127.0.0.1:9/token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return path


@pytest.mark.usefixtures("service_account_file")
async def test_with_credentials_but_no_network_a_call_fails_fast() -> None:
    stt = GoogleSpeechSTT(timeout_s=3)
    started = time.monotonic()
    with pytest.raises(SttError) as err:
        await stt.transcribe(b"\0" * 3200)
    assert err.value.code in {"stt_failed", "stt_no_credentials"}
    assert time.monotonic() - started < 10
