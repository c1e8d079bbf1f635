"""Streamable HTTP MCP as a stateless OAuth resource server, driven by the SDK's own client (§2)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import jwt
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from starlette.types import ASGIApp

from mcp_servers.auth import generate_ed25519_pem, mint_token
from mcp_servers.http import HttpServerSettings, build_http_app

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SECRET = "test-secret-" + "x" * 40
ACCEPT = {"Accept": "application/json, text/event-stream"}
CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def tiny_server(name: str = "replica-a") -> MCPServer:
    server = MCPServer("tiny")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def whoami() -> str:
        """Which replica answered."""
        return name

    return server


def bound_socket() -> socket.socket:
    """A listening socket on 127.0.0.1: clients may connect before uvicorn accepts, so no waiting."""
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@asynccontextmanager
async def serving(*apps: tuple[ASGIApp, socket.socket]) -> AsyncIterator[None]:
    servers = [uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None)) for app, _ in apps]
    async with anyio.create_task_group() as group:
        for server, (_, sock) in zip(servers, apps, strict=True):
            group.start_soon(server.serve, [sock])
        try:
            yield
        finally:
            for server in servers:
                server.should_exit = True
    for _, sock in apps:
        sock.close()


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def settings_for(port: int, **overrides: Any) -> HttpServerSettings:
    values: dict[str, Any] = {"resource_url": f"http://127.0.0.1:{port}/mcp", "token_secret": SECRET}
    values.update(overrides)
    return HttpServerSettings.model_validate(values)


def token_for(settings: HttpServerSettings, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "key": SECRET,
        "subject": "alice",
        "audience": settings.audience,
        "scopes": ["chain:read"],
        "ttl_s": 600,
        "issuer": settings.issuer_url,
    }
    args.update(overrides)
    return mint_token(**args)


@asynccontextmanager
async def single(**overrides: Any) -> AsyncIterator[tuple[HttpServerSettings, str]]:
    """One server on a free loopback port: (settings, endpoint URL)."""
    sock = bound_socket()
    port = port_of(sock)
    clock: Callable[[], float] = overrides.pop("clock", time.monotonic)
    settings = settings_for(port, **overrides)
    app = build_http_app(tiny_server(), settings, host="127.0.0.1", port=port, clock=clock)
    async with serving((app, sock)):
        yield settings, settings.audience


async def test_sdk_client_lists_and_calls_with_a_valid_token() -> None:
    async with single() as (settings, url):
        headers = {"Authorization": f"Bearer {token_for(settings)}"}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            tools = (await client.list_tools()).tools
            result = await client.call_tool("whoami", {})
    assert [tool.name for tool in tools] == ["whoami"]
    assert not result.is_error
    assert result.structured_content == {"result": "replica-a"}


async def test_eddsa_tokens_verify_with_the_public_key_only() -> None:
    private_pem, public_pem = generate_ed25519_pem()
    async with single(token_algorithm="EdDSA", token_secret=None, token_public_key=public_pem) as (
        settings,
        url,
    ):
        good = token_for(settings, key=private_pem, algorithm="EdDSA")
        hs256 = token_for(settings)
        async with httpx2.AsyncClient(headers=ACCEPT) as http:
            ok = await http.post(url, json=CALL, headers={"Authorization": f"Bearer {good}"})
            refused = await http.post(url, json=CALL, headers={"Authorization": f"Bearer {hs256}"})
    assert ok.status_code == 200
    assert ok.json()["result"]["structuredContent"] == {"result": "replica-a"}
    assert refused.status_code == 401


async def test_missing_token_is_401_with_resource_metadata_challenge() -> None:
    async with single() as (settings, url), httpx2.AsyncClient(headers=ACCEPT) as http:
        response = await http.post(url, json=LIST)
        metadata_url = settings.issuer_url + "/.well-known/oauth-protected-resource/mcp"
        metadata = await http.get(metadata_url)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{metadata_url}"' in challenge
    assert metadata.status_code == 200
    body = metadata.json()
    assert body["resource"] == settings.audience
    assert [server.rstrip("/") for server in body["authorization_servers"]] == [settings.issuer_url]
    assert body["scopes_supported"] == ["chain:read"]
    assert body["bearer_methods_supported"] == ["header"]


def _alg_none(settings: HttpServerSettings) -> str:
    now = int(time.time())
    claims = {
        "iss": settings.issuer_url,
        "sub": "alice",
        "aud": settings.audience,
        "iat": now,
        "exp": now + 600,
        "scope": "chain:read",
    }
    return jwt.encode(claims, None, algorithm="none")


BAD_TOKENS: dict[str, Callable[[HttpServerSettings], str]] = {
    "wrong audience": lambda s: token_for(s, audience="https://gateway.example.com/api"),
    "expired": lambda s: token_for(s, now=time.time() - 700),
    "not yet valid": lambda s: token_for(s, now=time.time() + 3600),
    "bad signature": lambda s: token_for(s, key="another-secret-" + "y" * 40),
    "tampered": lambda s: token_for(s)[:-4] + ("AAAA" if not token_for(s).endswith("AAAA") else "BBBB"),
    "alg none": _alg_none,
    "wrong issuer": lambda s: token_for(s, issuer="https://evil.example.com"),
    "garbage": lambda s: "not-a-jwt",
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_bad_tokens_are_401(kind: str) -> None:
    async with single() as (settings, url), httpx2.AsyncClient(headers=ACCEPT) as http:
        response = await http.post(
            url, json=CALL, headers={"Authorization": f"Bearer {BAD_TOKENS[kind](settings)}"}
        )
    assert response.status_code == 401, kind
    assert "resource_metadata=" in response.headers["www-authenticate"]


async def test_missing_required_scope_is_403_insufficient_scope() -> None:
    async with single() as (settings, url), httpx2.AsyncClient(headers=ACCEPT) as http:
        token = token_for(settings, scopes=["kv:read"])
        response = await http.post(url, json=CALL, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_tokens_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with single() as (settings, url), httpx2.AsyncClient(headers=ACCEPT) as http:
        good = token_for(settings)
        bad = token_for(settings, audience="https://gateway.example.com/api")
        assert (
            await http.post(url, json=CALL, headers={"Authorization": f"Bearer {good}"})
        ).status_code == 200
        assert (
            await http.post(url, json=CALL, headers={"Authorization": f"Bearer {bad}"})
        ).status_code == 401
    assert "bearer token refused" in caplog.text
    for token in (good, bad):
        for part in token.split("."):
            assert part not in caplog.text


async def test_evil_origin_is_403_before_auth() -> None:
    async with single() as (settings, url), httpx2.AsyncClient(headers=ACCEPT) as http:
        token = token_for(settings)
        with_token = await http.post(
            url, json=CALL, headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example"}
        )
        without = await http.post(url, json=CALL, headers={"Origin": "https://evil.example"})
    assert with_token.status_code == 403
    assert without.status_code == 403


async def test_allowed_origin_passes() -> None:
    async with (
        single(allowed_origins=["https://app.example"]) as (settings, url),
        httpx2.AsyncClient(headers=ACCEPT) as http,
    ):
        response = await http.post(
            url,
            json=CALL,
            headers={"Authorization": f"Bearer {token_for(settings)}", "Origin": "https://app.example"},
        )
    assert response.status_code == 200


async def test_wrong_host_is_421() -> None:
    async with single() as (settings, url), httpx2.AsyncClient(headers=ACCEPT) as http:
        response = await http.post(
            url,
            json=CALL,
            headers={"Authorization": f"Bearer {token_for(settings)}", "Host": "evil.example:8000"},
        )
        metadata = await http.get(
            settings.issuer_url + "/.well-known/oauth-protected-resource/mcp",
            headers={"Host": "evil.example"},
        )
    assert response.status_code == 421
    assert metadata.status_code == 421


async def test_wildcard_bind_still_validates_host_and_origin() -> None:
    # Settings for a 0.0.0.0 deployment: only the public name is a valid Host.
    sock = bound_socket()
    settings = HttpServerSettings(resource_url="https://mcp.zgv.test/mcp", token_secret=SECRET)  # type: ignore[arg-type]
    app = build_http_app(tiny_server(), settings, host="0.0.0.0", port=port_of(sock))
    url = f"http://127.0.0.1:{port_of(sock)}/mcp"
    auth = {"Authorization": f"Bearer {token_for(settings)}"}
    async with serving((app, sock)), httpx2.AsyncClient(headers=ACCEPT) as http:
        loopback_host = await http.post(url, json=CALL, headers=auth)
        public_host = await http.post(url, json=CALL, headers={**auth, "Host": "mcp.zgv.test"})
        evil_origin = await http.post(
            url, json=CALL, headers={**auth, "Host": "mcp.zgv.test", "Origin": "https://evil.example"}
        )
    assert loopback_host.status_code == 421
    assert public_host.status_code == 200
    assert evil_origin.status_code == 403


async def test_oversized_body_is_413() -> None:
    async with single() as (settings, url), httpx2.AsyncClient(headers=ACCEPT) as http:
        big = dict(CALL, params={"name": "whoami", "arguments": {"pad": "x" * (300 * 1024)}})
        auth = {"Authorization": f"Bearer {token_for(settings)}", "Content-Type": "application/json"}
        declared = await http.post(url, content=json.dumps(big).encode(), headers=auth)

        async def chunks() -> AsyncIterator[bytes]:
            body = json.dumps(big).encode()
            for start in range(0, len(body), 64 * 1024):
                yield body[start : start + 64 * 1024]

        streamed = await http.post(url, content=chunks(), headers=auth)
    assert declared.status_code == 413
    assert streamed.status_code == 413


async def test_tools_call_rate_limit_is_429_with_retry_after_per_principal() -> None:
    now = [1000.0]
    async with (
        single(tools_call_burst=2, tools_call_rate_per_s=0.5, clock=lambda: now[0]) as (settings, url),
        httpx2.AsyncClient(headers=ACCEPT) as http,
    ):
        alice = {"Authorization": f"Bearer {token_for(settings)}"}
        bob = {"Authorization": f"Bearer {token_for(settings, subject='bob')}"}
        first = [(await http.post(url, json=CALL, headers=alice)).status_code for _ in range(2)]
        limited = await http.post(url, json=CALL, headers=alice)
        listing = await http.post(url, json=LIST, headers=alice)
        other = await http.post(url, json=CALL, headers=bob)
        now[0] += 2.0  # one token refilled at 0.5/s
        later = await http.post(url, json=CALL, headers=alice)
    assert first == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert listing.status_code == 200  # only tools/call is metered
    assert other.status_code == 200
    assert later.status_code == 200


class RoundRobin(httpx2.AsyncBaseTransport):
    """A toy load balancer: each request goes to the next replica, Host left as the client sent it."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = ports
        self._next = 0
        self.hits = [0] * len(ports)
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = self._next % len(self._ports)
        self._next += 1
        self.hits[index] += 1
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._ports[index])
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_two_replicas_with_one_secret_serve_one_client_alternately() -> None:
    public = "http://mcp.zgv.test/mcp"
    socks = [bound_socket(), bound_socket()]
    settings = HttpServerSettings(resource_url=public, token_secret=SECRET)  # type: ignore[arg-type]
    apps = [
        (build_http_app(tiny_server(name), settings, host="0.0.0.0", port=port_of(sock)), sock)
        for name, sock in zip(["replica-a", "replica-b"], socks, strict=True)
    ]
    balancer = RoundRobin([port_of(sock) for sock in socks])
    headers = {"Authorization": f"Bearer {token_for(settings)}"}
    async with (
        serving(*apps),
        httpx2.AsyncClient(headers=headers, transport=balancer) as http,
        Client(streamable_http_client(public, http_client=http)) as client,
    ):
        tools = (await client.list_tools()).tools
        answers = []
        for _ in range(4):
            result = await client.call_tool("whoami", {})
            assert not result.is_error
            assert result.structured_content is not None
            answers.append(result.structured_content["result"])
    assert [tool.name for tool in tools] == ["whoami"]
    assert set(answers) == {"replica-a", "replica-b"}
    assert min(balancer.hits) >= 2
