"""`GET /v1/voice`: the WebSocket route. Checks the Origin before accepting (CORS middleware does not
cover WebSockets), enforces session caps, and adapts Starlette's socket to the session's `Transport`."""

from __future__ import annotations

import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voice_gateway.voice.protocol import error_event
from voice_gateway.voice.registry import SessionRegistry
from voice_gateway.voice.session import VoiceDeps, VoiceSession

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013


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


def voice_router(deps: VoiceDeps, registry: SessionRegistry, allowed_origins: frozenset[str]) -> APIRouter:
    """The router serving `/v1/voice` with `deps` shared by all sessions."""
    router = APIRouter()

    @router.websocket("/v1/voice")
    async def voice(websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if origin is not None and origin not in allowed_origins:
            log.warning("voice connection refused: origin not allowed", extra={"origin": origin})
            await websocket.close(CLOSE_POLICY)  # before accept: the handshake fails with 403
            return
        client = websocket.client.host if websocket.client else "unknown"
        if not registry.try_open(client):
            await websocket.accept()
            await websocket.send_text(
                json.dumps(error_event("too_many_sessions", "too many voice sessions; try later", fatal=True))
            )
            await websocket.close(CLOSE_TRY_LATER)
            return
        try:
            await websocket.accept()
            await VoiceSession(deps, _StarletteTransport(websocket)).run()
        finally:
            registry.close(client)

    return router
