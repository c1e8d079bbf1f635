"""Streamable HTTP for the MCP servers: a stateless OAuth 2.1 resource server (SECURITY.md §2).

Layers, outermost first, each answering before the next runs:

1. Host / Origin validation (421 / 403), for every path, whatever the bind address.
2. Request body cap (413), default 256 KiB.
3. The SDK app: bearer auth via `JwtTokenVerifier` (401 + `WWW-Authenticate` with `resource_metadata`,
   403 `insufficient_scope`), RFC 9728 metadata at `/.well-known/oauth-protected-resource/<path>`,
   then a per-principal token bucket on `tools/call` (429 + `Retry-After`), then the stateless
   streamable HTTP transport with JSON responses (no session affinity, so any replica answers).

Rate limits are per replica (in memory): with N replicas behind a load balancer a principal gets at
most N times the configured rate.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Final, Self
from urllib.parse import urlsplit

import uvicorn
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import principal_components
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import (
    RequestBodyLimitMiddleware,
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, model_validator
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_servers.auth import Algorithm, JwtTokenVerifier, canonical_resource

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES: Final = 256 * 1024
_LOOPBACK: Final = ("127.0.0.1", "localhost", "::1")


class HttpServerSettings(BaseModel):
    """How one HTTP MCP server authenticates and limits its callers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource_url: AnyHttpUrl = Field(
        description="canonical URL of this MCP endpoint as clients reach it (the token audience), "
        "e.g. https://mcp.example.com/mcp; the same on every replica"
    )
    issuer: AnyHttpUrl | None = Field(
        default=None, description="token issuer (`iss`); defaults to the resource URL's origin"
    )
    token_algorithm: Algorithm = "HS256"
    token_secret: SecretStr | None = Field(
        default=None, description="HS256 shared secret (>= 32 bytes), or the EdDSA private key PEM"
    )
    token_public_key: str | None = Field(
        default=None, description="EdDSA public key PEM (verify-only replicas need only this)"
    )
    required_scopes: list[str] = Field(default_factory=lambda: ["chain:read"])
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header values accepted besides the resource URL's host ('name:*' = any port)",
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="browser Origins accepted; requests without Origin are allowed"
    )
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)
    tools_call_rate_per_s: float = Field(default=2.0, gt=0, description="sustained tools/call rate")
    tools_call_burst: int = Field(default=20, gt=0, description="tools/call burst per principal")
    max_tracked_principals: int = Field(default=10_000, gt=0)
    token_leeway_s: int = Field(default=30, ge=0, le=300)

    @model_validator(mode="after")
    def _check_keys(self) -> Self:
        if self.token_algorithm == "HS256" and self.token_secret is None:
            raise ValueError("token_secret is required for HS256")
        if self.token_algorithm == "EdDSA" and self.token_secret is None and self.token_public_key is None:
            raise ValueError("EdDSA needs token_public_key (or the private key in token_secret)")
        return self

    @property
    def audience(self) -> str:
        return canonical_resource(str(self.resource_url))

    @property
    def issuer_url(self) -> str:
        if self.issuer is not None:
            return str(self.issuer).rstrip("/")
        parts = urlsplit(str(self.resource_url))
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def path(self) -> str:
        return urlsplit(str(self.resource_url)).path.rstrip("/") or "/mcp"

    def verifier(self) -> JwtTokenVerifier:
        """The token verifier these settings describe."""
        key: str
        if self.token_algorithm == "EdDSA" and self.token_public_key is not None:
            key = self.token_public_key
        else:
            assert self.token_secret is not None  # enforced by the validator
            key = self.token_secret.get_secret_value()
        return JwtTokenVerifier(
            key,
            audience=self.audience,
            issuer=self.issuer_url,
            algorithm=self.token_algorithm,
            leeway_s=self.token_leeway_s,
        )

    def transport_security(
        self, host: str | None = None, port: int | None = None
    ) -> TransportSecuritySettings:
        """Explicit DNS-rebinding protection: the resource URL's host, the configured hosts, and for a
        loopback bind the loopback names on the bound port."""
        hosts = list(self.allowed_hosts)
        parts = urlsplit(str(self.resource_url))
        hosts.append(parts.netloc)
        if parts.port is None and parts.hostname is not None:
            default = 443 if parts.scheme == "https" else 80
            hosts.append(f"{parts.netloc}:{default}")
        if host in _LOOPBACK and port is not None:
            hosts += [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=sorted(set(hosts)),
            allowed_origins=sorted(set(self.allowed_origins)),
        )


class TokenBucketLimiter:
    """Per-key token buckets, the least recently used key evicted beyond `max_keys`."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, cost: int = 1) -> float:
        """Spend `cost` tokens from `key`'s bucket: 0.0 when allowed, else seconds until it would be."""
        now = self._clock()
        tokens, stamp = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - stamp) * self._rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self._rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


class _HostOriginGuard:
    """Host/Origin validation before anything else, on every path (the SDK checks only its endpoint,
    and only after authentication)."""

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings) -> None:
        self.app = app
        self._check = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = await self._check.validate_request(Request(scope), is_post=False)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _ToolsCallRateLimit:
    """Per-tool scopes and a token bucket per verified principal on `tools/call` (runs after the
    bearer middleware, which has already checked the server-wide scopes)."""

    def __init__(
        self, app: ASGIApp, limiter: TokenBucketLimiter, tool_scopes: Mapping[str, str] | None = None
    ) -> None:
        self.app = app
        self._limiter = limiter
        self._tool_scopes = dict(tool_scopes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user") if scope["type"] == "http" else None
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not isinstance(user, AuthenticatedUser)
        ):
            await self.app(scope, receive, send)
            return
        # The body is already capped by the outer limit, so reading it whole is bounded.
        messages: list[Message] = []
        body = bytearray()
        more = True
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            more = bool(message.get("more_body", False))
        names = _tools_called(bytes(body))
        granted = set(user.access_token.scopes)
        missing = sorted({self._tool_scopes[n] for n in names if n in self._tool_scopes} - granted)
        if missing:
            # Like the server-wide check: 403 insufficient_scope, naming what to ask for (step-up).
            description = f"Required scope: {' '.join(missing)}"
            response = JSONResponse(
                {"error": "insufficient_scope", "error_description": description},
                status_code=403,
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(missing)}", '
                    f'error_description="{description}"'
                },
            )
            await response(scope, receive, send)
            return
        calls = len(names)
        if calls:
            client_id, issuer, subject = principal_components(user.access_token)
            wait = self._limiter.take(f"{issuer}|{client_id}|{subject}", calls)
            if wait > 0:
                logger.warning("tools/call rate limit hit for client %s", client_id)
                response = JSONResponse(
                    {"error": "rate_limited", "error_description": "too many tool calls; retry later"},
                    status_code=429,
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
                await response(scope, receive, send)
                return

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)


def _tools_called(body: bytes) -> list[str]:
    """The tool names of every `tools/call` in a JSON-RPC message or batch ("" when unnamed)."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return []  # the transport answers malformed JSON with its own error
    items = payload if isinstance(payload, list) else [payload]
    names = []
    for item in items:
        if isinstance(item, dict) and item.get("method") == "tools/call":
            params = item.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            names.append(name if isinstance(name, str) else "")
    return names


def configure_auth(server: MCPServer, settings: HttpServerSettings) -> None:
    """Make `server` an OAuth resource server for `settings` (token verifier + RFC 9728 metadata)."""
    # Strings, validated by AuthSettings itself, so a path-less issuer keeps its exact spelling.
    server.settings.auth = AuthSettings.model_validate(
        {
            "issuer_url": settings.issuer_url,
            "resource_server_url": settings.audience,
            "required_scopes": list(settings.required_scopes),
            "validate_token_resource": True,
        }
    )
    server._token_verifier = settings.verifier()  # the SDK reads it when building the app


def build_http_app(
    server: MCPServer,
    settings: HttpServerSettings,
    *,
    host: str | None = None,
    port: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    tool_scopes: Mapping[str, str] | None = None,
) -> ASGIApp:
    """The ASGI app serving `server` over stateless streamable HTTP with auth and limits.

    Args:
        server: the MCP server (its auth settings are replaced by `settings`).
        settings: resource URL, token keys, allowed hosts/origins and limits.
        host: the bind address; a loopback bind also accepts loopback Host headers on `port`.
        port: the bind port.
        clock: monotonic clock for the rate limiter (tests advance it instead of sleeping).
        tool_scopes: the extra scope a tool needs beyond the server-wide ones (e.g. sending needs
            `tx:send`); tools not named need only the server-wide scopes.
    """
    configure_auth(server, settings)
    security = settings.transport_security(host, port)
    app = server.streamable_http_app(
        streamable_http_path=settings.path,
        json_response=True,
        stateless_http=True,
        max_request_body_size=settings.max_body_bytes,
        transport_security=security,
        host=host or "0.0.0.0",
    )
    limiter = TokenBucketLimiter(
        settings.tools_call_rate_per_s,
        settings.tools_call_burst,
        max_keys=settings.max_tracked_principals,
        clock=clock,
    )
    # Innermost user middleware: runs after the SDK's authentication middleware has set scope["user"].
    app.user_middleware.append(Middleware(_ToolsCallRateLimit, limiter=limiter, tool_scopes=tool_scopes))
    capped = RequestBodyLimitMiddleware(app, settings.max_body_bytes)
    return _HostOriginGuard(capped, security)


async def serve_http(
    server: MCPServer,
    host: str,
    port: int,
    settings: HttpServerSettings,
    *,
    sock: socket.socket | None = None,
    tool_scopes: Mapping[str, str] | None = None,
) -> None:
    """Serve `server` on `host:port` with uvicorn until cancelled or signalled.

    Args:
        server: the MCP server.
        host: the bind address (also decides whether loopback Host headers are accepted).
        port: the bind port.
        settings: auth, allowed hosts/origins and limits.
        sock: an already listening socket for `host:port` (socket activation, tests); uvicorn
            binds its own when omitted.
        tool_scopes: per-tool scopes (see `build_http_app`).
    """
    app = build_http_app(server, settings, host=host, port=port, tool_scopes=tool_scopes)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        server_header=False,
        access_log=False,
    )
    if sock is not None:
        # Connections accepted from a socket we were handed inherit its options; without NODELAY,
        # Nagle and delayed ACKs add ~40 ms to every small request (measured on loopback).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await uvicorn.Server(config).serve(sockets=[sock] if sock is not None else None)


__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "HttpServerSettings",
    "TokenBucketLimiter",
    "build_http_app",
    "configure_auth",
    "serve_http",
]
