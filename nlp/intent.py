"""The intent a user's words express: a name from a fixed list, its slots, and a confidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class IntentName(StrEnum):
    """Stable intent names (documented in docs/intents.md); later issues add to this list."""

    BALANCE = "balance"
    TRANSFER = "transfer"
    BLOCK = "block"
    TX_STATUS = "tx_status"
    GAS_PRICE = "gas_price"
    CHAIN_INFO = "chain_info"
    STORE_FILE = "store_file"
    STORE_NOTE = "store_note"
    FETCH_FILE = "fetch_file"
    LIST_FILES = "list_files"
    REMEMBER_CONTACT = "remember_contact"
    REMEMBER_FACT = "remember_fact"
    RECALL = "recall"
    KNOWLEDGE = "knowledge"
    HELP = "help"
    REPEAT = "repeat"
    CONFIRM = "confirm"
    CANCEL = "cancel"
    REPLY_MODE = "reply_mode"
    PERSONA = "persona"
    UNKNOWN = "unknown"


# Intents that change something (on chain, in storage or in the user's profile): never acted on
# below the write confidence threshold.
WRITE_INTENTS = frozenset(
    {
        IntentName.TRANSFER,
        IntentName.STORE_FILE,
        IntentName.STORE_NOTE,
        IntentName.REMEMBER_CONTACT,
        IntentName.REMEMBER_FACT,
    }
)

SlotValue = str | int | list[str]


@dataclass(frozen=True, slots=True)
class Intent:
    """What the recognizer understood. `confidence` is in [0, 1]; `unknown` has 0."""

    name: IntentName
    slots: dict[str, SlotValue] = field(default_factory=dict)
    confidence: float = 0.0
