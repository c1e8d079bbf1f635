"""One turn from text to reply: recognize, plan, execute, compose; each stage timed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from nlp import Intent, RuleRecognizer, clean_text
from task_interpreter.executor import ToolExecutor, ToolResult
from task_interpreter.plan import Plan
from task_interpreter.planner import Planner, TurnContext
from task_interpreter.replies import compose_reply


@dataclass(slots=True)
class StageClock:
    """Records how long each named stage of a turn took, in milliseconds."""

    stages: dict[str, float] = field(default_factory=dict)
    _mark: float = field(default_factory=time.perf_counter)

    def lap(self, stage: str) -> None:
        """Close the current stage under `stage` and start the next one."""
        now = time.perf_counter()
        self.stages[stage] = round((now - self._mark) * 1000.0, 3)
        self._mark = now


class TurnObserver(Protocol):
    """Hears about a turn's stages as they happen (the voice gateway streams them to the client)."""

    async def on_intent(self, intent: Intent) -> None: ...

    async def on_plan(self, plan: Plan) -> None: ...

    async def on_tool_result(self, result: ToolResult) -> None: ...


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """Everything one turn produced."""

    transcript: str
    intent: Intent
    plan: Plan
    results: list[ToolResult]
    reply: str

    def as_json(self) -> dict[str, Any]:
        """The turn as the JSON the CLI and HTTP API return (latency is added by the caller)."""
        return {
            "transcript": self.transcript,
            "intent": {"name": self.intent.name.value, "confidence": self.intent.confidence},
            "slots": dict(self.intent.slots),
            "plan": [call.as_json() for call in self.plan.calls],
            "tool_results": [result.as_json() for result in self.results],
            "reply": self.reply,
        }


class Interpreter:
    """Understands and acts on one utterance at a time."""

    def __init__(
        self,
        executor: ToolExecutor,
        context: TurnContext,
        max_text_chars: int,
        recognizer: RuleRecognizer | None = None,
        planner: Planner | None = None,
    ) -> None:
        self._executor = executor
        self._context = context
        self._max_text_chars = max_text_chars
        self._recognizer = recognizer or RuleRecognizer()
        self._planner = planner or Planner()

    async def handle(self, text: str, clock: StageClock, observer: TurnObserver | None = None) -> TurnOutcome:
        """Run one turn, telling `observer` (if any) about each stage as it completes.

        Raises:
            TextInputError: the text is empty, too long, or not valid text.
        """
        transcript = clean_text(text, self._max_text_chars)
        intent = self._recognizer.recognize(transcript)
        clock.lap("nlp_ms")
        if observer is not None:
            await observer.on_intent(intent)
        plan = self._planner.plan(intent, self._context)
        clock.lap("plan_ms")
        if observer is not None:
            await observer.on_plan(plan)
        results = await self._executor.run_all(plan.calls, observer.on_tool_result if observer else None)
        clock.lap("tools_ms")
        reply = compose_reply(intent, plan, results, self._context.user_address)
        clock.lap("reply_ms")
        return TurnOutcome(transcript, intent, plan, results, reply)
