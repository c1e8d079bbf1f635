"""The HTTP API: `POST /v1/ask` and `GET /healthz`."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from nlp import TextInputError
from voice_gateway.ask import AskService

log = logging.getLogger(__name__)

# Health probe: returns (healthy, details) without raising.
HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]

_INPUT_STATUS = {"text_too_long": 413, "invalid_encoding": 400, "empty_text": 422}


class _RequestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The one error body of the API: `{"error": {"code", "message"}}`."""
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}})


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


def create_app(service: AskService, health: HealthCheck, max_body_bytes: int) -> FastAPI:
    """Build the gateway app around ready components (the caller owns their lifecycles)."""
    app = FastAPI(title="zgvoice gateway", version="0.1.0")

    @app.exception_handler(_RequestError)
    async def _request_error(_: Request, exc: _RequestError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

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
        return JSONResponse(status_code=200 if healthy else 503, content={"ok": healthy, **details})

    @app.post("/v1/ask")
    async def ask(request: Request) -> JSONResponse:
        text = _parse_ask_body(await _read_body(request, max_body_bytes))
        try:
            result = await service.ask(text, speak=False)
        except TextInputError as exc:
            return error_response(_INPUT_STATUS.get(exc.code, 422), exc.code, exc.message)
        return JSONResponse(result.as_json())

    return app
