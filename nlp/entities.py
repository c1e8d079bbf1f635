"""Entity finders shared by the intent rules."""

from __future__ import annotations

import re

# Anything that starts like an address is captured, even when malformed, so the user hears that the
# address is wrong instead of getting an answer about their own wallet.
_ADDRESS_LIKE = re.compile(r"\b0x[0-9a-zA-Z]+\b")


def find_address(text: str) -> str | None:
    """The first 0x-prefixed token in `text`, as typed (validation happens where it is used)."""
    match = _ADDRESS_LIKE.search(text)
    return match.group(0) if match else None


_SELF_WORDS = frozenset(
    {"my", "me", "mine", "i", "our", "us", "the", "this", "that", "your", "a", "an", "it"}
)
_THIRD_PARTY = (
    re.compile(r"\bbalance of (\w+)"),
    re.compile(r"\b(\w+)'s balance"),
    re.compile(r"\bhow much (?:0g |og |money |funds )?(?:does|has|did) (\w+)"),
    re.compile(r"\bbalance for (\w+)"),
)


def find_contact(normalized: str) -> str | None:
    """A name the user asks about instead of themselves ("alice's balance"), lower-case, or None.

    Args:
        normalized: text from `normalize_for_rules` (lower-case, no punctuation but apostrophes).
    """
    for pattern in _THIRD_PARTY:
        match = pattern.search(normalized)
        if match:
            word = match.group(1)
            if word not in _SELF_WORDS and not word.startswith("0x"):
                return word
    return None
