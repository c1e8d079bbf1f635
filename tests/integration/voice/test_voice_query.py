"""`POST /v1/voice/query` with real files (WAV, Ogg/Opus, WebM/Opus) and `GET /v1/audio/{id}`."""

from __future__ import annotations

import functools
import http.client
import io
import json
import urllib.error
import urllib.request
import wave
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import Gateway
from tests.support.processes import wait_until
from tests.support.speech import opus_file, silence, wav_bytes
from zgvoice.login import sign_in_blocking

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A committed clip, not fresh Piper output: Piper's synthesis is randomized, and after lossy Opus
# coding some renders of "block" are heard as "plot". The question here is the file pipeline.
CLIP = Path(__file__).resolve().parents[3] / "benchmarks" / "clips" / "q-what-is-my-balance.piper-ls100.wav"
with wave.open(str(CLIP)) as _clip:
    SPEECH = _clip.readframes(_clip.getnframes()) + silence(300)


@functools.cache
def bearer(http: str) -> str:
    """An access token of the gateway's devnet wallet (sign-in is on by default)."""
    return f"Bearer {sign_in_blocking(http).access_token}"


def post(
    gateway: Gateway, body: bytes, content_type: str = "application/octet-stream"
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type, "Authorization": bearer(gateway.http)}
    request = urllib.request.Request(f"{gateway.http}/v1/voice/query", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def fetch(gateway: Gateway, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{gateway.http}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.mark.parametrize(
    ("kind", "body", "content_type"),
    [
        ("wav", wav_bytes(SPEECH), "audio/wav"),
        ("ogg", opus_file(SPEECH, "ogg"), "audio/ogg"),
        ("webm", opus_file(SPEECH, "webm"), "audio/webm"),
    ],
)
def test_a_recorded_question_is_answered_with_text_and_audio(
    gateway: Gateway, kind: str, body: bytes, content_type: str
) -> None:
    status, answer = post(gateway, body, content_type)
    assert status == 200, answer
    assert "balance" in answer["transcript"].lower(), kind
    assert answer["intent"]["name"] == "balance"
    assert answer["reply"].startswith("You have")
    assert {"decode_ms", "stt_ms", "nlp_ms", "tools_ms", "tts_ms", "total_ms"} <= set(answer["latency_ms"])
    status, audio = fetch(gateway, answer["audio_url"])
    assert status == 200
    with wave.open(io.BytesIO(audio)) as reply:
        assert reply.getframerate() == 22050
        assert reply.getnframes() / reply.getframerate() > 1.0


def test_reply_audio_expires(gateway: Gateway) -> None:
    status, answer = post(gateway, wav_bytes(SPEECH), "audio/wav")
    assert status == 200
    assert fetch(gateway, answer["audio_url"])[0] == 200
    wait_until(lambda: fetch(gateway, answer["audio_url"])[0] == 404, 10, "the audio to expire (TTL 3 s)")
    status, body = fetch(gateway, answer["audio_url"])
    assert json.loads(body)["error"]["code"] == "audio_not_found"
    assert fetch(gateway, "/v1/audio/" + "x" * 500)[0] == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 415, "unsupported_audio"),
        (b"this is not audio at all" * 10, 415, "unsupported_audio"),
        (wav_bytes(b""), 422, "corrupt_audio"),
        (wav_bytes(silence(12_000)), 413, "audio_too_long"),
        (wav_bytes(silence(2000)), 422, "no_speech"),
    ],
)
def test_unusable_uploads_get_clear_errors(gateway: Gateway, body: bytes, status: int, code: str) -> None:
    got_status, answer = post(gateway, body)
    assert (got_status, answer["error"]["code"]) == (status, code)
    assert answer["error"]["message"]
    assert fetch(gateway, "/healthz")[0] == 200


def test_an_oversized_upload_is_refused_from_its_declared_length(gateway: Gateway) -> None:
    # Only the headers are sent: the server must answer before reading 11 MB it will refuse anyway.
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.putrequest("POST", "/v1/voice/query")
        connection.putheader("Content-Type", "audio/wav")
        connection.putheader("Authorization", bearer(gateway.http))
        connection.putheader("Content-Length", str(11 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"]["code"] == "body_too_large"
    finally:
        connection.close()


def test_a_question_without_a_sign_in_is_refused(gateway: Gateway) -> None:
    request = urllib.request.Request(
        f"{gateway.http}/v1/voice/query", data=wav_bytes(SPEECH), headers={"Content-Type": "audio/wav"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    refused.value.close()  # it holds the connection
    assert refused.value.code == 401
