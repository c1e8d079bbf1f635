"""Dictated notes on devnet storage through the product's runtime: stored encrypted, read back only
with the user's key, unreadable once that key is destroyed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from task_interpreter.dialogue import Dialogue
from task_interpreter.interpreter import StageClock
from tests.integration.test_devnet_process import running_devnet
from voice_gateway.app import create_app
from voice_gateway.ask import AskService
from voice_gateway.auth.page_wallet import SignInTerms, sign_in_message
from voice_gateway.auth.routes import mount_auth
from zgvoice.auth_wiring import open_auth, sign_in_expectations
from zgvoice.runtime import Runtime, open_runtime, user_cipher
from zgvoice.settings import AuthSettings, load_settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture(scope="module")
def devnet() -> Iterator[dict[str, object]]:
    with running_devnet() as (_, info):
        yield info


@pytest.fixture
async def runtime(devnet: dict[str, object]) -> AsyncIterator[Runtime]:
    contracts = devnet["contracts"]
    assert isinstance(contracts, dict)
    settings = load_settings(
        chain={"rpc_url": devnet["rpc_url"]},
        storage={"node_urls": devnet["storage_nodes"], "flow_address": contracts["flow"], "enabled": True},
    )
    async with open_runtime(settings) as live:
        yield live


async def _healthy() -> tuple[bool, dict[str, Any]]:
    return True, {}


async def say(runtime: Runtime, dialogue: Dialogue, text: str) -> tuple[str, list[dict[str, object]]]:
    outcome = await runtime.interpreter.handle(text, StageClock(), dialogue=dialogue)
    return outcome.reply, [r.as_json() for r in outcome.results]


async def test_a_note_is_stored_encrypted_and_read_back_by_its_owner_only(runtime: Runtime) -> None:
    me = Dialogue(user="u1")
    reply, results = await say(runtime, me, "store a note saying buy milk")
    assert reply.startswith("Saved your note on 0G storage, encrypted")
    upload = results[0]
    assert upload["tool"] == "upload_content"
    assert "milk" not in json.dumps(upload["arguments"])  # what left the process was ciphertext
    reply, results = await say(runtime, me, "read my last note")
    assert reply == "Your note says: buy milk"
    downloaded = results[-1]["result"]
    assert isinstance(downloaded, dict)
    assert "milk" not in str(downloaded["content"])  # and so is what the storage node holds
    assert "note-" in (await say(runtime, me, "list my files"))[0]
    # Another user of the same server sees the file, but cannot read it.
    assert "isn't readable with your key" in (await say(runtime, Dialogue(user="u2"), "read my last note"))[0]
    # Once u1's key is destroyed, nobody can.
    await user_cipher(runtime.settings).forget("u1")
    assert "isn't readable with your key" in (await say(runtime, me, "read my last note"))[0]


async def test_notes_and_transfers_share_one_account_without_nonce_races(runtime: Runtime) -> None:
    me = Dialogue(user="u3")
    alice = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    await say(runtime, me, f"remember alice is {alice}")
    before = await runtime.reader.balance(alice)
    assert "Send 0.1 0G to alice" in (await say(runtime, me, "send 0.1 0g to alice"))[0]
    assert (await say(runtime, me, "yes"))[0].startswith("Done: 0.1 0G sent to alice")
    assert (await say(runtime, me, "take a note call the bank"))[0].startswith("Saved your note")
    assert await runtime.reader.balance(alice) == before + 10**17
    assert (await say(runtime, me, "read my last note"))[0] == "Your note says: call the bank"


async def test_deleting_my_account_makes_my_stored_note_unreadable(runtime: Runtime) -> None:
    """DELETE /v1/me through the real sign-in routes: the user's history goes, and their key with it,
    so the note they stored on devnet storage no longer opens."""
    key = (7171).to_bytes(32, "big")
    wallet = str(Account.from_key(key).address)
    settings = runtime.settings.model_copy(update={"auth": AuthSettings(enabled=True)})
    async with open_auth(settings) as deps:
        assert deps is not None
        app = create_app(cast(AskService, object()), _healthy, 64 * 1024)
        mount_auth(app, deps)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        origin = "http://127.0.0.1:8080"
        async with httpx.AsyncClient(
            transport=transport, base_url=origin, headers={"origin": origin}
        ) as http:
            nonce = (await http.get("/v1/auth/nonce")).json()["nonce"]
            terms = SignInTerms(sign_in_expectations(settings), settings.chain.chain_id)
            text = sign_in_message(terms, wallet, nonce, datetime.now(UTC))
            signature = "0x" + Account.sign_message(encode_defunct(text=text), key).signature.hex()
            signed_in = await http.post("/v1/auth/verify", json={"message": text, "signature": signature})
            assert signed_in.status_code == 200, signed_in.text
            bearer = {"authorization": f"Bearer {signed_in.json()['access_token']}"}

            me = Dialogue(user=wallet)
            assert (await say(runtime, me, "store a note saying the safe code is 4711"))[0].startswith(
                "Saved"
            )
            assert (await say(runtime, me, "read my last note"))[0] == "Your note says: the safe code is 4711"

            deleted = await http.delete("/v1/me", headers=bearer)
            assert deleted.status_code == 200, deleted.text
            assert "isn't readable with your key" in (await say(runtime, me, "read my last note"))[0]
            # The same token is dead too: every session of the deleted user ended.
            assert (await http.get("/v1/me/history", headers=bearer)).status_code == 401
