"""Per-endpoint health: a latency average and a circuit breaker.

Closed: requests flow. After `failure_threshold` consecutive transport failures it opens and the
endpoint is skipped for `cooldown_s`; then one probe is let through (half-open) and its outcome
closes or re-opens the circuit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class EndpointHealth:
    """What the pool knows about one endpoint."""

    failure_threshold: int = 3
    cooldown_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    latency_ms: float | None = None  # exponentially weighted moving average
    consecutive_failures: int = 0
    state: BreakerState = BreakerState.CLOSED
    opened_at: float = 0.0
    probe_in_flight: bool = field(default=False)

    def available(self) -> bool:
        """Whether a request may go to this endpoint now (claims the probe when half-open)."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self.clock() - self.opened_at >= self.cooldown_s:
            self.state = BreakerState.HALF_OPEN
        if self.state is BreakerState.HALF_OPEN and not self.probe_in_flight:
            self.probe_in_flight = True
            return True
        return False

    def record_success(self, latency_ms: float) -> None:
        """A request completed (the node answered, even with a JSON-RPC error)."""
        self.latency_ms = latency_ms if self.latency_ms is None else 0.8 * self.latency_ms + 0.2 * latency_ms
        self.consecutive_failures = 0
        self.state = BreakerState.CLOSED
        self.probe_in_flight = False

    def record_failure(self) -> None:
        """A request failed in transport (refused, timed out, 5xx, not JSON-RPC)."""
        self.consecutive_failures += 1
        self.probe_in_flight = False
        if self.state is BreakerState.HALF_OPEN or self.consecutive_failures >= self.failure_threshold:
            self.state = BreakerState.OPEN
            self.opened_at = self.clock()

    def score(self) -> float:
        """Lower is better: the latency average, unknown endpoints first so they get measured."""
        return -1.0 if self.latency_ms is None else self.latency_ms
