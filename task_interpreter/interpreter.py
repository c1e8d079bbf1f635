"""One turn from text to reply: recognize, plan, execute, compose; each stage timed."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from eth_utils.address import to_checksum_address

from learning.crypto import EnvelopeCipher
from learning.profiles import Profile, ProfileStore
from nlp import Intent, IntentName, clean_text
from nlp.intent import WRITE_INTENTS
from nlp.nbest import choose
from nlp.recognizer import RULE_CONFIDENCE, Recognizer
from nlp.speech import speech_form
from nlp.text_input import TextInputError
from task_interpreter.confirm_texts import batch_prompt, receipt, transfer_prompt
from task_interpreter.dialogue import (
    CONFIRMATION_TTL_S,
    Dialogue,
    PendingConfirmation,
    PendingQuestion,
    resolve_references,
)
from task_interpreter.executor import ToolExecutor, ToolResult
from task_interpreter.llm_planner import LlmPlanner, LlmPlannerError, OfferedTool
from task_interpreter.local_intents import local_reply
from task_interpreter.notes import PREFIX as NOTE_PREFIX
from task_interpreter.notes import NoteError, latest_note, note_name, open_note, seal_note
from task_interpreter.plan import Plan, ToolCall
from task_interpreter.planner import NOT_UNDERSTOOD, Planner, TurnContext
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


log = logging.getLogger(__name__)

_CHECKSUMMED = re.compile(r"0x[0-9a-fA-F]{40}")

DEFAULT_WRITE_THRESHOLD = 0.7


class Interpreter:
    """Understands and acts on one utterance at a time, within a `Dialogue`.

    Args:
        executor: the MCP client of every tool server.
        context: the deployment's defaults (whose wallet "my" means).
        max_text_chars: longer utterances are refused.
        recognizer: intent recognition (rules only when omitted).
        planner: the deterministic planner.
        profiles: encrypted user profiles (contacts, facts, preferences); None keeps them per dialogue.
        write_threshold: the least confidence for acting on a write; below it the user is asked.
        notes: seals and opens the user's notes; None: notes are not offered.
        llm: the optional planner for what the rules and the classifier leave unknown.
    """

    def __init__(
        self,
        executor: ToolExecutor,
        context: TurnContext,
        max_text_chars: int,
        recognizer: Recognizer | None = None,
        planner: Planner | None = None,
        profiles: ProfileStore | None = None,
        write_threshold: float = DEFAULT_WRITE_THRESHOLD,
        notes: EnvelopeCipher | None = None,
        llm: LlmPlanner | None = None,
    ) -> None:
        self._executor = executor
        self._context = context
        self._max_text_chars = max_text_chars
        self._recognizer = recognizer or Recognizer()
        self._planner = planner or Planner()
        self._profiles = profiles
        self._write_threshold = write_threshold
        self._notes = notes
        self._llm = llm
        self._session_profiles: dict[str, Profile] = {}

    async def choose_heard(
        self, hypotheses: Sequence[tuple[str, float]], dialogue: Dialogue | None = None
    ) -> str:
        """Of a recognizer's hypotheses (text, score; best first), the one to answer: the likeliest
        that makes sense as a request, with this user's contacts counting ("" when none).

        A hypothesis that is not valid input is passed over, never raised: the chosen text goes
        through `handle`, which reports it.
        """
        contacts: Collection[str] = ()
        if dialogue is not None:
            contacts = frozenset((await self._profile(dialogue.user)).contacts)

        def understood(text: str) -> Intent:
            try:
                return self._recognizer.recognize(clean_text(text, self._max_text_chars))
            except TextInputError:
                return Intent(IntentName.UNKNOWN)

        choice = choose(hypotheses, understood, contacts)
        return "" if choice is None else choice.text

    async def handle(
        self,
        text: str,
        clock: StageClock,
        observer: TurnObserver | None = None,
        dialogue: Dialogue | None = None,
    ) -> TurnOutcome:
        """Run one turn, telling `observer` (if any) about each stage as it completes.

        Args:
            text: what the user said or typed.
            clock: records the stages' durations.
            observer: hears the intent, the plan and each tool result as they happen.
            dialogue: the conversation this turn belongs to; None: a one-off turn.

        Raises:
            TextInputError: the text is empty, too long, or not valid text.
        """
        dialogue = dialogue if dialogue is not None else Dialogue()
        transcript = clean_text(text, self._max_text_chars)
        spoken = speech_form(transcript)
        intent = resolve_references(self._recognizer.recognize(transcript), spoken, dialogue)
        clock.lap("nlp_ms")
        if observer is not None:
            await observer.on_intent(intent)
        turn = _Turn(transcript, intent, clock, observer, self._own_address(dialogue))
        reply = await self._respond(turn, spoken, dialogue)
        clock.lap("reply_ms")
        dialogue.last_reply = reply
        if intent.name not in _NOT_REMEMBERED:
            dialogue.last_intent = intent
        return TurnOutcome(transcript, intent, turn.plan, turn.results, reply)

    async def _respond(self, turn: _Turn, spoken: str, dialogue: Dialogue) -> str:
        intent = turn.intent
        prefix = ""
        pending = dialogue.pending_confirmation()
        if pending is not None:
            # Only an explicit yes (a rule match: "yes", "confirm", "do it") sends money; a yes the
            # classifier merely guessed ("yes price") is ambiguous, and ambiguity cancels.
            if intent.name is IntentName.CONFIRM and intent.confidence >= RULE_CONFIDENCE:
                if not pending.heard:
                    # The prompt was cut off: a yes counts only once the whole prompt was heard.
                    pending.heard = True
                    return "Before I send anything, here it is again. " + pending.prompt
                dialogue.pending = None
                return await self._send(turn, pending, dialogue)
            if intent.name is IntentName.REPEAT:
                pending.heard = True
                return pending.prompt
            dialogue.pending = None
            if intent.name is IntentName.CANCEL:
                return "Okay, I cancelled it. Nothing was sent."
            prefix = "I cancelled the transfer; nothing was sent. "
        if intent.name in WRITE_INTENTS and intent.confidence < self._write_threshold:
            return prefix + "I'm not sure I understood that. Please say it again."
        if intent.name is IntentName.TRANSFER and _hedged(spoken):
            dialogue.question = PendingQuestion(_without_amount(intent), "amount")
            return prefix + "How much exactly should I send?"
        dialogue.question = None
        profile = await self._profile(dialogue.user)
        if intent.name in _STORAGE_INTENTS:
            return prefix + await self._storage(turn, dialogue)
        local = local_reply(intent, dialogue, profile)
        if local is not None:
            reply, changed = local
            if changed:
                await self._save(dialogue.user, profile)
            turn.clock.lap("plan_ms")
            return prefix + reply
        context = replace(
            self._context,
            user_address=turn.user_address,
            contacts=dict(profile.contacts),
            last_tx_hash=dialogue.last_tx_hash,
            transcript=turn.transcript,
        )
        plan = self._planner.plan(intent, context)
        if intent.name is IntentName.UNKNOWN and self._llm is not None:
            return prefix + await self._llm_turn(turn, dialogue)
        await turn.run(plan, self._executor)
        if plan.question is not None:
            dialogue.question = PendingQuestion(intent, plan.question)
        prepared = turn.results[0].data if len(turn.results) == 1 and turn.results[0].ok else None
        if prepared is not None and plan.calls[0].tool in _PREPARE_TOOLS:
            return prefix + self._await_confirmation(plan.calls[0].tool, prepared, intent, dialogue)
        return prefix + compose_reply(intent, plan, turn.results, turn.user_address)

    def _await_confirmation(
        self, tool: str, prepared: dict[str, Any], intent: Intent, dialogue: Dialogue
    ) -> str:
        named = _named_recipients(intent)
        if tool == "prepare_batch_transfer":
            prompt, confirm = batch_prompt(prepared, named), "confirm_batch_transfer"
        else:
            prompt, confirm = (
                transfer_prompt(prepared, named, dialogue.reply_mode == "detailed"),
                "confirm_transfer",
            )
        dialogue.pending = PendingConfirmation(
            tool=confirm,
            handle=str(prepared["handle"]),
            prompt=prompt,
            summary=dict(prepared["summary"]),
            recipients=named,
            expires_at=dialogue.clock() + min(CONFIRMATION_TTL_S, float(prepared["expires_in_s"]) - 5),
        )
        return prompt

    async def _send(self, turn: _Turn, pending: PendingConfirmation, dialogue: Dialogue) -> str:
        plan = self._planner.confirm(pending.tool, pending.handle)
        await turn.run(plan, self._executor)
        first = turn.results[0]
        if not first.ok:
            return compose_reply(turn.intent, plan, turn.results, turn.user_address)
        if first.data is not None and "tx_hash" in first.data:
            dialogue.last_tx_hash = str(first.data["tx_hash"])
        elif first.data is not None and first.data.get("transfers"):
            dialogue.last_tx_hash = str(first.data["transfers"][-1]["tx_hash"])
        data = [result.data if result.ok else None for result in turn.results]
        return receipt(pending.tool, data, pending.recipients, pending.summary)

    async def _storage(self, turn: _Turn, dialogue: Dialogue) -> str:
        """Notes are sealed with the user's own key before they reach 0G (public) storage, and opened
        after download; files come from the storage server's folder."""
        intent = turn.intent
        if intent.name is IntentName.STORE_NOTE:
            text = intent.slots.get("note")
            if not isinstance(text, str) or self._notes is None:
                return "What should the note say?" if self._notes is not None else _NO_NOTES
            try:
                sealed = await seal_note(self._notes, dialogue.user, text)
            except NoteError as exc:
                return str(exc)
            plan = Plan(
                calls=(ToolCall(STORAGE, "upload_content", {"content": sealed, "name": note_name()}),)
            )
            await turn.run(plan, self._executor)
            if not turn.results[0].ok:
                return compose_reply(intent, plan, turn.results, turn.user_address)
            return "Saved your note on 0G storage, encrypted so only you can read it."
        if intent.name is IntentName.STORE_FILE:
            name = intent.slots.get("file_name")
            if not isinstance(name, str):
                return "Which file should I store?"
            plan = Plan(calls=(ToolCall(STORAGE, "upload_file", {"path": name}),))
            await turn.run(plan, self._executor)
            first = turn.results[0]
            if not first.ok:
                if first.error is not None and first.error.code in ("local_file_error", "path_not_allowed"):
                    return f"I can't find {name} in your files folder."
                return compose_reply(intent, plan, turn.results, turn.user_address)
            return f"Stored {name} on 0G storage."
        listing = Plan(calls=(ToolCall(STORAGE, "my_files"),))
        await turn.run(listing, self._executor)
        if not turn.results[0].ok or turn.results[0].data is None:
            return compose_reply(intent, listing, turn.results, turn.user_address)
        files = list(turn.results[0].data.get("files", []))
        if intent.name is IntentName.LIST_FILES:
            return _files_reply(files)
        name = intent.slots.get("file_name")
        wanted = latest_note(files) if not isinstance(name, str) else _named(files, name)
        if wanted is None:
            return (
                "You haven't stored any notes yet." if not isinstance(name, str) else f"I can't find {name}."
            )
        fetch = Plan(calls=(ToolCall(STORAGE, "download_content", {"root": wanted["root"]}),))
        await turn.run(fetch, self._executor)
        got = turn.results[0]
        if not got.ok or got.data is None:
            return compose_reply(intent, fetch, turn.results, turn.user_address)
        content = str(got.data.get("content", ""))
        if content.startswith(NOTE_PREFIX):
            if self._notes is None:
                return _NO_NOTES
            try:
                return "Your note says: " + await open_note(self._notes, dialogue.user, content)
            except NoteError as exc:
                return str(exc)
        return f"{wanted['name']} is {wanted['size']} bytes; I've fetched it."

    async def _llm_turn(self, turn: _Turn, dialogue: Dialogue) -> str:
        """Ask the optional LLM planner; its plan runs through the same tools, pins and confirmation."""
        assert self._llm is not None
        offered = [OfferedTool(server, tool) for server, tool in self._executor.vetted_tools()]
        try:
            plan = await self._llm.plan(turn.transcript, offered)
        except LlmPlannerError as exc:
            log.warning("LLM planner failed", extra={"reason": str(exc)})
            return NOT_UNDERSTOOD
        await turn.run(plan, self._executor)
        if plan.calls and plan.calls[0].tool in _PREPARE_TOOLS and turn.results and turn.results[0].ok:
            data = turn.results[0].data or {}
            to = str(plan.calls[0].arguments.get("to", ""))
            named = Intent(IntentName.TRANSFER, {"address": to} if to else {}, turn.intent.confidence)
            return self._await_confirmation(plan.calls[0].tool, data, named, dialogue)
        reading = Intent(
            _TOOL_INTENTS.get(plan.calls[-1].tool, IntentName.UNKNOWN) if plan.calls else IntentName.UNKNOWN
        )
        return compose_reply(reading, plan, turn.results, turn.user_address)

    def _own_address(self, dialogue: Dialogue) -> str | None:
        # A signed-in user's "my" is their own wallet; otherwise the deployment's configured one.
        user = dialogue.user
        if _CHECKSUMMED.fullmatch(user) and to_checksum_address(user) == user:
            return user
        return self._context.user_address

    async def _profile(self, user: str) -> Profile:
        if self._profiles is None:
            return self._session_profiles.setdefault(user, Profile())
        return await self._profiles.load(user)

    async def _save(self, user: str, profile: Profile) -> None:
        if self._profiles is not None:
            await self._profiles.save(user, profile)


@dataclass
class _Turn:
    """One turn in progress: what was planned and what the tools returned, for the outcome."""

    transcript: str
    intent: Intent
    clock: StageClock
    observer: TurnObserver | None
    # Whose wallet "my" means in this turn.
    user_address: str | None = None
    plan: Plan = field(default_factory=Plan)
    results: list[ToolResult] = field(default_factory=list)

    async def run(self, plan: Plan, executor: ToolExecutor) -> None:
        self.clock.lap("plan_ms")
        self.plan = plan
        if self.observer is not None:
            await self.observer.on_plan(plan)
        on_result = self.observer.on_tool_result if self.observer else None
        self.results = await executor.run_all(plan.calls, on_result)
        self.clock.lap("tools_ms")


_PREPARE_TOOLS = frozenset({"prepare_transfer", "prepare_batch_transfer"})
_NOT_REMEMBERED = frozenset({IntentName.CONFIRM, IntentName.CANCEL, IntentName.REPEAT, IntentName.UNKNOWN})
# Words that make an amount approximate: never sent as heard, always asked back.
_HEDGES = re.compile(
    r"\b(?:about|around|roughly|approximately|like|or so|maybe|perhaps|i think|something like|ish)\b"
)


STORAGE = "storage"
# How to word a tool's result when the LLM planner chose the tool.
_TOOL_INTENTS = {
    "get_balance": IntentName.BALANCE,
    "get_token_balance": IntentName.BALANCE,
    "get_block_number": IntentName.BLOCK,
    "get_block": IntentName.BLOCK,
    "get_receipt": IntentName.TX_STATUS,
    "get_gas_price": IntentName.GAS_PRICE,
    "chain_info": IntentName.CHAIN_INFO,
    "search_docs": IntentName.KNOWLEDGE,
}
_STORAGE_INTENTS = frozenset(
    {IntentName.STORE_NOTE, IntentName.STORE_FILE, IntentName.FETCH_FILE, IntentName.LIST_FILES}
)
_NO_NOTES = "Notes aren't set up here."


def _files_reply(files: list[dict[str, Any]]) -> str:
    if not files:
        return "You haven't stored anything yet."
    names = [str(f["name"]) for f in files[-5:]]
    more = f", the latest {len(names)} of them" if len(files) > len(names) else ""
    return f"You have {len(files)} stored files{more}: " + ", ".join(reversed(names)) + "."


def _named(files: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    matches = [f for f in files if str(f.get("name", "")).lower() == name.lower()]
    return matches[-1] if matches else None


def _hedged(spoken: str) -> bool:
    amounts = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", spoken))
    return len(amounts) > 1 or (bool(amounts) and _HEDGES.search(spoken) is not None)


def _without_amount(intent: Intent) -> Intent:
    return replace(intent, slots={k: v for k, v in intent.slots.items() if k not in ("amount", "unit")})


def _named_recipients(intent: Intent) -> list[str]:
    many = intent.slots.get("contacts")
    if isinstance(many, list):
        return [str(n) for n in many]
    for key in ("contact", "address"):
        value = intent.slots.get(key)
        if isinstance(value, str):
            return [value]
    return []
