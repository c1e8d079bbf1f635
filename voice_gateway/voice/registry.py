"""Caps on concurrent voice sessions, in all and per client address."""

from __future__ import annotations

from collections import Counter


class SessionRegistry:
    """Counts open sessions; `try_open` refuses past either cap. Used on one event loop."""

    def __init__(self, max_sessions: int, max_per_client: int) -> None:
        self._max = max_sessions
        self._max_per_client = max_per_client
        self._per_client: Counter[str] = Counter()

    @property
    def open_sessions(self) -> int:
        """How many sessions are open now."""
        return sum(self._per_client.values())

    def try_open(self, client: str) -> bool:
        """Count a new session for `client`, unless a cap is reached."""
        if self.open_sessions >= self._max or self._per_client[client] >= self._max_per_client:
            return False
        self._per_client[client] += 1
        return True

    def close(self, client: str) -> None:
        """Forget one session of `client`."""
        self._per_client[client] -= 1
        if self._per_client[client] <= 0:
            del self._per_client[client]
