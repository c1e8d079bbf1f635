"""An optional planner for requests the rules cannot plan: any OpenAI-compatible chat endpoint (for
example 0G Compute's router) picks tool calls from the vetted tools the interpreter offers it.

It is kept behind the same walls as everything else. It sees only the user's words (never tool
results, so text inside them cannot steer it); it is offered read-only tools and the *prepare* step of
transfers, never a confirming tool, so the most it can do with money is ask the server to describe a
transfer, which then needs the user's spoken yes and passes the server's policy; every call it
proposes is checked against the offered tools and their argument size before it runs. Off by default.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp.types import Tool

from task_interpreter.plan import Plan, ToolCall

MAX_CALLS = 3
MAX_ARGUMENT_BYTES = 4096
MAX_REPLY_CHARS = 400
# Tools that move value on their own: never offered, whatever the server lists.
NEVER_OFFERED = frozenset({"confirm_transfer", "confirm_batch_transfer", "send_signed_transfer"})
_SYSTEM = (
    "You plan tool calls for zgvoice, a voice assistant for the 0G blockchain. Use only the tools given. "
    "To send value, call prepare_transfer or prepare_batch_transfer: the user will be asked to confirm. "
    "If no tool fits, answer in one short spoken sentence. Never invent addresses or amounts."
)


class LlmPlannerError(Exception):
    """The endpoint failed or answered something unusable; the turn falls back to 'not understood'."""


@dataclass(frozen=True, slots=True)
class OfferedTool:
    """A vetted tool the model may call."""

    server: str
    tool: Tool

    @property
    def name(self) -> str:
        return f"{self.server}__{self.tool.name}"


def offerable(server: str, tool: Tool) -> bool:
    """Read-only tools and the prepare step of transfers; nothing that acts alone."""
    if tool.name in NEVER_OFFERED:
        return False
    hints = tool.annotations
    read_only = hints is not None and hints.read_only_hint is True
    return read_only or tool.name in ("prepare_transfer", "prepare_batch_transfer")


class LlmPlanner:
    """Asks an OpenAI-compatible endpoint for a plan.

    Args:
        base_url: the API root, e.g. `https://router.example/v1`.
        api_key: sent as a bearer token; never logged.
        model: the model name the endpoint expects.
        timeout_s: per request.
    """

    def __init__(self, base_url: str, api_key: str, model: str, timeout_s: float = 10.0) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self._model = model
        self._timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"LlmPlanner(url={self._url!r}, model={self._model!r}, api_key=<hidden>)"

    async def plan(self, utterance: str, tools: Sequence[OfferedTool]) -> Plan:
        """A plan for `utterance` using only `tools`.

        Raises:
            LlmPlannerError: the endpoint failed, timed out, or proposed something not offered.
        """
        offered = {t.name: t for t in tools if offerable(t.server, t.tool)}
        body = {
            "model": self._model,
            "messages": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": utterance}],
            "tools": [_function(t) for t in offered.values()],
            "temperature": 0,
        }
        try:
            async with httpx2.AsyncClient(timeout=self._timeout_s) as http:
                response = await http.post(
                    self._url, json=body, headers={"Authorization": f"Bearer {self._api_key}"}
                )
        except httpx2.HTTPError as exc:
            raise LlmPlannerError(f"the planning endpoint is unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise LlmPlannerError(f"the planning endpoint answered {response.status_code}")
        try:
            message = response.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LlmPlannerError(
                "the planning endpoint answered something that is not a chat completion"
            ) from None
        return _plan_of(message, offered)


def _function(tool: OfferedTool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": (tool.tool.description or "")[:1000],
            "parameters": tool.tool.input_schema,
        },
    }


def _plan_of(message: dict[str, Any], offered: dict[str, OfferedTool]) -> Plan:
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list) or len(calls) > MAX_CALLS:
        raise LlmPlannerError("the model proposed too many tool calls")
    planned = []
    for call in calls:
        try:
            name = str(call["function"]["name"])
            raw = str(call["function"].get("arguments") or "{}")
        except (KeyError, TypeError):
            raise LlmPlannerError("the model proposed a malformed tool call") from None
        if name not in offered:
            raise LlmPlannerError(f"the model proposed a tool it was not offered: {name[:80]}")
        if len(raw.encode()) > MAX_ARGUMENT_BYTES:
            raise LlmPlannerError("the model proposed oversized arguments")
        try:
            arguments = json.loads(raw)
        except ValueError:
            raise LlmPlannerError("the model proposed arguments that are not JSON") from None
        if not isinstance(arguments, dict):
            raise LlmPlannerError("the model proposed arguments that are not an object")
        tool = offered[name]
        planned.append(ToolCall(tool.server, tool.tool.name, arguments))
    if planned:
        return Plan(calls=tuple(planned))
    content = message.get("content")
    if isinstance(content, str) and content.strip():
        return Plan(direct_reply=content.strip()[:MAX_REPLY_CHARS])
    raise LlmPlannerError("the model proposed nothing")
