from __future__ import annotations

import json
from typing import Any

import pytest

from voice_gateway.voice.protocol import (
    Cancel,
    Confirm,
    Interrupt,
    ProtocolError,
    Start,
    Stop,
    Text,
    UpdateContext,
    error_event,
    event,
    parse_client_message,
)

pytestmark = pytest.mark.unit

SECRET = "hunter2-secret-value"


def parse(payload: Any) -> object:
    return parse_client_message(json.dumps(payload))


def rejected(raw: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(raw)
    return caught.value


# --- every message type --------------------------------------------------------------------------


def test_start_with_defaults() -> None:
    message = parse({"type": "start"})
    assert isinstance(message, Start)
    assert (message.reply_mode, message.language, message.interim_results) == ("voice", "en", True)
    assert message.protocol is None
    assert message.voice is None, "no voice asked for: the server's configured voice is used"


def test_start_with_every_field() -> None:
    message = parse(
        {
            "type": "start",
            "protocol": "zgv-voice/1",
            "reply_mode": "text",
            "voice": "espeak",
            "language": "en",
            "interim_results": False,
        }
    )
    assert message == Start(
        type="start",
        protocol="zgv-voice/1",
        reply_mode="text",
        voice="espeak",
        language="en",
        interim_results=False,
    )


def test_text() -> None:
    assert parse({"type": "text", "text": "what is my balance"}) == Text(
        type="text", text="what is my balance"
    )


@pytest.mark.parametrize("length", [0, 1, 2000])
def test_text_up_to_2000_characters(length: int) -> None:
    message = parse({"type": "text", "text": "x" * length})
    assert isinstance(message, Text)
    assert len(message.text) == length


@pytest.mark.parametrize(
    ("payload", "played_ms"),
    [
        ({"type": "interrupt"}, None),
        ({"type": "interrupt", "played_ms": None}, None),
        ({"type": "interrupt", "played_ms": 0}, 0),
        ({"type": "interrupt", "played_ms": 1450}, 1450),
        ({"type": "interrupt", "played_ms": 3_600_000}, 3_600_000),
    ],
)
def test_interrupt(payload: dict[str, Any], played_ms: int | None) -> None:
    assert parse(payload) == Interrupt(type="interrupt", played_ms=played_ms)


@pytest.mark.parametrize(("kind", "cls"), [("confirm", Confirm), ("cancel", Cancel), ("stop", Stop)])
def test_messages_without_fields(kind: str, cls: type) -> None:
    assert isinstance(parse({"type": kind}), cls)


def test_update_context_with_nothing_changes_nothing() -> None:
    assert parse({"type": "update_context"}) == UpdateContext(type="update_context")


def test_update_context_with_every_field() -> None:
    message = parse(
        {
            "type": "update_context",
            "instructions": "i" * 4000,
            "persona": "p" * 200,
            "reply_mode": "text",
            "voice": "espeak",
        }
    )
    assert isinstance(message, UpdateContext)
    assert (len(message.instructions or ""), len(message.persona or "")) == (4000, 200)
    assert (message.reply_mode, message.voice) == ("text", "espeak")


def test_whitespace_around_the_json_is_fine() -> None:
    assert isinstance(parse_client_message('  \n{"type": "stop"}\n '), Stop)


# --- bad_message ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "not json", '{"type": "text", "text": "hi"', "{'type': 'stop'}", "\x00"])
def test_not_json_is_a_bad_message(raw: str) -> None:
    assert rejected(raw).code == "bad_message"


@pytest.mark.parametrize("raw", ['[{"type": "stop"}]', '"stop"', "42", "null", "true", "[]"])
def test_json_that_is_not_an_object_is_a_bad_message(raw: str) -> None:
    assert rejected(raw).code == "bad_message"


# --- unknown_type --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"text": "hi"},
        {"type": None},
        {"type": 5},
        {"type": ["stop"]},
        {"type": {"name": "stop"}},
        {"type": ""},
        {"type": "STOP"},
        {"type": "ready"},  # a server event, not a client message
        {"type": "error"},
        {"type": "audio"},
    ],
)
def test_missing_unknown_or_non_string_type(payload: dict[str, Any]) -> None:
    assert rejected(json.dumps(payload)).code == "unknown_type"


# --- invalid_field -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "stop", "force": True}, "force"),
        ({"type": "confirm", "tx": "0x1"}, "tx"),
        ({"type": "text", "text": "hi", "voice": "piper"}, "voice"),
        ({"type": "start", "sample_rate": 48000}, "sample_rate"),
    ],
)
def test_extra_fields_are_invalid_and_not_echoed(payload: dict[str, Any], field: str) -> None:
    error = rejected(json.dumps(payload))
    assert error.code == "invalid_field"
    assert "unexpected fields" in error.message
    assert field not in error.message


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "text"}, "text"),
        ({"type": "text", "text": 5}, "text"),
        ({"type": "text", "text": None}, "text"),
        ({"type": "text", "text": ["hi"]}, "text"),
        ({"type": "interrupt", "played_ms": "a while"}, "played_ms"),
        ({"type": "interrupt", "played_ms": 1.5}, "played_ms"),
        ({"type": "interrupt", "played_ms": [100]}, "played_ms"),
        ({"type": "start", "interim_results": "maybe"}, "interim_results"),
        ({"type": "start", "interim_results": [True]}, "interim_results"),
        ({"type": "start", "voice": 1}, "voice"),
        ({"type": "update_context", "instructions": 7}, "instructions"),
        ({"type": "update_context", "persona": {"name": "x"}}, "persona"),
    ],
)
def test_missing_or_wrongly_typed_fields_are_invalid(payload: dict[str, Any], field: str) -> None:
    error = rejected(json.dumps(payload))
    assert error.code == "invalid_field"
    assert field in error.message


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "interrupt", "played_ms": -1}, "played_ms"),
        ({"type": "interrupt", "played_ms": 3_600_001}, "played_ms"),
        ({"type": "text", "text": "x" * 2001}, "text"),
        ({"type": "update_context", "instructions": "x" * 4001}, "instructions"),
        ({"type": "update_context", "persona": "x" * 201}, "persona"),
        ({"type": "start", "protocol": "zgv-voice/2"}, "protocol"),
        ({"type": "start", "reply_mode": "video"}, "reply_mode"),
        ({"type": "start", "voice": "alexa"}, "voice"),
        ({"type": "start", "language": "fr"}, "language"),
        ({"type": "update_context", "reply_mode": "video"}, "reply_mode"),
        ({"type": "update_context", "voice": "alexa"}, "voice"),
    ],
)
def test_out_of_range_values_are_invalid(payload: dict[str, Any], field: str) -> None:
    error = rejected(json.dumps(payload))
    assert error.code == "invalid_field"
    assert field in error.message


def test_every_invalid_field_is_named() -> None:
    error = rejected(json.dumps({"type": "start", "voice": "alexa", "reply_mode": "video"}))
    assert "voice" in error.message
    assert "reply_mode" in error.message


# --- no echo of client data ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        f"{SECRET} is not json",
        f'{{"type": "text", "text": "{SECRET}"',
        json.dumps([SECRET]),
        json.dumps(SECRET),
        json.dumps({"type": "text", "text": SECRET * 200}),
        json.dumps({"type": "text", "text": [SECRET]}),
        json.dumps({"type": "interrupt", "played_ms": SECRET}),
        json.dumps({"type": "start", "voice": SECRET}),
        json.dumps({"type": "start", "protocol": SECRET}),
        json.dumps({"type": "update_context", "instructions": SECRET * 300}),
        json.dumps({"type": "update_context", "persona": SECRET * 20}),
    ],
)
def test_errors_do_not_echo_the_clients_values(raw: str) -> None:
    error = rejected(raw)
    assert SECRET not in error.message
    assert SECRET not in str(error)


@pytest.mark.parametrize("kind", [SECRET, 12345678])
def test_an_unknown_type_is_not_echoed(kind: object) -> None:
    error = rejected(json.dumps({"type": kind}))
    assert error.code == "unknown_type"
    assert str(kind) not in error.message


# --- server events -------------------------------------------------------------------------------


def test_event_is_a_typed_object() -> None:
    assert event("ready", session_id="s1") == {"type": "ready", "session_id": "s1"}


def test_error_event() -> None:
    assert error_event("bad_frame", "odd length") == {
        "type": "error",
        "code": "bad_frame",
        "message": "odd length",
        "fatal": False,
    }
    assert error_event("too_many_sessions", "full", fatal=True)["fatal"] is True


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "interrupt", "played_ms": "100"},
        {"type": "interrupt", "played_ms": True},
        {"type": "interrupt", "played_ms": 1.5},
        {"type": "start", "interim_results": "yes"},
        {"type": "start", "interim_results": 1},
    ],
)
def test_types_are_strict(payload: dict[str, Any]) -> None:
    assert rejected(json.dumps(payload)).code == "invalid_field"
