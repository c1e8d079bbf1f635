"""Per-session dialogue state: what is pending (a confirmation, a question), what came before (for "the
same to bob", "what about carol?", "do it again"), and how the user wants to be answered.

A value transfer is confirmed only by an explicit yes in the same session, and only after the user
heard the whole prompt: a barge-in during the prompt marks it unheard, and a "yes" then gets the
prompt again instead of sending. Anything other than yes, no or "say that again" while a
confirmation is pending cancels it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from nlp import Intent, IntentName
from nlp.intent import SlotValue

# The server's handles live at most 120 s; ours lapse a little earlier so we never present a dead one.
CONFIRMATION_TTL_S = 110.0


@dataclass
class PendingConfirmation:
    """A prepared transfer waiting for yes or no."""

    tool: str  # the confirming tool: confirm_transfer or confirm_batch_transfer
    handle: str
    prompt: str
    summary: dict[str, Any]
    recipients: list[str]  # how the user named them, for the receipt
    expires_at: float
    heard: bool = True


@dataclass
class PendingQuestion:
    """A request missing a slot; the next answer fills it."""

    intent: Intent
    missing: str  # "amount" or "recipient"


@dataclass
class Dialogue:
    """The state of one conversation (one voice session, or one HTTP session)."""

    user: str = "local"
    last_intent: Intent | None = None
    last_reply: str = ""
    pending: PendingConfirmation | None = None
    question: PendingQuestion | None = None
    last_tx_hash: str | None = None
    reply_mode: str = "short"
    persona: str | None = None
    clock: Callable[[], float] = field(default=time.monotonic)

    def prompt_interrupted(self) -> None:
        """The user barged in on the last reply: if it was a confirmation prompt, it was not heard."""
        if self.pending is not None:
            self.pending.heard = False

    def pending_confirmation(self) -> PendingConfirmation | None:
        """The live pending confirmation (an expired one is dropped)."""
        if self.pending is not None and self.clock() >= self.pending.expires_at:
            self.pending = None
        return self.pending


_WHAT_ABOUT = re.compile(
    r"^(?:and |so |ok |okay )?(?:what|how) about ([a-z]+)\??$|^(?:and|also) ([a-z]+)\??$"
)
_AGAIN = re.compile(
    r"\b(?:do (?:it|that) again|again please|same again|one more time|"
    r"repeat (?:that|the) (?:transfer|payment))\b|^again$"
)
_SAME = re.compile(r"\b(?:the same|same amount|same thing)\b")


def resolve_references(intent: Intent, spoken: str, dialogue: Dialogue) -> Intent:
    """`intent` with what earlier turns imply: a pending question's answer, "the same to bob",
    "what about carol?", "do it again"."""
    last = dialogue.last_intent
    question = dialogue.question
    if question is not None:
        filled = _answer(question, intent, spoken)
        if filled is not None:
            return filled
    if last is None:
        return intent
    about = _WHAT_ABOUT.search(spoken)
    if about and intent.name in (IntentName.UNKNOWN, IntentName.RECALL, IntentName.BALANCE):
        name = about.group(1) or about.group(2)
        if last.name in (IntentName.BALANCE, IntentName.RECALL):
            slots = {k: v for k, v in last.slots.items() if k not in ("contact", "address")}
            return replace(last, slots={**slots, "contact": name}, confidence=max(last.confidence, 0.9))
    if _AGAIN.search(spoken) and intent.name in (IntentName.UNKNOWN, IntentName.REPEAT):
        return last
    if intent.name is IntentName.TRANSFER and last.name is IntentName.TRANSFER and _SAME.search(spoken):
        amount: dict[str, SlotValue] = {
            k: last.slots[k] for k in ("amount", "asset", "unit") if k in last.slots
        }
        if "amount" not in intent.slots:
            return replace(intent, slots={**intent.slots, **amount})
    return intent


def _answer(question: PendingQuestion, intent: Intent, spoken: str) -> Intent | None:
    """The pending request completed by this answer, or None when it does not answer."""
    if question.missing == "recipient":
        words = spoken.removeprefix("to ").split()
        if intent.name is IntentName.TRANSFER and ("contact" in intent.slots or "address" in intent.slots):
            recipient = {k: v for k, v in intent.slots.items() if k in ("contact", "contacts", "address")}
            return replace(question.intent, slots={**question.intent.slots, **recipient})
        if len(words) == 1 and words[0].isalpha():
            return replace(question.intent, slots={**question.intent.slots, "contact": words[0]})
        if "address" in intent.slots:
            return replace(
                question.intent, slots={**question.intent.slots, "address": intent.slots["address"]}
            )
    if question.missing == "amount":
        match = re.fullmatch(
            r"(?:send |make it |just )?(\d+(?:\.\d+)?)(?: (0g|[a-z]{2,6}))?(?: please)?", spoken
        )
        if match:
            slots = dict(question.intent.slots)
            slots["amount"] = (
                match.group(1).rstrip("0").rstrip(".") if "." in match.group(1) else match.group(1)
            )
            if match.group(2) and match.group(2) != "0g":
                slots["asset"] = match.group(2).upper()
            return replace(question.intent, slots=slots)
    return None
