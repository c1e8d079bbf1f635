"""The voice WebSocket end to end: real VAD, Whisper, interpreter, devnet and Piper in `zgv up`."""

from __future__ import annotations

import json
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.gateway import Gateway
from tests.support.processes import wait_until_async
from tests.support.speech import piper_16k, silence, white_noise
from tests.support.voice_client import signed_in_url, voice_client

pytestmark = [pytest.mark.integration, pytest.mark.anyio, pytest.mark.slow]

QUESTION = piper_16k("What is my balance?")


async def test_a_spoken_question_gets_every_event_in_order_and_a_spoken_reply(gateway: Gateway) -> None:
    async with voice_client(gateway.ws) as client:
        ready = client.of_type("ready")[0]
        assert ready["protocol"] == "zgv-voice/1"
        assert ready["input"]["sample_rate"] == 16000
        assert ready["output"]["sample_rate"] == 22050
        await client.send_audio(silence(300) + QUESTION + silence(1000), speed=2.0)
        metrics = await client.wait_type("metrics", timeout=30)
        kinds = [e["type"] for e in client.events]
        order = [
            "user_speech_started",
            "user_speech_stopped",
            "intent",
            "plan",
            "tool_result",
            "reply_text",
            "bot_speech_started",
            "bot_speech_stopped",
            "metrics",
        ]
        positions = [kinds.index(kind) for kind in order]
        assert positions == sorted(positions), kinds
        transcript = [e for e in client.of_type("transcript") if e["final"]][0]
        assert "balance" in transcript["text"].lower()
        assert client.of_type("intent")[0]["name"] == "balance"
        assert client.of_type("reply_text")[0]["text"] == "You have 10,000 0G."
        started, stopped = client.of_type("bot_speech_started")[0], client.of_type("bot_speech_stopped")[0]
        assert stopped["reason"] == "completed"
        audio = client.audio_between(started, stopped)
        seconds = sum(len(r.audio or b"") for r in audio) / 2 / 22050
        assert 0.8 < seconds < 5
        assert not client.audio_between(stopped)  # nothing after the stop
        latency = metrics["latency_ms"]
        assert {"endpoint_ms", "stt_ms", "tools_ms", "tts_first_audio_ms", "voice_to_voice_ms"} <= set(
            latency
        )
        assert latency["voice_to_voice_ms"] > 0


async def test_typed_text_and_text_only_replies(gateway: Gateway) -> None:
    async with voice_client(gateway.ws, start={"reply_mode": "text"}) as client:
        await client.send_json({"type": "text", "text": "what is the latest block"})
        reply = await client.wait_type("reply_text")
        assert reply["text"].startswith("The latest block is number")
        await client.wait_type("metrics")
        assert not any(r.audio for r in client.received)
        await client.send_json({"type": "update_context", "reply_mode": "voice", "persona": "terse"})
        updated = await client.wait_type("context_updated")
        assert updated["reply_mode"] == "voice"
        assert updated["persona"] == "terse"
        await client.send_json({"type": "text", "text": "what is the gas price"})
        await client.wait_type("bot_speech_stopped", timeout=30)
        assert any(r.audio for r in client.received)


async def test_barge_in_stops_the_reply_and_starts_the_next_turn(gateway: Gateway) -> None:
    async with voice_client(gateway.ws) as client:
        await client.send_json({"type": "text", "text": "help"})  # a long spoken reply
        started = await client.wait_type("bot_speech_started", timeout=30)
        await client.send_audio(piper_16k("What is the gas price?") + silence(1000))
        stopped = await client.wait_type("bot_speech_stopped", timeout=30)
        assert stopped["reason"] == "barge_in"
        assert stopped["turn_id"] == started["turn_id"]
        interrupted = await client.wait_type("metrics", turn_id=started["turn_id"])
        assert interrupted["latency_ms"]["text_to_voice_ms"] > 0
        await client.wait_for(lambda e: e["type"] == "intent" and e["name"] == "gas_price", timeout=30)
        next_start = await client.wait_for(
            lambda e: e["type"] == "bot_speech_started" and e["turn_id"] != started["turn_id"], timeout=30
        )
        assert client.audio_between(stopped, next_start) == []
        await client.send_json({"type": "interrupt", "played_ms": 1200})


async def test_a_short_noise_does_not_cut_the_bot_off(gateway: Gateway) -> None:
    async with voice_client(gateway.ws) as client:
        await client.send_json({"type": "text", "text": "what is my balance"})
        await client.wait_type("bot_speech_started", timeout=30)
        await client.send_audio(QUESTION[: 16 * 100 * 2] + silence(600))  # 100 ms of a word
        stopped = await client.wait_type("bot_speech_stopped", timeout=30)
        assert stopped["reason"] == "completed"
        assert not client.of_type("user_speech_started")


@pytest.mark.parametrize(
    ("name", "audio"), [("silence", silence(2500)), ("noise", white_noise(2500, dbfs=-30))]
)
async def test_silence_and_noise_start_no_turn(gateway: Gateway, name: str, audio: bytes) -> None:
    async with voice_client(gateway.ws) as client:
        await client.send_audio(audio, speed=4.0)
        # A typed question afterwards proves the audio was processed and the session is healthy.
        await client.send_json({"type": "text", "text": "what is the latest block"})
        await client.wait_type("reply_text")
        assert not client.of_type("user_speech_started"), name
        assert not client.of_type("error"), client.of_type("error")


async def test_an_utterance_over_the_cap_is_cut_and_answered(gateway: Gateway) -> None:
    long_speech = b"".join(piper_16k(t) for t in ["What is my balance and what is the latest block"] * 4)
    async with voice_client(gateway.ws) as client:
        await client.send_audio(long_speech + silence(800), speed=4.0)
        stopped = await client.wait_type("user_speech_stopped", timeout=30)
        assert stopped["capped"] is True
        assert stopped["speech_ms"] <= 6100


async def test_bad_input_gets_clear_errors_and_the_session_survives(gateway: Gateway) -> None:
    async with voice_client(gateway.ws, start={}) as client:
        await client.ws.send(b"\0" * 640)
        assert (await client.wait_type("error"))["code"] == "not_started"
        await client.send_json({"type": "start"})
        await client.wait_type("ready")
        cases: list[tuple[bytes | str, str]] = [
            (b"\0" * 641, "bad_frame"),
            (b"\0" * 70_000, "frame_too_large"),
            ("{not json", "bad_message"),
            ('["start"]', "bad_message"),
            ('{"type": "dance"}', "unknown_type"),
            ('{"type": "interrupt", "played_ms": -5}', "invalid_field"),
            ('{"type": "text", "text": "hi", "extra": 1}', "invalid_field"),
            ('{"type": "text", "text": "' + "a" * 20_000 + '"}', "message_too_large"),
            ('{"type": "confirm"}', "nothing_to_confirm"),
            ('{"type": "start"}', "already_started"),
        ]
        for sent, code in cases:
            seen = len(client.of_type("error"))
            await client.ws.send(sent)
            await client.wait_for(lambda _e, n=seen: len(client.of_type("error")) > n)
            error = client.of_type("error")[seen]
            assert error["code"] == code, (sent[:40], error)
            assert error["fatal"] is False
        await client.send_json({"type": "text", "text": "what is my balance"})
        assert (await client.wait_type("reply_text"))["text"].startswith("You have")


async def test_stop_ends_the_session_cleanly(gateway: Gateway) -> None:
    async with voice_client(gateway.ws) as client:
        await client.send_json({"type": "stop"})
        await client.wait_type("stopped")
        await client.closed.wait()
        assert client.ws.close_code == 1000


async def test_origins_off_the_allowlist_are_refused_at_the_handshake(gateway: Gateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(gateway.ws, additional_headers={"Origin": "https://evil.example"}):
            pass
    assert refused.value.response.status_code == 403
    async with voice_client(gateway.ws, origin=f"http://127.0.0.1:{gateway.port}") as client:
        assert client.of_type("ready")


def open_sessions(gateway: Gateway) -> int:
    with urllib.request.urlopen(f"{gateway.http}/healthz", timeout=5) as response:
        return int(json.loads(response.read())["voice"]["sessions"])


async def test_sessions_over_the_per_client_cap_are_refused_without_harming_others(gateway: Gateway) -> None:
    # Sessions of earlier tests end asynchronously on the server; every one must end.
    await wait_until_async(lambda: open_sessions(gateway) == 0, 10, "earlier sessions to close")
    async with voice_client(gateway.ws) as a, voice_client(gateway.ws) as b, voice_client(gateway.ws) as c:
        own_origin = {"Origin": f"http://127.0.0.1:{gateway.port}"}
        async with connect(await signed_in_url(gateway.ws), additional_headers=own_origin) as extra:
            message = await extra.recv()
            assert '"too_many_sessions"' in str(message)
            with pytest.raises(ConnectionClosed):
                await extra.recv()
            assert extra.close_code == 1013
        for client in (a, b, c):
            await client.send_json({"type": "text", "text": "what is the latest block"})
            await client.wait_type("reply_text")
