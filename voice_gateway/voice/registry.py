"""Caps on concurrent voice sessions: in all, per client address and, when signed in, per wallet."""

from __future__ import annotations

from collections import Counter


class SessionRegistry:
    """Counts open sessions; `try_open` refuses past any cap. Used on one event loop."""

    def __init__(self, max_sessions: int, max_per_client: int, max_per_user: int = 4) -> None:
        self._max = max_sessions
        self._max_per_client = max_per_client
        self._max_per_user = max_per_user
        self._per_client: Counter[str] = Counter()
        self._per_user: Counter[str] = Counter()

    @property
    def open_sessions(self) -> int:
        """How many sessions are open now."""
        return sum(self._per_client.values())

    def try_open(self, client: str, user: str | None = None) -> bool:
        """Count a new session for `client` (and signed-in `user`), unless a cap is reached."""
        if self.open_sessions >= self._max or self._per_client[client] >= self._max_per_client:
            return False
        if user is not None and self._per_user[user] >= self._max_per_user:
            return False
        self._per_client[client] += 1
        if user is not None:
            self._per_user[user] += 1
        return True

    def close(self, client: str, user: str | None = None) -> None:
        """Forget one session of `client` (and of `user`)."""
        self._per_client[client] -= 1
        if self._per_client[client] <= 0:
            del self._per_client[client]
        if user is not None:
            self._per_user[user] -= 1
            if self._per_user[user] <= 0:
                del self._per_user[user]
