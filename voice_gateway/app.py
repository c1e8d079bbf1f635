"""The HTTP API: `POST /v1/ask` and `GET /healthz` (and the voice routes when mounted).

With sign-in on (a `SignInGate`), the turn routes need a bearer access token, run as the caller's
wallet and are recorded in its history; without one they behave as they always have.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nlp import TextInputError
from voice_gateway.ask import AskResult, AskService, NoSpeechError
from voice_gateway.audio.decode import AudioDecodeError
from voice_gateway.audio_store import AudioStore
from voice_gateway.auth.gate import SignInGate
from voice_gateway.auth.refusal import Refusal
from voice_gateway.auth.tokens import AccessClaims
from voice_gateway.history import CompletedTurn
from voice_gateway.stt import SttError
from voice_gateway.voice.registry import SessionRegistry
from voice_gateway.voice.session import VoiceDeps
from voice_gateway.voice.ws import voice_router

log = logging.getLogger(__name__)

# Health probe: returns (healthy, details) without raising.
HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]

_INPUT_STATUS = {"text_too_long": 413, "invalid_encoding": 400, "empty_text": 422}
_AUDIO_STATUS = {"unsupported_audio": 415, "corrupt_audio": 422, "audio_too_long": 413}
STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class VoiceMount:
    """The voice side of the gateway: WebSocket sessions and whole-file queries."""

    deps: VoiceDeps
    registry: SessionRegistry
    allowed_origins: frozenset[str]
    audio_store: AudioStore
    upload_max_bytes: int
    upload_max_seconds: float


class _RequestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error body of the API: `{"error": {"code", "message"}}`."""
    return JSONResponse(
        status_code=status, content={"error": {"code": code, "message": message}}, headers=headers
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _RequestError(413, "body_too_large", f"the request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _RequestError(413, "body_too_large", f"the request body is larger than {limit} bytes")
    return bytes(body)


def _parse_ask_body(raw: bytes) -> str:
    # Parsed by hand rather than by a pydantic body model so every malformed shape gets its own
    # code, and so `curl -d` (form content type) works as well as application/json.
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _RequestError(400, "invalid_encoding", "the request body is not valid UTF-8") from exc
    try:
        payload = json.loads(decoded)
    except json.JSONDecodeError as exc:
        raise _RequestError(
            400, "invalid_json", f'the body must be JSON like {{"text": "..."}}: {exc}'
        ) from exc
    if not isinstance(payload, dict) or "text" not in payload:
        raise _RequestError(422, "missing_text", 'the body must be a JSON object with a "text" field')
    unknown = sorted(set(payload) - {"text"})
    if unknown:
        raise _RequestError(422, "unknown_field", f"unknown field(s): {', '.join(unknown)}")
    text = payload["text"]
    if not isinstance(text, str):
        raise _RequestError(422, "invalid_text", '"text" must be a string')
    return text


async def _caller(gate: SignInGate | None, request: Request) -> AccessClaims | None:
    """The signed-in caller when sign-in is on (refused with `Refusal` otherwise), else None."""
    return None if gate is None else await gate.caller(request)


async def _record(gate: SignInGate | None, caller: AccessClaims | None, result: AskResult) -> None:
    if gate is None or caller is None:
        return
    turn = CompletedTurn(result.turn_id, result.outcome, result.latency_ms, time.time())
    await gate.history.http_turn(caller.sub, caller.role, caller.sid, turn)


def create_app(
    service: AskService,
    health: HealthCheck,
    max_body_bytes: int,
    voice: VoiceMount | None = None,
    gate: SignInGate | None = None,
) -> FastAPI:
    """Build the gateway app around ready components (the caller owns their lifecycles).

    With `gate`, the turn routes and the voice socket require sign-in.
    """
    app = FastAPI(title="zgvoice gateway", version="0.1.0")
    if voice is not None:
        _mount_voice(app, service, voice, gate)

    @app.exception_handler(_RequestError)
    async def _request_error(_: Request, exc: _RequestError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(Refusal)
    async def _gate_refusal(_: Request, exc: Refusal) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "something went wrong on our side")

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        healthy, details = await health()
        if voice is not None:
            details["voice"] = {"sessions": voice.registry.open_sessions}
        return JSONResponse(status_code=200 if healthy else 503, content={"ok": healthy, **details})

    @app.post("/v1/ask")
    async def ask(request: Request) -> JSONResponse:
        caller = await _caller(gate, request)  # before the body is read
        text = _parse_ask_body(await _read_body(request, max_body_bytes))
        try:
            if caller is None:
                result = await service.ask(text, speak=False)
            else:
                result = await service.ask(text, speak=False, user=caller.sub)
        except TextInputError as exc:
            return error_response(_INPUT_STATUS.get(exc.code, 422), exc.code, exc.message)
        await _record(gate, caller, result)
        return JSONResponse(result.as_json())

    return app


class _CrossOriginStatic:
    """Serves the web component's files to pages on allowed origins (module scripts and worklets
    loaded from another origin need CORS); the API itself stays same-origin."""

    def __init__(self, app: ASGIApp, allowed_origins: frozenset[str]) -> None:
        self._app = app
        self._allowed = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        if origin is None or origin not in self._allowed:
            await self._app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = origin
                headers.add_vary_header("Origin")
            await send(message)

        await self._app(scope, receive, send_with_cors)


def _mount_voice(app: FastAPI, service: AskService, voice: VoiceMount, gate: SignInGate | None) -> None:
    app.include_router(voice_router(voice.deps, voice.registry, voice.allowed_origins, gate))
    static = StaticFiles(directory=STATIC_DIR, check_dir=False)
    app.mount("/static", _CrossOriginStatic(static, voice.allowed_origins), name="static")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def mic_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.post("/v1/voice/query")
    async def voice_query(request: Request) -> JSONResponse:
        caller = await _caller(gate, request)  # before the upload is read
        data = await _read_body(request, voice.upload_max_bytes)
        try:
            if caller is None:
                result = await service.ask_audio(
                    data, voice.deps.stt, max_seconds=voice.upload_max_seconds, speak=True
                )
            else:
                result = await service.ask_audio(
                    data, voice.deps.stt, max_seconds=voice.upload_max_seconds, speak=True, user=caller.sub
                )
        except AudioDecodeError as exc:
            return error_response(_AUDIO_STATUS.get(exc.code, 422), exc.code, exc.message)
        except NoSpeechError as exc:
            return error_response(422, exc.code, exc.message)
        except SttError as exc:
            return error_response(503, exc.code, exc.message)
        except TextInputError as exc:
            return error_response(_INPUT_STATUS.get(exc.code, 422), exc.code, exc.message)
        await _record(gate, caller, result)
        body = result.as_json()
        if result.audio is not None:
            body["audio_url"] = f"/v1/audio/{voice.audio_store.put(result.audio)}"
        return JSONResponse(body)

    @app.get("/v1/audio/{audio_id}")
    async def reply_audio(audio_id: str) -> Response:
        wav = voice.audio_store.get(audio_id) if len(audio_id) <= 64 else None
        if wav is None:
            return error_response(404, "audio_not_found", "no such audio, or it has expired")
        return Response(content=wav, media_type="audio/wav", headers={"Cache-Control": "private, max-age=60"})
