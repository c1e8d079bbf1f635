"""The slots of each intent (docs/intents.md), found in one utterance."""

from __future__ import annotations

import re

from nlp.entities import (
    checksum,
    find_address,
    find_amount,
    find_block,
    find_file_name,
    find_owner,
    find_recipients,
    find_token,
    find_tx_hash,
)
from nlp.free_text import find_fact, find_mode, find_note, find_persona
from nlp.intent import IntentName, SlotValue
from nlp.speech import light_form

Slots = dict[str, SlotValue]
_CONTACT_NAME = (
    re.compile(
        r"\b(?:save|add|store|remember|record|put) ([a-z]+) (?:to|in|into) (?:my )?(?:contacts|address book)\b"
    ),
    re.compile(
        r"\b(?:0x[0-9a-f]{40}|as|call(?:ed)?|name(?:d)?|label(?:led)?) (?:as )?([a-z]+)\b(?! (?:is|as)\b)"
    ),
    re.compile(r"\b(?:save|add|remember|store|record) ([a-z]+) (?:0x|0 x)"),
    re.compile(
        r"\b(?:remember|save|store|add|note|record|set) (?:that )?([a-z]+)(?:'s)? (?:is|as|address|wallet|with|at|=)\b"
    ),
    re.compile(r"\b(?:remember|save|store|add|note|record) (?:[a-z0-9 .]+ )?(?:as|for) ([a-z]+)\b"),
    re.compile(r"\b([a-z]+)'s (?:address|wallet)\b"),
    re.compile(r"\b([a-z]+) (?:is|has (?:the )?address|uses) (?:0x|0 x)"),
    re.compile(r"\b(?:contact|friend|called|named) ([a-z]+)\b"),
)
_RECALL_NAME = (
    re.compile(r"\b([a-z]+)'s (?:address|wallet|number|account)\b"),
    re.compile(r"\bwho is ([a-z]+)\b"),
    re.compile(r"\b(?:about|on|for) ([a-z]+)\b"),
    re.compile(r"\bremember ([a-z]+)$"),
)
# "send 10 of token 0x...", "my token 0x... balance": the address names the asset, not a person.
_TOKEN_ADDRESS = re.compile(r"\btokens? (?:at |address )?(0x[0-9a-f]{40})\b|\b(0x[0-9a-f]{40}) tokens?\b")


def _first_name(patterns: tuple[re.Pattern[str], ...], spoken: str) -> str | None:
    from nlp.entities import STOPWORDS

    for pattern in patterns:
        for match in pattern.finditer(spoken):
            word = match.group(1)
            if word not in STOPWORDS and word not in ("0x", "0", "x") and len(word) > 1:
                return word
    return None


def slots_for(intent: IntentName, original: str, spoken: str) -> Slots:
    """The slots `intent` takes, from the utterance (`original`) and its speech form (`spoken`)."""
    match intent:
        case IntentName.BALANCE:
            return _balance(original, spoken)
        case IntentName.TRANSFER:
            return _transfer(original, spoken)
        case IntentName.BLOCK:
            return {"block": find_block(spoken)}
        case IntentName.TX_STATUS:
            tx_hash = find_tx_hash(original) or find_tx_hash(spoken)
            # Without a hash, "did it go through" is about the user's latest transaction.
            return {"tx_hash": tx_hash} if tx_hash else {"tx_ref": "last"}
        case IntentName.STORE_FILE | IntentName.FETCH_FILE:
            name = find_file_name(spoken)
            return {"file_name": name} if name else {}
        case IntentName.STORE_NOTE:
            note = find_note(light_form(original))
            return {"note": note} if note else {}
        case IntentName.REMEMBER_CONTACT:
            return _remember_contact(original, spoken)
        case IntentName.REMEMBER_FACT:
            fact = find_fact(light_form(original))
            return {"fact": fact} if fact else {}
        case IntentName.RECALL:
            name = _first_name(_RECALL_NAME, spoken)
            return {"contact": name} if name else {}
        case IntentName.REPLY_MODE:
            mode = find_mode(light_form(original))
            return {"mode": mode} if mode else {}
        case IntentName.PERSONA:
            persona = find_persona(light_form(original))
            return {"persona": persona} if persona else {}
        case _:
            return {}


def _token_address(original: str) -> str | None:
    match = _TOKEN_ADDRESS.search(original.lower())
    return checksum(match.group(1) or match.group(2)) if match else None


def _balance(original: str, spoken: str) -> Slots:
    slots: Slots = {}
    token = _token_address(original)
    address = find_address(_without(original, token), spoken) if token else find_address(original, spoken)
    if token:
        slots["asset"] = token
    if address:
        slots["address"] = address
    else:
        owner = find_owner(spoken)
        if owner:
            slots["contact"] = owner
    symbol = find_token(spoken)
    if symbol and not token:
        slots["asset"] = symbol
    return slots


def _without(original: str, address: str | None) -> str:
    return re.sub(re.escape(address), " ", original, flags=re.IGNORECASE) if address else original


def _transfer(original: str, spoken: str) -> Slots:
    slots: Slots = {}
    amount = find_amount(spoken)
    if amount is not None:
        slots["amount"] = amount.value
        slots["asset"] = amount.asset
        if amount.unit:
            slots["unit"] = amount.unit
    else:
        token = find_token(spoken)
        slots["asset"] = token or "0G"
    token_address = _token_address(original)
    if token_address:
        slots["asset"] = token_address
        original = _without(original, token_address)
        spoken = _without(spoken, token_address)
    address = find_address(original, spoken)
    if address:
        slots["address"] = address
        return slots
    names = find_recipients(spoken)
    if len(names) > 1:
        slots["contacts"] = names
    elif names:
        slots["contact"] = names[0]
    return slots


def _remember_contact(original: str, spoken: str) -> Slots:
    slots: Slots = {}
    name = _first_name(_CONTACT_NAME, spoken)
    if name:
        slots["contact"] = name
    address = find_address(original, spoken)
    if address:
        slots["address"] = address
    return slots
