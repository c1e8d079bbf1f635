"""Tickets in URLs never reach the logs."""

from __future__ import annotations

import logging

import pytest

from voice_gateway.log_redaction import QueryRedactionFilter, install_query_redaction, redact

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/v1/voice?ticket=abcDEF_-123", "/v1/voice?ticket=[redacted]"),
        ("/v1/voice?lang=en&ticket=abc&x=1", "/v1/voice?lang=en&ticket=[redacted]&x=1"),
        ('"WebSocket /v1/voice?TICKET=abc" 403', '"WebSocket /v1/voice?TICKET=[redacted]" 403'),
        ("/v1/voice?noticket=abc", "/v1/voice?noticket=abc"),
        ("/v1/voice", "/v1/voice"),
    ],
)
def test_ticket_values_are_redacted(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_the_filter_rewrites_message_and_arguments_and_keeps_the_record() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("1.2.3.4:5", "/v1/voice?ticket=secret"),
        None,
    )
    assert QueryRedactionFilter().filter(record) is True
    assert "secret" not in record.getMessage()
    assert "ticket=[redacted]" in record.getMessage()


def test_installing_twice_adds_one_filter() -> None:
    install_query_redaction()
    install_query_redaction()
    filters = [f for f in logging.getLogger("uvicorn.error").filters if isinstance(f, QueryRedactionFilter)]
    assert len(filters) == 1
