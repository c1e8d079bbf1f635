"""A plan: the tool calls that answer one request, or a direct reply when no tool is needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One MCP tool call: which server, which tool, which arguments."""

    server: str
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The call as it appears in a turn's JSON."""
        return {"server": self.server, "tool": self.tool, "arguments": dict(self.arguments)}


@dataclass(frozen=True, slots=True)
class Plan:
    """Tool calls to run in order, or `direct_reply` when the answer needs no tool."""

    calls: tuple[ToolCall, ...] = ()
    direct_reply: str | None = None
