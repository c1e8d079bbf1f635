"""Intent + context -> a plan of MCP tool calls, their execution, and the reply to speak."""

from task_interpreter.executor import ToolExecutor, ToolResult
from task_interpreter.interpreter import Interpreter, StageClock, TurnObserver, TurnOutcome
from task_interpreter.plan import Plan, ToolCall
from task_interpreter.planner import Planner, TurnContext
from task_interpreter.replies import compose_reply

__all__ = [
    "Interpreter",
    "Plan",
    "Planner",
    "StageClock",
    "ToolCall",
    "ToolExecutor",
    "ToolResult",
    "TurnContext",
    "TurnObserver",
    "TurnOutcome",
    "compose_reply",
]
