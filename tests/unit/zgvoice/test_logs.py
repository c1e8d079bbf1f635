from __future__ import annotations

import json
import logging

import pytest

from voice_gateway import log_context
from zgvoice.logs import JsonFormatter

pytestmark = pytest.mark.unit


def record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("zgv.test", logging.INFO, __file__, 1, msg, None, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_a_log_line_is_one_json_object_with_the_turn_id_and_extras() -> None:
    token = log_context.turn_id.set("abc123")
    try:
        line = JsonFormatter().format(record("turn done", intent="balance", latency_ms={"total_ms": 1.5}))
    finally:
        log_context.turn_id.reset(token)
    payload = json.loads(line)
    assert payload["msg"] == "turn done"
    assert payload["level"] == "INFO"
    assert payload["turn_id"] == "abc123"
    assert payload["intent"] == "balance"
    assert payload["latency_ms"] == {"total_ms": 1.5}
    assert payload["ts"].endswith("Z")
    assert "\n" not in line


def test_no_turn_id_outside_a_turn() -> None:
    assert "turn_id" not in json.loads(JsonFormatter().format(record("idle")))


def test_exceptions_stay_on_one_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        rec = logging.LogRecord("zgv", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exc"]
