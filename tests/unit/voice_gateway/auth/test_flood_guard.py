"""The flood guard: a client a per-IP limit refused is answered 429 before routing, for its own
limit's routes only, for a few seconds at most, and then goes back to the shared limiter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from voice_gateway.auth import flood_guard
from voice_gateway.auth.flood_guard import BENCH_S, Bench, FloodGuard

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

ROUTES = {"/v1/auth/": "auth-ip", "/v1/me": "http-ip"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_refused_address_is_benched_for_its_limits_routes_only() -> None:
    clock = Clock()
    bench = Bench(ROUTES, clock)
    bench.refused("auth-ip", "10.0.0.1", 60.0)
    assert bench.seconds_left("/v1/auth/nonce", "10.0.0.1") == BENCH_S  # never the whole window
    assert bench.seconds_left("/v1/me/history", "10.0.0.1") is None
    assert bench.seconds_left("/v1/auth/nonce", "10.0.0.2") is None
    assert bench.seconds_left("/healthz", "10.0.0.1") is None
    clock.now += BENCH_S
    assert bench.seconds_left("/v1/auth/nonce", "10.0.0.1") is None


def test_a_short_retry_after_benches_for_that_long() -> None:
    clock = Clock()
    bench = Bench(ROUTES, clock)
    bench.refused("http-ip", "10.0.0.1", 1.5)
    assert bench.seconds_left("/v1/me/history", "10.0.0.1") == 1.5


def test_the_bench_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flood_guard, "MAX_BENCHED", 3)
    clock = Clock()
    bench = Bench(ROUTES, clock)
    for n in range(3):
        bench.refused("auth-ip", f"10.0.0.{n}", 60)
    bench.refused("auth-ip", "10.0.0.9", 60)  # full of live entries: not benched, still limited
    assert bench.seconds_left("/v1/auth/x", "10.0.0.9") is None
    clock.now += BENCH_S
    bench.refused("auth-ip", "10.0.0.9", 60)  # the expired ones make room
    assert bench.seconds_left("/v1/auth/x", "10.0.0.9") == BENCH_S


async def test_the_middleware_answers_benched_clients_without_the_app() -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    clock = Clock()
    bench = Bench(ROUTES, clock)
    guarded: Any = FloodGuard(app, bench)
    transport = httpx.ASGITransport(app=guarded, client=("10.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        assert (await client.get("/v1/auth/nonce")).status_code == 200
        bench.refused("auth-ip", "10.0.0.1", 60)
        refused = await client.get("/v1/auth/nonce")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "5"
        assert refused.json()["error"]["code"] == "rate_limited"
        assert (await client.get("/healthz")).status_code == 200
        clock.now += BENCH_S
        assert (await client.get("/v1/auth/nonce")).status_code == 200
    assert calls == ["/v1/auth/nonce", "/healthz", "/v1/auth/nonce"]
