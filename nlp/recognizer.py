"""A rule-based intent recognizer: the first, deterministic layer of understanding.

Rules are data (a pattern list per intent); the first intent whose pattern matches wins, in the
order of `_RULES`, which goes from the most specific to the most general.
"""

from __future__ import annotations

import re

from nlp.entities import find_address, find_contact
from nlp.intent import Intent, IntentName

_CONTRACTIONS = {
    "what's": "what is",
    "whats": "what is",
    "how's": "how is",
    "where's": "where is",
    "i'm": "i am",
    "we're": "we are",
}
# Words speech recognition often hears instead of "block".
_BLOCK_MISHEARINGS = re.compile(
    r"\b(?:black|blog|blocks|log|clock|lock|luck|vlog)\b(?= (?:number|height|count))"
    r"|(?<=latest )(?:black|blog|log|clock|lock|luck|vlog)\b"
    r"|(?<=last )(?:black|blog|log|clock|lock|luck|vlog)\b"
    r"|(?<=current )(?:black|blog|clock)\b"
)
_PUNCTUATION = re.compile(r"[^\w\s']")

_RULES: tuple[tuple[IntentName, tuple[str, ...]], ...] = (
    (
        IntentName.GAS_PRICE,
        (
            r"\bgas (price|prices|fee|fees|cost)\b",
            r"\bprice of gas\b",
            r"\bhow (much|expensive) is gas\b",
        ),
    ),
    (
        IntentName.CHAIN_INFO,
        (
            r"\b(which|what) (chain|network)\b",
            r"\bchain id\b",
            r"\b(chain|network) (info|information|details|status)\b",
            r"\bam i (connected|on)\b",
        ),
    ),
    (
        IntentName.BLOCK,
        (
            r"\b(latest|last|current|newest|most recent|recent|head|top) block\b",
            r"\bblock (number|height|count)\b",
            r"\bhow many blocks\b",
            r"\bwhat block\b",
            r"\bchain height\b",
        ),
    ),
    (
        IntentName.BALANCE,
        (
            r"\bbalances?\b",
            r"\bhow much (0g|og|zero g|money|funds|tokens?|do i have|is in|does)\b",
            r"\bhow (rich|poor) am i\b",
            r"\bwhat do i (have|own)\b",
            r"\bcheck my (wallet|account)\b",
        ),
    ),
    (
        IntentName.HELP,
        (
            r"\bhelp\b",
            r"\bwhat can you do\b",
            r"\bwhat do you (do|know)\b",
            r"\bhow do i use\b",
        ),
    ),
)
_COMPILED = tuple((name, tuple(re.compile(p) for p in patterns)) for name, patterns in _RULES)


def normalize_for_rules(text: str) -> str:
    """Lower-case, expand contractions, fix common mishearings, and drop punctuation."""
    lowered = text.lower().replace("\u2019", "'")
    words = [_CONTRACTIONS.get(w, w) for w in lowered.split()]
    joined = " ".join(words)
    joined = _PUNCTUATION.sub(" ", joined)
    joined = _BLOCK_MISHEARINGS.sub("block", joined)
    return " ".join(joined.split())


class RuleRecognizer:
    """Maps a cleaned transcript to an `Intent` with rules. Stateless and cheap (microseconds)."""

    rule_confidence = 0.9

    def recognize(self, text: str) -> Intent:
        """Recognize the intent of one utterance (already cleaned by `clean_text`)."""
        normalized = normalize_for_rules(text)
        for name, patterns in _COMPILED:
            if any(p.search(normalized) for p in patterns):
                slots = self._slots(name, text, normalized)
                return Intent(name=name, slots=slots, confidence=self.rule_confidence)
        # A bare address is most likely a question about its balance.
        address = find_address(text)
        if address is not None and len(normalized.split()) <= 3:
            return Intent(name=IntentName.BALANCE, slots={"address": address}, confidence=0.6)
        return Intent(name=IntentName.UNKNOWN)

    @staticmethod
    def _slots(name: IntentName, text: str, normalized: str) -> dict[str, str | int]:
        if name is IntentName.BALANCE:
            address = find_address(text)
            if address:
                return {"address": address}
            contact = find_contact(normalized)
            return {"contact": contact} if contact else {}
        if name is IntentName.BLOCK:
            return {"block": "latest"}
        return {}
