"""Several JSON-RPC endpoints of one chain behind one interface: health, latency-aware choice,
failover with backoff, circuit breakers, and a chain-id check that fails closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from zerog_client.chain.breaker import EndpointHealth
from zerog_client.chain.jsonrpc import Call, HttpJsonRpc, JsonRpcError
from zerog_client.errors import ChainUnreachableError, WrongChainError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Endpoint:
    """One URL of the pool with its transport and health."""

    url: str
    transport: HttpJsonRpc
    health: EndpointHealth
    chain_verified: bool = False
    wrong_chain: int | None = None  # the chain id it served instead; such an endpoint is never used


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """Retry and health settings."""

    timeout_s: float = 10.0
    attempts: int = 3  # endpoints tried per request, at most
    backoff_s: float = 0.05  # doubled per attempt, with 20% jitter
    failure_threshold: int = 3
    cooldown_s: float = 5.0
    health_interval_s: float = 10.0
    prefer_within_ms: float = 20.0


@dataclass(slots=True)
class RpcPool:
    """Use as an async context manager. Requests go to the healthiest, fastest endpoint that
    serves `chain_id`; transport failures fail over to the next one."""

    urls: Sequence[str]
    chain_id: int
    config: PoolConfig = field(default_factory=PoolConfig)
    endpoints: list[Endpoint] = field(init=False)
    _health_task: asyncio.Task[None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("an RPC pool needs at least one endpoint")
        self.endpoints = [
            Endpoint(
                url,
                HttpJsonRpc(url, self.config.timeout_s),
                EndpointHealth(self.config.failure_threshold, self.config.cooldown_s),
            )
            for url in self.urls
        ]

    async def __aenter__(self) -> RpcPool:
        try:
            await self.open()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def open(self, *, background_health: bool = True) -> None:
        """Check every endpoint's chain id; at least one must serve the configured chain.

        Raises:
            WrongChainError: every reachable endpoint serves another chain.
            ChainUnreachableError: no endpoint answers.
        """
        await asyncio.gather(*(self._verify(e) for e in self.endpoints))
        if not any(e.chain_verified for e in self.endpoints):
            wrong = [e for e in self.endpoints if e.wrong_chain is not None]
            if wrong:
                served = wrong[0].wrong_chain
                raise WrongChainError(
                    f"{wrong[0].url} serves chain {served}, but chain {self.chain_id} is configured"
                )
            raise ChainUnreachableError(f"cannot reach the chain at {', '.join(self.urls)}")
        if background_health and self._health_task is None:
            self._health_task = asyncio.ensure_future(self._health_loop())

    async def close(self) -> None:
        """Stop the health checks and close every connection."""
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
            self._health_task = None
        await asyncio.gather(*(e.transport.close() for e in self.endpoints))

    async def _verify(self, endpoint: Endpoint) -> None:
        started = time.perf_counter()
        try:
            served = int(await endpoint.transport.call("eth_chainId"), 16)
        except (ChainUnreachableError, JsonRpcError, ValueError, TypeError):
            endpoint.health.record_failure()
            return
        endpoint.health.record_success((time.perf_counter() - started) * 1000)
        if served != self.chain_id:
            if endpoint.wrong_chain is None:
                log.error(
                    "endpoint serves the wrong chain; it will not be used",
                    extra={"url": endpoint.url, "served": served, "configured": self.chain_id},
                )
            endpoint.wrong_chain = served
            endpoint.chain_verified = False
            return
        endpoint.chain_verified = True

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_interval_s)
            # Re-verifying also catches an endpoint that was re-pointed to another chain.
            await asyncio.gather(*(self._verify(e) for e in self.endpoints if e.wrong_chain is None))

    def _candidates(self) -> list[Endpoint]:
        # Latency-aware, but endpoints within `prefer_within_ms` of the fastest keep their configured
        # order: the operator's primary stays primary unless it is clearly slower.
        usable = [(i, e) for i, e in enumerate(self.endpoints) if e.wrong_chain is None]
        measured = [e.health.score() for _, e in usable if e.chain_verified and e.health.score() >= 0]
        best = min(measured, default=0.0)

        def rank(item: tuple[int, Endpoint]) -> tuple[bool, bool, float]:
            index, endpoint = item
            score = endpoint.health.score()
            near = score < 0 or score <= best + self.config.prefer_within_ms
            return (not endpoint.chain_verified, not near, float(index) if near else score)

        return [endpoint for _, endpoint in sorted(usable, key=rank)]

    async def _with_failover(self, request: str, send: Any) -> Any:
        last: ChainUnreachableError | None = None
        tried: set[str] = set()
        for attempt in range(self.config.attempts):
            endpoint = next(
                (e for e in self._candidates() if e.url not in tried and e.health.available()), None
            )
            if endpoint is None:
                break
            tried.add(endpoint.url)
            if not endpoint.chain_verified:
                await self._verify(endpoint)
                if not endpoint.chain_verified:
                    continue
            started = time.perf_counter()
            try:
                result = await send(endpoint.transport)
            except asyncio.CancelledError:
                endpoint.health.probe_in_flight = False  # a cancelled probe must not block the endpoint
                raise
            except ChainUnreachableError as exc:
                endpoint.health.record_failure()
                last = exc
                log.warning(
                    "rpc endpoint failed, failing over",
                    extra={
                        "url": endpoint.url,
                        "request": request,
                        "error": str(exc),
                        "cause": repr(exc.__cause__),
                    },
                )
                delay = self.config.backoff_s * (2**attempt)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # backoff between endpoints
                continue
            except JsonRpcError:
                endpoint.health.record_success((time.perf_counter() - started) * 1000)
                raise
            endpoint.health.record_success((time.perf_counter() - started) * 1000)
            return result
        raise last or ChainUnreachableError(f"no healthy endpoint for chain {self.chain_id}")

    async def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Call `method` on the best endpoint, failing over on transport errors.

        Raises:
            ChainUnreachableError: every endpoint tried failed in transport.
            JsonRpcError: the node answered with an error (not retried: it would answer the same).
        """
        return await self._with_failover(method, lambda t: t.call(method, params))

    async def batch(self, calls: Sequence[Call]) -> list[Any | JsonRpcError]:
        """One JSON-RPC batch on the best endpoint (the whole batch fails over together)."""
        if not calls:
            return []
        return list(await self._with_failover(f"batch of {len(calls)}", lambda t: t.batch(calls)))
