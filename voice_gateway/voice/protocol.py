"""Wire messages of `zgv-voice/1` (docs/voice-protocol.md): client messages parsed and validated here,
server events built here, so the session works with plain values."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL = "zgv-voice/1"

ReplyMode = Literal["voice", "text"]
VoiceName = Literal["piper", "espeak", "google"]


class _Message(BaseModel):
    # Strict: "100" is not a number and "yes" is not a boolean on this wire.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Start(_Message):
    type: Literal["start"]
    protocol: Literal["zgv-voice/1"] | None = None
    reply_mode: ReplyMode = "voice"
    voice: VoiceName | None = None  # None: the server's configured voice
    language: Literal["en"] = "en"
    interim_results: bool = True


class Text(_Message):
    type: Literal["text"]
    text: str = Field(max_length=2000)


class Interrupt(_Message):
    type: Literal["interrupt"]
    played_ms: int | None = Field(default=None, ge=0, le=3_600_000)


class Confirm(_Message):
    type: Literal["confirm"]


class Cancel(_Message):
    type: Literal["cancel"]


class UpdateContext(_Message):
    type: Literal["update_context"]
    instructions: str | None = Field(default=None, max_length=4000)
    persona: str | None = Field(default=None, max_length=200)
    reply_mode: ReplyMode | None = None
    voice: VoiceName | None = None


class Stop(_Message):
    type: Literal["stop"]


ClientMessage = Start | Text | Interrupt | Confirm | Cancel | UpdateContext | Stop
_CLIENT_TYPES = {"start", "text", "interrupt", "confirm", "cancel", "update_context", "stop"}
_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(Annotated[ClientMessage, Field(discriminator="type")])


class ProtocolError(ValueError):
    """A client message that breaks the protocol; answered with an `error` event of this `code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_client_message(raw: str) -> ClientMessage:
    """Parse one text frame.

    Raises:
        ProtocolError: `bad_message` (not a JSON object), `unknown_type`, or `invalid_field`.
    """
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_message", f"not JSON: {exc.msg}") from exc
    if not isinstance(payload, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, str) or kind not in _CLIENT_TYPES:
        # The client's value is not quoted back: error texts must not echo what a client sent.
        raise ProtocolError(
            "unknown_type", f"unknown message type; expected one of {', '.join(sorted(_CLIENT_TYPES))}"
        )
    try:
        return _ADAPTER.validate_python(payload)
    except ValidationError as exc:
        known = {name for model in ClientMessage.__args__ for name in model.model_fields}
        fields = sorted(
            {
                ".".join(str(p) for p in err["loc"][1:])
                for err in exc.errors()
                if err["type"] != "extra_forbidden"
            }
            & known
        )
        unexpected = any(err["type"] == "extra_forbidden" for err in exc.errors())
        problems = ([f"check {', '.join(fields)}"] if fields else []) + (
            ["unexpected fields"] if unexpected else []
        )
        raise ProtocolError("invalid_field", f"invalid {kind} message: {'; '.join(problems)}") from exc


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """A server event (a JSON object with `type`)."""
    return {"type": kind, **fields}


def error_event(code: str, message: str, *, fatal: bool = False) -> dict[str, Any]:
    """The protocol's `error` event."""
    return event("error", code=code, message=message, fatal=fatal)
