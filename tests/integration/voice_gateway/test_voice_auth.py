"""Sign-in on the turn routes and the voice WebSocket, through a real uvicorn server: one-time tickets
bound to Origin, sessions bound to the wallet, revocation closing the socket within a second, the
per-wallet cap, bearer tokens on `/v1/ask`, history recording, and tickets kept out of the logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.processes import free_port, poll_until, wait_until_async
from voice_gateway.analytics import SqliteAnalyticsStore
from voice_gateway.app import VoiceMount, create_app
from voice_gateway.audio.vad import SileroVAD
from voice_gateway.audio_store import AudioStore
from voice_gateway.auth.gate import SignInGate
from voice_gateway.auth.rate_limit import RateLimiter
from voice_gateway.auth.routes import AuthDeps, mount_auth
from voice_gateway.auth.service import AuthPolicy, AuthService
from voice_gateway.auth.session_store import MemorySessionStore
from voice_gateway.auth.siwe import SiweExpectations
from voice_gateway.auth.tokens import SigningKeys
from voice_gateway.history import HistoryRecorder
from voice_gateway.stt import Alternative, SttError
from voice_gateway.voice.registry import SessionRegistry
from voice_gateway.voice.session import VoiceConfig, VoiceDeps
from zerog_client.devnet import AnvilNode
from zgvoice.gateway import uvicorn_config
from zgvoice.runtime import open_runtime
from zgvoice.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

USER_A_KEY = (6161).to_bytes(32, "big")
USER_A = str(Account.from_key(USER_A_KEY).address)
USER_B_KEY = (6262).to_bytes(32, "big")
ORIGIN = "https://zgv.example"
OTHER_ORIGIN = "https://other.zgv.example"  # allowed to open sockets, but not with ORIGIN's tickets
EXPECT = SiweExpectations(
    domain="zgv.example", scheme="https", uri="https://zgv.example/login", chain_ids=frozenset({16602})
)
PER_USER_SESSIONS = 2
TURNS_PER_USER = 4


class _NoSpeech:
    """These tests type; a spoken turn would be a mistake in the test."""

    async def transcribe(self, pcm16k: bytes, *, interim: bool = False) -> str:
        raise SttError("stt_unavailable", "no recognizer in this test")

    async def alternatives(self, pcm16k: bytes, limit: int = 5) -> list[Alternative]:
        raise SttError("stt_unavailable", "no recognizer in this test")

    def busy(self) -> bool:
        return False


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the test runner keeps its own signal handlers


@dataclass
class Rig:
    port: int
    service: AuthService
    analytics: SqliteAnalyticsStore
    clock_offset: list[float]

    def http(self, origin: str = ORIGIN) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", headers={"origin": origin})

    def ws_url(self, ticket: str | None) -> str:
        query = "" if ticket is None else f"?ticket={ticket}"
        return f"ws://127.0.0.1:{self.port}/v1/voice{query}"


@pytest.fixture
async def rig(anvil: AnvilNode, tmp_path: Path) -> AsyncIterator[Rig]:
    port = free_port()
    settings = load_settings(
        chain={"rpc_url": anvil.rpc_url}, nlp={"classifier": False}, gateway={"port": port}
    )
    offset = [0.0]
    store = MemorySessionStore()
    analytics = SqliteAnalyticsStore(tmp_path / "analytics.db")
    await analytics.open()
    origins = frozenset({ORIGIN, OTHER_ORIGIN})
    service = AuthService(
        store,
        SigningKeys(Ed25519PrivateKey.generate()),
        EXPECT,
        [],
        clock=lambda: time.time() + offset[0],
        policy=AuthPolicy(allowed_origins=origins),
    )
    gate = SignInGate(
        service, RateLimiter(store, TURNS_PER_USER, 60, "turn-user"), HistoryRecorder(analytics)
    )
    async with open_runtime(settings) as runtime:
        deps = VoiceDeps(
            runtime.interpreter, _NoSpeech(), runtime.voices, settings.tts.engine, SileroVAD, VoiceConfig()
        )
        voice = VoiceMount(
            deps=deps,
            registry=SessionRegistry(32, 32, max_per_user=PER_USER_SESSIONS),
            allowed_origins=origins,
            audio_store=AudioStore(8, 60),
            upload_max_bytes=1024 * 1024,
            upload_max_seconds=10,
        )
        app = create_app(runtime.service, runtime.health, 64 * 1024, voice, gate=gate)
        limit = RateLimiter(store, 1000, 60, "http")
        mount_auth(app, AuthDeps(service, analytics, limit, limit, limit, origins))
        server = _Server(uvicorn_config(app, settings))
        serving = asyncio.ensure_future(server.serve())
        try:
            await wait_until_async(lambda: server.started or serving.done(), 30, "the server")
            assert not serving.done(), "the server did not start"
            yield Rig(port, service, analytics, offset)
        finally:
            server.should_exit = True
            await asyncio.wait([serving], timeout=15)
            await analytics.close()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def access_token(http: httpx.AsyncClient, key: bytes = USER_A_KEY) -> str:
    nonce = (await http.get("/v1/auth/nonce")).json()["nonce"]
    now = datetime.now(UTC)
    text = "\n".join(
        [
            "https://zgv.example wants you to sign in with your Ethereum account:",
            str(Account.from_key(key).address),
            "",
            "Sign in.",
            "",
            "URI: https://zgv.example/login",
            "Version: 1",
            "Chain ID: 16602",
            f"Nonce: {nonce}",
            f"Issued At: {_stamp(now - timedelta(seconds=5))}",
            f"Expiration Time: {_stamp(now + timedelta(minutes=5))}",
        ]
    )
    signature = "0x" + bytes(Account.sign_message(encode_defunct(text=text), key).signature).hex()
    response = await http.post("/v1/auth/verify", json={"message": text, "signature": signature})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def ticket_for(http: httpx.AsyncClient, token: str) -> str:
    response = await http.post("/v1/auth/ws-ticket", headers=bearer(token))
    assert response.status_code == 200, response.text
    return str(response.json()["ticket"])


async def refused_status(url: str, origin: str | None = ORIGIN) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin=origin):  # type: ignore[arg-type]  # str is an Origin
            pass
    return int(refused.value.response.status_code)


async def next_event(ws: ClientConnection, kind: str, timeout: float = 30.0) -> dict[str, Any]:
    with anyio.fail_after(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, str) and (event := json.loads(message))["type"] == kind:
                return dict(event)


async def started(ws: ClientConnection) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "start", "reply_mode": "text"}))
    return await next_event(ws, "ready")


async def test_the_socket_needs_a_good_ticket_before_it_is_accepted(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert await refused_status(rig.ws_url(None)) == 403
    assert await refused_status(rig.ws_url("not-a-ticket")) == 403
    assert await refused_status(rig.ws_url("A" * 22)) == 403  # well-formed, never issued
    reasons = [getattr(r, "reason", None) for r in caplog.records if r.name == "voice_gateway.auth.gate"]
    assert reasons == ["missing_ticket", "malformed_ticket", "unknown_ticket"]


async def test_a_ticket_opens_one_session_of_its_wallet_whose_turns_are_recorded(rig: Rig) -> None:
    async with rig.http() as http:
        ticket = await ticket_for(http, await access_token(http))
    async with connect(rig.ws_url(ticket), origin=ORIGIN) as ws:  # type: ignore[arg-type]
        ready = await started(ws)
        await ws.send(json.dumps({"type": "text", "text": "what is my balance"}))
        reply = await next_event(ws, "reply_text")
        assert reply["text"].startswith("You have ")
        await next_event(ws, "metrics")

        async def recorded() -> bool:
            return len(await rig.analytics.history(USER_A)) == 1

        await poll_until(recorded, 5, "the turn in the history")
        [turn] = await rig.analytics.history(USER_A)
        assert (turn.session_id, turn.transcript, turn.intent) == (
            ready["session_id"],
            "what is my balance",
            "balance",
        )
        assert turn.reply.startswith("You have ")
        assert "nlp_ms" in turn.latency_ms
        # The ticket was used once; it opens nothing again.
        assert await refused_status(rig.ws_url(ticket)) == 403

    async def ended() -> bool:
        sessions = (await rig.analytics.export(USER_A))["sessions"]
        return isinstance(sessions, list) and any(
            isinstance(s, dict) and s.get("ended_at") is not None for s in sessions
        )

    await poll_until(ended, 5, "the session's end in the history")
    export = await rig.analytics.export(USER_A)
    tool_calls = export["tool_calls"]
    assert isinstance(tool_calls, list)
    assert [call["tool"] for call in tool_calls if isinstance(call, dict)] == ["get_balance"]


async def test_a_socket_is_no_way_around_the_wallets_turn_limit(rig: Rig) -> None:
    async with rig.http() as http:
        ticket = await ticket_for(http, await access_token(http, USER_B_KEY))
    async with connect(rig.ws_url(ticket), origin=ORIGIN) as ws:  # type: ignore[arg-type]
        await started(ws)
        for _ in range(TURNS_PER_USER):
            await ws.send(json.dumps({"type": "text", "text": "what is the latest block"}))
            await next_event(ws, "metrics")
        await ws.send(json.dumps({"type": "text", "text": "what is the latest block"}))
        refused = await next_event(ws, "error")
        assert refused["code"] == "rate_limited"
        assert not refused.get("fatal")  # the session stays open; later turns wait for the window


async def test_a_ticket_from_another_origin_or_expired_is_refused(rig: Rig) -> None:
    async with rig.http() as http:
        token = await access_token(http)
        elsewhere = await ticket_for(http, token)
        late = await ticket_for(http, token)
    assert await refused_status(rig.ws_url(elsewhere), origin=OTHER_ORIGIN) == 403
    assert await refused_status(rig.ws_url(elsewhere), origin=None) == 403
    rig.clock_offset[0] = 31.0  # past the 30 s ticket lifetime
    assert await refused_status(rig.ws_url(late)) == 403


@pytest.mark.parametrize("how", ["revoke_user", "logout"])
async def test_ending_the_sign_in_closes_the_open_socket_within_a_second(rig: Rig, how: str) -> None:
    async with rig.http() as http:
        token = await access_token(http)
        ticket = await ticket_for(http, token)
        async with connect(rig.ws_url(ticket), origin=ORIGIN) as ws:  # type: ignore[arg-type]
            await started(ws)
            began = time.monotonic()
            if how == "revoke_user":
                await rig.service.revoke_user(USER_A)
            else:
                assert (await http.post("/v1/auth/logout", headers=bearer(token))).status_code == 200
            events: list[dict[str, Any]] = []
            with anyio.fail_after(1.0):
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        message = await ws.recv()
                        if isinstance(message, str):
                            events.append(json.loads(message))
                await ws.wait_closed()
            assert time.monotonic() - began < 1.0
            assert events[-1]["type"] == "error"
            assert (events[-1]["code"], events[-1]["fatal"]) == ("session_revoked", True)
            assert ws.close_code == 1008


async def test_one_wallet_has_at_most_its_cap_of_sessions(rig: Rig) -> None:
    async with rig.http() as http:
        token = await access_token(http)
        tickets = [await ticket_for(http, token) for _ in range(PER_USER_SESSIONS + 1)]
        other = await ticket_for(http, await access_token(http, USER_B_KEY))
    async with contextlib.AsyncExitStack() as stack:
        for ticket in tickets[:PER_USER_SESSIONS]:
            ws = await stack.enter_async_context(connect(rig.ws_url(ticket), origin=ORIGIN))  # type: ignore[arg-type]
            await started(ws)
        async with connect(rig.ws_url(tickets[-1]), origin=ORIGIN) as extra:  # type: ignore[arg-type]
            refusal = await next_event(extra, "error")
            assert (refusal["code"], refusal["fatal"]) == ("too_many_sessions", True)
            with pytest.raises(ConnectionClosed):
                await extra.recv()
            assert extra.close_code == 1013
        # Another wallet from the same client is not held back by the first one's cap.
        async with connect(rig.ws_url(other), origin=ORIGIN) as ws:  # type: ignore[arg-type]
            assert (await started(ws))["type"] == "ready"


async def test_asking_needs_a_bearer_token_and_is_recorded_for_that_wallet_only(rig: Rig) -> None:
    async with rig.http() as http:
        anonymous = await http.post("/v1/ask", json={"text": "what is my balance"})
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["error"]["code"] == "auth_failed"
        token = await access_token(http)
        in_query = await http.post("/v1/ask", params={"access_token": token}, json={"text": "help"})
        assert in_query.status_code == 401
        assert (await http.post("/v1/voice/query", content=b"RIFF")).status_code == 401

        for text in ("what is my balance", "help"):
            response = await http.post("/v1/ask", headers=bearer(token), json={"text": text})
            assert response.status_code == 200, response.text
        history = await http.get("/v1/me/history", headers=bearer(token))
        assert history.status_code == 200
        turns = history.json()["turns"]
        assert [t["transcript"] for t in turns] == ["help", "what is my balance"]  # newest first
        assert turns[1]["intent"] == "balance"
        assert "total_ms" in turns[1]["latency_ms"]

        other = await access_token(http, USER_B_KEY)
        assert (await http.get("/v1/me/history", headers=bearer(other))).json()["turns"] == []

        statuses = [
            (await http.post("/v1/ask", headers=bearer(token), json={"text": "help"})).status_code
            for _ in range(TURNS_PER_USER)
        ]
        assert statuses[-1] == 429
        limited = await http.post("/v1/ask", headers=bearer(token), json={"text": "help"})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1


async def test_tickets_never_reach_the_server_log(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with rig.http() as http:
        ticket = await ticket_for(http, await access_token(http))
    async with connect(rig.ws_url(ticket), origin=ORIGIN) as ws:  # type: ignore[arg-type]
        await started(ws)
    assert await refused_status(rig.ws_url(ticket)) == 403
    lines = [record.getMessage() for record in caplog.records]
    upgrades = [line for line in lines if "/v1/voice" in line]
    assert any("[accepted]" in line for line in upgrades), lines
    assert any("403" in line for line in upgrades), lines
    assert all("ticket=[redacted]" in line for line in upgrades), upgrades
    assert not any(ticket in line for line in lines)
