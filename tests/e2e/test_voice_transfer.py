"""Money by voice, end to end against a real `zgv up` (devnet, gateway, Whisper, Piper): spoken
requests over the WebSocket, spoken prompts and receipts back, and the chain as the judge."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account

from tests.support.gateway import Gateway, running_gateway
from tests.support.processes import free_port
from tests.support.speech import piper_16k, silence
from tests.support.voice_client import VoiceClient, voice_client

pytestmark = [pytest.mark.e2e, pytest.mark.anyio, pytest.mark.slow]

SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def address(seed: int) -> str:
    return str(Account.from_key(seed.to_bytes(32, "big")).address)


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with running_gateway(devnet_port=free_port()) as running:
        yield running


def rpc(gateway: Gateway, method: str, *params: Any) -> Any:
    """A JSON-RPC call to the gateway's devnet: the chain is the judge."""
    url = gateway.devnet_rpc
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["result"]


def balance(gateway: Gateway, who: str) -> int:
    return int(rpc(gateway, "eth_getBalance", who, "latest"), 16)


async def speak(client: VoiceClient, text: str) -> None:
    await client.send_audio(silence(200) + piper_16k(text) + silence(900), speed=2.0)


async def reply_to(client: VoiceClient, after: int, timeout: float = 60) -> str:
    """The whole reply text of the first turn finished after event number `after`."""
    final = await client.wait_for(
        lambda e: e["type"] == "reply_text" and e["final"] and client.events.index(e) >= after, timeout
    )
    return " ".join(e["text"] for e in client.of_type("reply_text") if e["turn_id"] == final["turn_id"])


async def spoken_reply(client: VoiceClient, text: str) -> str:
    mark = len(client.events)
    await speak(client, text)
    reply = await reply_to(client, mark)
    turn = client.of_type("reply_text")[-1]["turn_id"]
    await client.wait_type("bot_speech_stopped", turn_id=turn, timeout=60)
    return reply


async def typed_reply(client: VoiceClient, text: str) -> str:
    mark = len(client.events)
    await client.send_json({"type": "text", "text": text})
    return await reply_to(client, mark)


async def test_remember_alice_then_send_half_by_voice_and_say_yes(gateway: Gateway) -> None:
    alice = address(7001)
    async with voice_client(gateway.ws) as client:
        assert "alice" in await typed_reply(client, f"remember alice is {alice}")
        nonce = int(rpc(gateway, "eth_getTransactionCount", SENDER, "latest"), 16)
        prompt = await spoken_reply(client, "Send half a zero G to Alice.")
        assert "Send 0.5 0G to alice" in prompt
        assert alice[:6] in prompt
        required = client.of_type("confirmation_required")[-1]
        assert required["summary"]["to"] == alice
        assert required["summary"]["amount"] == "0.5"
        assert int(rpc(gateway, "eth_getTransactionCount", SENDER, "latest"), 16) == nonce
        receipt = await spoken_reply(client, "Yes.")
        assert receipt.startswith("Done: 0.5 0G sent to alice")
        # The receipt was spoken, not only written.
        turn = client.of_type("reply_text")[-1]["turn_id"]
        started = await client.wait_type("bot_speech_started", turn_id=turn)
        assert client.audio_between(started)
    assert balance(gateway, alice) == 10**18 // 2
    assert int(rpc(gateway, "eth_getTransactionCount", SENDER, "latest"), 16) == nonce + 1


async def test_saying_no_sends_nothing(gateway: Gateway) -> None:
    charlie = address(7002)
    async with voice_client(gateway.ws) as client:
        await typed_reply(client, f"remember charlie is {charlie}")
        assert "Send 0.5 0G to charlie" in await spoken_reply(client, "Send half a zero G to Charlie.")
        assert "Nothing was sent" in await spoken_reply(client, "No.")
    assert balance(gateway, charlie) == 0


async def test_a_yes_over_the_prompt_gets_the_prompt_again_and_the_button_confirms(gateway: Gateway) -> None:
    daniel = address(7003)
    async with voice_client(gateway.ws) as client:
        await typed_reply(client, f"remember daniel is {daniel}")
        mark = len(client.events)
        await speak(client, "Send half a zero G to Daniel.")
        prompt = await reply_to(client, mark)
        turn = client.of_type("reply_text")[-1]["turn_id"]
        await client.wait_type("bot_speech_started", turn_id=turn)
        # The user talks over the prompt: barge-in; the prompt was not heard in full.
        again = await spoken_reply(client, "Yes, yes.")
        stopped = next(e for e in client.of_type("bot_speech_stopped") if e["turn_id"] == turn)
        assert stopped["reason"] == "barge_in"
        assert again.endswith(prompt)
        assert balance(gateway, daniel) == 0
        # Heard in full this time; the UI's confirm button is an explicit yes.
        mark = len(client.events)
        await client.send_json({"type": "confirm"})
        assert (await reply_to(client, mark)).startswith("Done: 0.5 0G sent to daniel")
    assert balance(gateway, daniel) == 10**18 // 2


async def test_a_spoken_note_is_stored_encrypted_and_read_back(gateway: Gateway) -> None:
    async with voice_client(gateway.ws) as client:
        stored = await spoken_reply(client, "Store a note saying buy milk.")
        assert stored.startswith("Saved your note on 0G storage, encrypted")
        upload = next(e for e in client.of_type("tool_result") if e["tool"] == "upload_content")
        assert "milk" not in json.dumps(upload)  # what went to storage was ciphertext
        read = await spoken_reply(client, "Read my last note.")
        assert read.startswith("Your note says:")
        assert "milk" in read
