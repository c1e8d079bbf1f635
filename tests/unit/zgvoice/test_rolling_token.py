"""Service tokens the gateway mints for the cluster's tool servers: valid for the server, renewed
before they expire, and refused up front without a key."""

from __future__ import annotations

import pytest

from mcp_servers.auth import JwtTokenVerifier
from zgvoice.cli_errors import UsageError
from zgvoice.mcp_cli import McpEnv, RollingToken

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

SECRET = "s" * 40
URL = "http://127.0.0.1:8765/mcp"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_tokens_verify_for_the_audience_and_renew_after_two_thirds_of_their_life() -> None:
    clock = Clock()
    token = RollingToken(
        McpEnv(token_secret=SECRET), URL, ["chain:read"], "zgv-gateway", ttl_s=300, clock=clock
    )
    first = token()
    verifier = JwtTokenVerifier(SECRET, audience=URL, issuer="http://127.0.0.1:8765")
    access = await verifier.verify_token(first)
    assert access is not None
    assert access.scopes == ["chain:read"]
    clock.now += 199
    assert token() == first
    clock.now += 2
    assert token() != first
    assert await verifier.verify_token(token()) is not None


def test_without_a_key_it_fails_at_construction() -> None:
    with pytest.raises(UsageError, match="ZGV_MCP__TOKEN_SECRET"):
        RollingToken(McpEnv(), URL, ["chain:read"], "zgv-gateway")


def test_the_token_never_shows_in_its_repr() -> None:
    token = RollingToken(McpEnv(token_secret=SECRET), URL, ["chain:read"], "zgv-gateway")
    assert token() not in repr(token)
