"""Intents answered from the dialogue and the user's profile, with no tool call: remembering contacts
and facts, recalling them, reply style, repeating, and yes/no when nothing is pending."""

from __future__ import annotations

import re

from learning.profiles import Profile, ProfileLimitError
from nlp import Intent, IntentName
from task_interpreter.dialogue import Dialogue
from task_interpreter.replies import shorten_address

_CHECKSUMMED = re.compile(r"0x[0-9a-fA-F]{40}")


def local_reply(intent: Intent, dialogue: Dialogue, profile: Profile) -> tuple[str, bool] | None:
    """(reply, whether the profile changed) for an intent handled here, else None."""
    match intent.name:
        case IntentName.REMEMBER_CONTACT:
            return _remember_contact(intent, profile)
        case IntentName.REMEMBER_FACT:
            fact = intent.slots.get("fact")
            if not isinstance(fact, str):
                return "What should I remember?", False
            try:
                profile.remember_fact(fact)
            except ProfileLimitError as exc:
                return f"I can't keep that: {exc}.", False
            return "Okay, I'll remember that.", True
        case IntentName.RECALL:
            return _recall(intent, profile), False
        case IntentName.REPLY_MODE:
            mode = intent.slots.get("mode")
            if mode not in ("short", "detailed"):
                return "Do you want shorter or more detailed answers?", False
            dialogue.reply_mode = profile.reply_mode = str(mode)
            return (
                "Okay, I'll keep it short." if mode == "short" else "Okay, I'll give you more detail."
            ), True
        case IntentName.PERSONA:
            persona = intent.slots.get("persona")
            if not isinstance(persona, str):
                return "How would you like me to talk?", False
            dialogue.persona = profile.persona = persona[:200]
            return "Okay, I've saved that preference.", True
        case IntentName.REPEAT:
            return (dialogue.last_reply or "I haven't said anything yet."), False
        case IntentName.CONFIRM:
            return "There's nothing waiting for a yes right now.", False
        case IntentName.CANCEL:
            dialogue.question = None
            return "Okay.", False
        case _:
            return None


def _remember_contact(intent: Intent, profile: Profile) -> tuple[str, bool]:
    name, address = intent.slots.get("contact"), intent.slots.get("address")
    if not isinstance(name, str) or not isinstance(address, str):
        return "Tell me the name and the address, for example: remember alice is 0x, then the address.", False
    if not _CHECKSUMMED.fullmatch(address):
        return f"{address} doesn't look like a valid address, so I didn't save it.", False
    try:
        profile.remember_contact(name, address)
    except ProfileLimitError as exc:
        return f"I can't add {name}: {exc}.", False
    return f"Okay, {name} is {shorten_address(address)}.", True


def _recall(intent: Intent, profile: Profile) -> str:
    contact = intent.slots.get("contact")
    if isinstance(contact, str):
        address = profile.contacts.get(contact)
        return f"{contact} is {shorten_address(address)}." if address else f"I don't know {contact} yet."
    parts = []
    if profile.contacts:
        parts.append("Your contacts are " + ", ".join(sorted(profile.contacts)) + ".")
    if profile.facts:
        parts.append("You told me: " + "; ".join(profile.facts[-3:]) + ".")
    return " ".join(parts) or "You haven't told me anything to remember yet."
