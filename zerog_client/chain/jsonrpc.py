"""A small JSON-RPC 2.0 client over HTTP (aiohttp): single calls and batches, with typed errors.

Kept apart from web3 so the pool can fail over between endpoints and batch any mix of requests
(web3 refuses sends inside its batches).
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Sequence
from typing import Any

import aiohttp

from zerog_client.errors import ChainRequestError, ChainUnreachableError

# Response bodies above this are refused: a node never needs more for the calls we make.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class JsonRpcError(ChainRequestError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, rpc_code: int, rpc_message: str, data: Any = None) -> None:
        super().__init__(f"{method} failed: {rpc_message} (code {rpc_code})")
        self.method = method
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message
        self.data = data


Call = tuple[str, Sequence[Any]]


class HttpJsonRpc:
    """One endpoint. Safe for concurrent use; keeps its connections alive between calls."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(2.0, timeout_s))
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"HttpJsonRpc({self.url!r})"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=64, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def close(self) -> None:
        """Close the connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, payload: Any) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        try:
            async with self._client().post(
                # A stream, not raw bytes: uploads of segments make multi-megabyte bodies.
                self.url,
                data=io.BytesIO(body),
                headers={"Content-Type": "application/json"},
            ) as response:
                if response.status >= 500 or response.status in (408, 429):
                    raise ChainUnreachableError(f"{self.url} answered HTTP {response.status}")
                body_bytes = bytearray()
                async for chunk in response.content.iter_chunked(1 << 16):
                    body_bytes += chunk
                    if len(body_bytes) > MAX_RESPONSE_BYTES:
                        raise ChainUnreachableError(f"{self.url} sent an oversized response")
                raw = bytes(body_bytes)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ChainUnreachableError(f"cannot reach the chain at {self.url}") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ChainUnreachableError(f"{self.url} did not answer JSON-RPC") from exc

    async def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Call one method and return its `result`.

        Raises:
            ChainUnreachableError: transport failure (retryable on another endpoint).
            JsonRpcError: the node answered with an error.
        """
        request_id = next(self._ids)
        answer = await self._post(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
        )
        return _result_of(method, answer)

    async def batch(self, calls: Sequence[Call]) -> list[Any | JsonRpcError]:
        """Send `calls` as one JSON-RPC batch; each item is its result or its `JsonRpcError`, in order.

        Raises:
            ChainUnreachableError: the batch as a whole failed (nothing is known about any item).
        """
        if not calls:
            return []
        first = next(self._ids)
        for _ in range(len(calls) - 1):
            next(self._ids)
        payload = [
            {"jsonrpc": "2.0", "id": first + i, "method": method, "params": list(params)}
            for i, (method, params) in enumerate(calls)
        ]
        answer = await self._post(payload)
        if not isinstance(answer, list):
            # Some nodes answer a batch they refuse with one error object.
            error = _error_of(calls[0][0], answer) if isinstance(answer, dict) else None
            raise error or ChainUnreachableError(f"{self.url} did not answer the batch")
        # Only well-formed ids count; an item with a list or object id cannot be ours.
        by_id = {
            item["id"]: item for item in answer if isinstance(item, dict) and isinstance(item.get("id"), int)
        }
        results: list[Any | JsonRpcError] = []
        for i, (method, _) in enumerate(calls):
            item = by_id.get(first + i)
            if item is None:
                raise ChainUnreachableError(f"{self.url} left a batch item unanswered")
            error = _error_of(method, item)
            if error is None and "result" not in item:
                raise ChainUnreachableError(f"{self.url} answered a batch item with neither result nor error")
            results.append(error if error is not None else item["result"])
        return results


def _error_of(method: str, answer: dict[str, Any]) -> JsonRpcError | None:
    error = answer.get("error")
    if error is None:
        return None
    if not isinstance(error, dict):
        return JsonRpcError(method, -32603, str(error)[:500])
    code = error.get("code")
    # A malformed code is still an error answer from the node, not a transport failure.
    rpc_code = code if isinstance(code, int) and not isinstance(code, bool) else -32603
    return JsonRpcError(method, rpc_code, str(error.get("message", ""))[:500], error.get("data"))


def _result_of(method: str, answer: Any) -> Any:
    if not isinstance(answer, dict):
        raise ChainUnreachableError("the node did not answer a JSON-RPC object")
    error = _error_of(method, answer)
    if error is not None:
        raise error
    if "result" not in answer:
        raise ChainUnreachableError("the node's answer has no result")
    return answer["result"]
