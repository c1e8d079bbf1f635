"""Choosing among a recognizer's hypotheses the one that makes sense as a request.

Speech recognizers rank hypotheses by sound alone; the runner-up is often what was meant ("send a
quarter 0G to Dave" behind "... today"). Each hypothesis gets its acoustic score plus a bonus for
being understood: a recognized intent with every slot it needs, a contact the user really has, a
file name with an extension. A hypothesis is preferred only when its lead in sense outweighs its
deficit in sound, so clear speech always keeps the recognizer's own first choice.

A yes is never chosen from the runners-up: a confirmation moves money, so it must be what the
recognizer heard best.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from nlp.entities import KNOWN_EXTENSIONS
from nlp.intent import Intent, IntentName

RULE_CONFIDENCE = 0.95
# Weights in units of the recognizer's length-normalized log probability (measured on the spoken
# suite: a wrong top hypothesis trails the meant one by 0.1 to 0.5).
_UNDERSTOOD = 0.3
_UNKNOWN = -0.2
_CONFIDENT_UNKNOWN = 0.6
_MISSING_SLOT = -0.3
_KNOWN_CONTACT = 0.3
_STRANGER = -0.1
_FILE_EXTENSION = 0.1

_RECIPIENT = ("address", "contact", "contacts")
# Slots without which an intent cannot be carried out (one of each tuple).
_NEEDS: dict[IntentName, tuple[tuple[str, ...], ...]] = {
    IntentName.TRANSFER: (("amount",), _RECIPIENT),
    IntentName.STORE_FILE: (("file_name",),),
    IntentName.STORE_NOTE: (("note",),),
    IntentName.REMEMBER_CONTACT: (("contact",), ("address",)),
    IntentName.REMEMBER_FACT: (("fact",),),
    IntentName.REPLY_MODE: (("mode",),),
    IntentName.PERSONA: (("persona",),),
    IntentName.BLOCK: (("block",),),
}


@dataclass(frozen=True, slots=True)
class Choice:
    """The chosen hypothesis, its position in the recognizer's list, and what it means."""

    index: int
    text: str
    intent: Intent


def sense(intent: Intent, contacts: Collection[str] = ()) -> float:
    """How well a hypothesis is understood, as a bonus to its acoustic score."""
    if intent.name is IntentName.UNKNOWN:
        # The classifier's own "none of the above" class, said confidently, is an understanding too
        # (small talk, a joke); below that, nothing was understood.
        return _UNDERSTOOD * intent.confidence if intent.confidence >= _CONFIDENT_UNKNOWN else _UNKNOWN
    bonus = _UNDERSTOOD * (1.0 if intent.confidence >= RULE_CONFIDENCE else intent.confidence)
    for options in _NEEDS.get(intent.name, ()):
        if not any(intent.slots.get(slot) for slot in options):
            bonus += _MISSING_SLOT
    named = intent.slots.get("contacts") or intent.slots.get("contact")
    names = [named] if isinstance(named, str) else list(named) if isinstance(named, list) else []
    if names and contacts:
        known = sum(name in contacts for name in names)
        bonus += _KNOWN_CONTACT * known / len(names) + _STRANGER * (len(names) - known) / len(names)
    file_name = intent.slots.get("file_name")
    if isinstance(file_name, str):
        extension = file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        bonus += _FILE_EXTENSION if extension in KNOWN_EXTENSIONS else -_FILE_EXTENSION
    return bonus


def choose(
    hypotheses: Sequence[tuple[str, float]],
    recognize: Callable[[str], Intent],
    contacts: Collection[str] = (),
) -> Choice | None:
    """The hypothesis to act on, or None when there is none.

    Args:
        hypotheses: (text, acoustic score) pairs, best first as the recognizer ranked them.
        recognize: text -> intent (the recognizer in use, cleaning included).
        contacts: the user's contact names (lower case), when known.
    """
    best: tuple[float, Choice] | None = None
    for index, (text, score) in enumerate(hypotheses):
        if not text.strip():
            continue
        intent = recognize(text)
        if index > 0 and intent.name is IntentName.CONFIRM:
            continue  # a yes only counts when it is what was heard best
        total = score + sense(intent, contacts)
        if best is None or total > best[0]:
            best = (total, Choice(index, text, intent))
    return None if best is None else best[1]
