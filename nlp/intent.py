"""The intent a user's words express: a name from a fixed list, its slots, and a confidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class IntentName(StrEnum):
    """Stable intent names (documented in docs/intents.md); later issues add to this list."""

    BALANCE = "balance"
    BLOCK = "block"
    GAS_PRICE = "gas_price"
    CHAIN_INFO = "chain_info"
    HELP = "help"
    UNKNOWN = "unknown"


SlotValue = str | int


@dataclass(frozen=True, slots=True)
class Intent:
    """What the recognizer understood. `confidence` is in [0, 1]; `unknown` has 0."""

    name: IntentName
    slots: dict[str, SlotValue] = field(default_factory=dict)
    confidence: float = 0.0
