"""Building tool results: structured success, and errors with a stable code and a one-line message."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from zerog_client import AmountError, ZeroGError


class ToolFailure(BaseModel):
    """The structured body of a failed tool call: a stable machine code and a human sentence."""

    code: str
    message: str
    retryable: bool = False


def success(payload: BaseModel) -> CallToolResult:
    """A successful result carrying `payload` as structured content and as JSON text."""
    data = payload.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data, separators=(",", ":")))],
        structured_content=data,
    )


def failure(code: str, message: str, *, retryable: bool = False) -> CallToolResult:
    """A tool error (`isError`) whose structured content is a `ToolFailure` under the key `error`."""
    body = ToolFailure(code=code, message=message, retryable=retryable)
    return CallToolResult(
        content=[TextContent(type="text", text=f"{code}: {message}")],
        structured_content={"error": body.model_dump(mode="json")},
        is_error=True,
    )


async def guarded(action: Callable[[], Awaitable[BaseModel]]) -> CallToolResult:
    """Run a tool's work: its result as success, our typed errors as tool errors with their code.

    Anything else is a bug and propagates, so the SDK logs it and the client sees a generic failure
    rather than a misleading code.
    """
    try:
        return success(await action())
    except ZeroGError as exc:
        return failure(exc.code, exc.message, retryable=exc.retryable)
    except AmountError as exc:
        return failure(exc.code, exc.message)
