"""Runs planned tool calls through MCP clients, one per server. Tools are reached only over MCP."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Generator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent, Tool

from task_interpreter.pins import Pins, fingerprint
from task_interpreter.plan import ResultRef, ToolCall

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """A server behind streamable HTTP that wants a bearer token (our cluster deployment)."""

    url: str
    # A fixed token, or a function returning the current one (called per request, so it may renew).
    token: str | Callable[[], str]

    def __repr__(self) -> str:
        return f"HttpTarget(url={self.url!r}, token=<hidden>)"


@dataclass(frozen=True, slots=True)
class LazyTarget:
    """An in-process server built on its first call (one that is slow to build and rarely used)."""

    build: Callable[[], MCPServer]


# Where a server is: an in-process server object (in-memory transport), one built on first use, a
# streamable HTTP URL (with or without a token), or a command to run over stdio.
McpTarget = MCPServer | StdioServerParameters | str | HttpTarget | LazyTarget


@dataclass(frozen=True, slots=True)
class ToolError:
    """A failed call: a stable code and a human message."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one tool call."""

    call: ToolCall
    data: dict[str, Any] | None
    error: ToolError | None
    latency_ms: float

    @property
    def ok(self) -> bool:
        """True when the tool succeeded."""
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        """The result as it appears in a turn's JSON."""
        out: dict[str, Any] = {**self.call.as_json(), "ok": self.ok, "latency_ms": round(self.latency_ms, 3)}
        if self.error is not None:
            out["error"] = {"code": self.error.code, "message": self.error.message}
        else:
            out["result"] = self.data
        return out


def _error_of(result: CallToolResult) -> ToolError:
    structured = result.structured_content or {}
    body = structured.get("error")
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return ToolError(code=body["code"], message=str(body.get("message", "")))
    text = " ".join(block.text for block in result.content if isinstance(block, TextContent))
    return ToolError(code="tool_failed", message=text or "the tool failed")


class ToolExecutor:
    """Holds one connected MCP client per server name; use as an async context manager."""

    def __init__(
        self, targets: dict[str, McpTarget], timeout_s: float = 15.0, pins: Pins | None = None
    ) -> None:
        """Connect to `targets` on entry.

        Args:
            targets: server name -> where it is.
            timeout_s: per-call timeout.
            pins: vetted tool fingerprints per server; a pinned server's tools run only if they
                match. None: no pinning (tests of a single known server).
        """
        self._targets = targets
        self._timeout_s = timeout_s
        self._pins = pins
        self._clients: dict[str, Client] = {}
        self._vetted: dict[str, set[str]] = {}
        self._tools: dict[str, list[Tool]] = {}
        self._stack = AsyncExitStack()
        self._lazy_lock = anyio.Lock()

    async def __aenter__(self) -> ToolExecutor:
        try:
            for name, target in self._targets.items():
                if not isinstance(target, LazyTarget):
                    await self._connect(name, target)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._clients.clear()
        await self._stack.aclose()

    async def _connect(self, name: str, target: McpTarget) -> None:
        built = await anyio.to_thread.run_sync(target.build) if isinstance(target, LazyTarget) else target
        client = await self._client_for(built)
        try:
            self._clients[name] = await self._stack.enter_async_context(client)
        except (MCPError, ExceptionGroup, OSError) as exc:
            # The SDK reports refusals (401, 403) and dead servers from inside its task groups.
            raise McpConnectError(f"cannot connect to the {name} tool server: {_first_cause(exc)}") from exc
        if self._pins is not None:
            self._vetted[name] = await self._vet(name, self._clients[name])

    async def _client_for(self, target: MCPServer | StdioServerParameters | str | HttpTarget) -> Client:
        if not isinstance(target, HttpTarget):
            return Client(target, read_timeout_seconds=self._timeout_s)
        http = await self._stack.enter_async_context(
            httpx2.AsyncClient(auth=_Bearer(target.token), timeout=self._timeout_s)
        )
        return Client(
            streamable_http_client(target.url, http_client=http), read_timeout_seconds=self._timeout_s
        )

    async def _vet(self, server: str, client: Client) -> set[str]:
        assert self._pins is not None
        pinned = self._pins.get(server, {})
        vetted = set()
        for tool in (await client.list_tools()).tools:
            if pinned.get(tool.name) == fingerprint(tool):
                vetted.add(tool.name)
                self._tools.setdefault(server, []).append(tool)
            else:
                log.warning(
                    "tool definition not vetted; it will not be called",
                    extra={"server": server, "tool": tool.name},
                )
        return vetted

    def vetted_tools(self) -> list[tuple[str, Tool]]:
        """(server, tool) of every connected server's vetted tools (a planner may offer them)."""
        return [(server, tool) for server, tools in self._tools.items() for tool in tools]

    async def run(self, call: ToolCall) -> ToolResult:
        """Run one call. Never raises for a tool's failure: it comes back as `ToolResult.error`."""
        started = time.perf_counter()
        target = self._targets.get(call.server)
        if call.server not in self._clients and isinstance(target, LazyTarget):
            async with self._lazy_lock:
                if call.server not in self._clients:
                    try:
                        await self._connect(call.server, target)
                    except McpConnectError as exc:
                        return ToolResult(
                            call, None, ToolError("tool_unavailable", str(exc)), _ms_since(started)
                        )
        client = self._clients.get(call.server)
        if client is None:
            return ToolResult(call, None, ToolError("unknown_server", f"no server named {call.server}"), 0.0)
        if self._pins is not None and call.tool not in self._vetted.get(call.server, set()):
            message = f"{call.server}/{call.tool} is not a vetted tool definition (it changed or is unknown)"
            return ToolResult(call, None, ToolError("tool_not_vetted", message), 0.0)
        try:
            result = await client.call_tool(call.tool, call.arguments)
        except MCPError as exc:
            error = ToolError("tool_unavailable", f"{call.server}/{call.tool}: {exc}")
            return ToolResult(call, None, error, _ms_since(started))
        if result.is_error:
            return ToolResult(call, None, _error_of(result), _ms_since(started))
        return ToolResult(call, dict(result.structured_content or {}), None, _ms_since(started))

    async def run_all(
        self, calls: tuple[ToolCall, ...], on_result: Callable[[ToolResult], Awaitable[None]] | None = None
    ) -> list[ToolResult]:
        """Run calls in order, stopping at the first failure (later calls may depend on it).

        `on_result` hears each result as soon as it is known.
        """
        results: list[ToolResult] = []
        for call in calls:
            call = _resolved(call, results)
            result = await self.run(call)
            results.append(result)
            if on_result is not None:
                await on_result(result)
            if not result.ok:
                break
        return results


class _Bearer(httpx2.Auth):
    """Sets `Authorization: Bearer` on every request, asking a provider for the token each time."""

    def __init__(self, token: str | Callable[[], str]) -> None:
        self._token = token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        token = self._token if isinstance(self._token, str) else self._token()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def _resolved(call: ToolCall, earlier: list[ToolResult]) -> ToolCall:
    """`call` with its `ResultRef` arguments replaced by the earlier results they name."""
    if not any(isinstance(v, ResultRef) for v in call.arguments.values()):
        return call
    arguments = {}
    for key, value in call.arguments.items():
        if isinstance(value, ResultRef):
            data = earlier[value.call].data or {}
            value = data.get(value.field)
        arguments[key] = value
    return ToolCall(call.server, call.tool, arguments)


class McpConnectError(Exception):
    """A tool server could not be reached or refused the connection (bad token, wrong host, down)."""


def _first_cause(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
