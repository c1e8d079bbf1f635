"""A minimal JSON-RPC 2.0 server over HTTP POST (aiohttp), shared by the storage node and the indexer.

Positional parameters only (as the 0G nodes use them), batches, notifications, a body size cap,
and errors encoded the jsonrpsee way by handlers raising `RpcError`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from zerog_client.devnet.storage_node.errors import RpcError

_log = logging.getLogger(__name__)

Handler = Callable[[list[Any]], Awaitable[Any]]
"""A method: receives the positional params, returns the JSON-serializable result."""

PARSE_ERROR = {"code": -32700, "message": "Parse error"}
INVALID_REQUEST = {"code": -32600, "message": "Invalid request"}
METHOD_NOT_FOUND = {"code": -32601, "message": "Method not found"}
DEFAULT_MAX_BODY = 100 * 1024 * 1024
"""The storage node's `max_request_body_size`: 100 MiB."""
MAX_BATCH = 1000


class JsonRpcServer:
    """Serves a table of methods on `http://127.0.0.1:<port>/`; owns its aiohttp runner."""

    def __init__(self, methods: Mapping[str, Handler], *, max_body: int = DEFAULT_MAX_BODY) -> None:
        """Prepare the server; nothing listens until `start()`.

        Args:
            methods: method name -> handler.
            max_body: the largest request body accepted, in bytes (HTTP 413 above).
        """
        self._methods = dict(methods)
        self._max_body = max_body
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """The server's URL (valid once started)."""
        return f"http://127.0.0.1:{self._port}"

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 only.

        Args:
            port: the TCP port, 0 for any free one.
        """
        app = web.Application(client_max_size=self._max_body)
        app.router.add_post("/", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()  # over `max_body` aiohttp answers 413 itself
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return web.json_response(_error_response(None, PARSE_ERROR))
        if isinstance(payload, list):
            if not payload or len(payload) > MAX_BATCH:
                return web.json_response(_error_response(None, INVALID_REQUEST))
            responses = [r for r in [await self.dispatch(item) for item in payload] if r is not None]
            return web.json_response(responses) if responses else web.Response(status=204)
        response = await self.dispatch(payload)
        return web.json_response(response) if response is not None else web.Response(status=204)

    async def dispatch(self, call: Any) -> dict[str, Any] | None:
        """Run one request object; returns its response, or None for a notification.

        Args:
            call: the decoded request object.
        """
        if (
            not isinstance(call, dict)
            or call.get("jsonrpc") != "2.0"
            or not isinstance(call.get("method"), str)
        ):
            return _error_response(call.get("id") if isinstance(call, dict) else None, INVALID_REQUEST)
        request_id = call.get("id")
        is_notification = "id" not in call
        handler = self._methods.get(call["method"])
        params = call.get("params", [])
        if handler is None:
            response = _error_response(request_id, METHOD_NOT_FOUND)
        elif not isinstance(params, list):
            response = _error_response(
                request_id,
                {"code": -32602, "message": "Invalid params", "data": "expected positional params"},
            )
        else:
            try:
                result = await handler(params)
                response = {"jsonrpc": "2.0", "id": request_id, "result": result}
            except RpcError as exc:
                response = _error_response(request_id, exc.to_json())
            except Exception as exc:  # noqa: BLE001 - a bug in one handler must not drop the connection
                _log.exception("JSON-RPC method %s failed", call["method"])
                response = _error_response(
                    request_id, {"code": -32603, "message": "Internal error", "data": str(exc)}
                )
        return None if is_notification else response


def _error_response(request_id: Any, error: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def params_at(params: list[Any], count: int, required: int | None = None) -> list[Any]:
    """Check the positional param count and pad optional ones with None.

    Args:
        params: the request's params.
        count: parameters the method takes.
        required: how many of them are mandatory (all by default).

    Raises:
        RpcError: too few or too many params.
    """
    needed = count if required is None else required
    if not needed <= len(params) <= count:
        raise RpcError(-32602, "Invalid params", f"expected {needed}..{count} params, got {len(params)}")
    return params + [None] * (count - len(params))
