"""A plan: the tool calls that answer one request, or a direct reply when no tool is needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ResultRef:
    """An argument taken from an earlier call's result: `field` of call number `call` in the plan."""

    call: int
    field: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One MCP tool call: which server, which tool, which arguments."""

    server: str
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The call as it appears in a turn's JSON."""
        arguments = {
            k: f"<result {v.call}.{v.field}>" if isinstance(v, ResultRef) else v
            for k, v in self.arguments.items()
        }
        return {"server": self.server, "tool": self.tool, "arguments": arguments}


@dataclass(frozen=True, slots=True)
class Plan:
    """Tool calls to run in order, or `direct_reply` when the answer needs no tool."""

    calls: tuple[ToolCall, ...] = ()
    direct_reply: str | None = None
    # Set when the direct reply asks for a missing slot ("amount" or "recipient").
    question: str | None = None
