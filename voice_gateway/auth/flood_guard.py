"""A cheap first answer for a client that is flooding: once a per-IP limit has refused an address,
its further requests to the same routes are answered 429 right here, before routing, body reading
and the shared limiter, for a few seconds; then one request goes through to the limiter again.

The shared limiter (`RateLimiter`) stays the rule; this only keeps a refused client from costing a
full request each time, which on a small machine is what slowed everyone else during a flood. It is
per process (each replica benches what it has seen) and its memory is bounded.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

BENCH_S: Final = 5.0
MAX_BENCHED: Final = 100_000
_BODY: Final = json.dumps(
    {"error": {"code": "rate_limited", "message": "too many requests; try again later"}}
).encode()


class Bench:
    """Addresses a per-IP limit has refused, by limit, each until a moment a few seconds ahead.

    Args:
        routes: path prefix -> the name of the per-IP limit covering it (e.g. "/v1/auth/" ->
            "auth-ip").
        clock: monotonic seconds (injected by tests).
    """

    def __init__(self, routes: Mapping[str, str], clock: Callable[[], float] = time.monotonic) -> None:
        self._routes = tuple(routes.items())
        self._clock = clock
        self._until: dict[tuple[str, str], float] = {}

    def refused(self, limit: str, ip: str, retry_after_s: float) -> None:
        """The per-IP limit `limit` refused `ip`: answer it before routing for a while (at most
        `BENCH_S`, so a client back within its limit is never kept out for long)."""
        if len(self._until) >= MAX_BENCHED:
            self._forget_expired()
            if len(self._until) >= MAX_BENCHED:
                return  # full of live entries: the shared limiter still answers every request
        self._until[(limit, ip)] = self._clock() + min(BENCH_S, max(0.0, retry_after_s))

    def seconds_left(self, path: str, ip: str) -> float | None:
        """How long `ip` stays benched for `path`, or None when it is not."""
        for prefix, limit in self._routes:
            if path.startswith(prefix):
                until = self._until.get((limit, ip))
                if until is None:
                    return None
                left = until - self._clock()
                if left <= 0:
                    del self._until[(limit, ip)]
                    return None
                return left
        return None

    def _forget_expired(self) -> None:
        now = self._clock()
        for key in [key for key, until in self._until.items() if until <= now]:
            del self._until[key]


class FloodGuard:
    """ASGI middleware answering benched clients 429 (with Retry-After) before anything else runs."""

    def __init__(self, app: ASGIApp, bench: Bench) -> None:
        self._app = app
        self._bench = bench

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        left = None
        if scope["type"] == "http" and client:
            left = self._bench.seconds_left(scope.get("path", ""), client[0])
        if left is None:
            await self._app(scope, receive, send)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_BODY)).encode()),
            (b"retry-after", str(max(1, math.ceil(left))).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": _BODY})
