"""Ids that every log line of a turn carries; set where a turn starts, read by the log formatter."""

from __future__ import annotations

from contextvars import ContextVar

turn_id: ContextVar[str | None] = ContextVar("zgv_turn_id", default=None)
session_id: ContextVar[str | None] = ContextVar("zgv_session_id", default=None)
