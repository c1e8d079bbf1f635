"""`GET /v1/voice`: the WebSocket route. Checks the Origin before accepting (CORS middleware does not
cover WebSockets), enforces session caps, and adapts Starlette's socket to the session's `Transport`.

With sign-in on (a `SignInGate`), the upgrade must also carry a one-time `?ticket=`, redeemed with
the request's Origin before accepting; the session then belongs to the ticket's wallet, is re-checked
while open (a revoked session is closed), and its turns are recorded in the user's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Final

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voice_gateway.auth.gate import SignInGate
from voice_gateway.auth.service import WsGrant
from voice_gateway.history import SessionHistory
from voice_gateway.voice.protocol import error_event
from voice_gateway.voice.registry import SessionRegistry
from voice_gateway.voice.session import VoiceDeps, VoiceSession

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013
# How long a closed session's remaining history writes may take before they are abandoned.
HISTORY_DRAIN_S: Final = 2.0


class _StarletteTransport:
    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def receive(self) -> bytes | str | None:
        try:
            message = await self._ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        if data is not None:
            return bytes(data)
        text = message.get("text")
        return str(text) if text is not None else None

    async def send_text(self, data: str) -> None:
        await self._ws.send_text(data)

    async def send_bytes(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def close(self, code: int, reason: str = "") -> None:
        if self._ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):  # the peer may have closed it already
                await self._ws.close(code, reason)


def voice_router(
    deps: VoiceDeps,
    registry: SessionRegistry,
    allowed_origins: frozenset[str],
    gate: SignInGate | None = None,
) -> APIRouter:
    """The router serving `/v1/voice` with `deps` shared by all sessions; sign-in required with `gate`."""
    router = APIRouter()

    @router.websocket("/v1/voice")
    async def voice(websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if origin is not None and origin not in allowed_origins:
            log.warning("voice connection refused: origin not allowed", extra={"origin": origin})
            await websocket.close(CLOSE_POLICY)  # before accept: the handshake fails with 403
            return
        grant: WsGrant | None = None
        if gate is not None:
            grant = await gate.redeem(websocket)
            if grant is None:
                await websocket.close(CLOSE_POLICY)  # before accept: 403
                return
        client = websocket.client.host if websocket.client else "unknown"
        user = grant.address if grant is not None else None
        if not registry.try_open(client, user):
            await websocket.accept()
            await websocket.send_text(
                json.dumps(error_event("too_many_sessions", "too many voice sessions; try later", fatal=True))
            )
            await websocket.close(CLOSE_TRY_LATER)
            return
        try:
            await websocket.accept()
            transport = _StarletteTransport(websocket)
            if gate is None or grant is None:
                await VoiceSession(deps, transport).run()
            else:
                await _signed_in_session(deps, transport, gate, grant)
        finally:
            registry.close(client, user)

    return router


async def _signed_in_session(
    deps: VoiceDeps, transport: _StarletteTransport, gate: SignInGate, grant: WsGrant
) -> None:
    """Run a signed-in session with its two owned helpers, the revocation watch and the history
    writer; both end with the session."""
    history = SessionHistory(gate.history, grant.address, grant.role)
    session = VoiceSession(
        deps,
        transport,
        user=grant.address,
        on_turn=history.add,
        admit_turn=lambda: gate.admit_turn(grant.address),
    )

    async def end(code: str, message: str) -> None:
        await session.end(code, message, CLOSE_POLICY)

    writer = asyncio.ensure_future(history.run(session.id))
    watcher = asyncio.ensure_future(gate.watch(grant, end))
    try:
        await session.run()
    finally:
        watcher.cancel()
        await asyncio.wait([watcher])
        if not watcher.cancelled() and watcher.exception() is not None:
            log.error("the session watch failed", exc_info=watcher.exception())
        await history.finish(writer, HISTORY_DRAIN_S)
