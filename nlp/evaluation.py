"""Scoring an evaluation suite: per-case results, intent accuracy, slot exact match, and the confusion
table. The suite format is in docs/intents.md; reading audio is the caller's job (`zgv eval`)."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp.intent import Intent, IntentName
from nlp.numbers import spoken_to_digits

MAX_SUITE_BYTES = 16 * 1024 * 1024
MAX_CASES = 20_000
# Free-text slots are compared without case, spacing and edge punctuation, with numbers as digits
# and British spellings as American: the words must match.
_FREE_TEXT_SLOTS = frozenset({"note", "fact", "persona", "file_name"})


class SuiteError(ValueError):
    """A suite file that cannot be evaluated; the message names the line."""


@dataclass(frozen=True, slots=True)
class Case:
    """One line of a suite: text or an audio path (relative to the suite file), and what to expect."""

    id: str
    expect_intent: IntentName
    expect_slots: dict[str, Any]
    text: str | None = None
    audio: Path | None = None


@dataclass
class CaseResult:
    """What the recognizer made of one case."""

    case: Case
    heard: str
    intent: IntentName
    slots: dict[str, Any]
    confidence: float

    @property
    def intent_ok(self) -> bool:
        return self.intent is self.case.expect_intent

    @property
    def slots_ok(self) -> bool:
        return self.intent_ok and normalized_slots(self.slots) == normalized_slots(self.case.expect_slots)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "heard": self.heard,
            "expected": {"intent": self.case.expect_intent.value, "slots": self.case.expect_slots},
            "got": {
                "intent": self.intent.value,
                "slots": self.slots,
                "confidence": round(self.confidence, 3),
            },
            "intent_ok": self.intent_ok,
            "slots_ok": self.slots_ok,
        }


@dataclass
class Report:
    """Totals of a suite run."""

    results: list[CaseResult] = field(default_factory=list)

    @property
    def intent_accuracy(self) -> float:
        return sum(r.intent_ok for r in self.results) / max(1, len(self.results))

    @property
    def slot_exact_match(self) -> float:
        return sum(r.slots_ok for r in self.results) / max(1, len(self.results))

    def confusion(self) -> dict[str, dict[str, int]]:
        """expected intent -> {predicted intent: count}."""
        table: dict[str, Counter[str]] = {}
        for result in self.results:
            table.setdefault(result.case.expect_intent.value, Counter())[result.intent.value] += 1
        return {expected: dict(sorted(row.items())) for expected, row in sorted(table.items())}

    def as_json(self) -> dict[str, Any]:
        return {
            "cases": len(self.results),
            "intent_accuracy": round(self.intent_accuracy, 4),
            "slot_exact_match": round(self.slot_exact_match, 4),
            "confusion": self.confusion(),
            "results": [r.as_json() for r in self.results],
        }


# Spellings that differ only between British and American English (the recognizer writes American).
_SPELLING = {
    "colour": "color",
    "favourite": "favorite",
    "mum": "mom",
    "centre": "center",
    "organise": "organize",
}
# Ordinals as words and as digits ("third", "3rd") are the same word said.
_ORDINALS = {
    word: f"{n}{'th' if 10 < n % 100 < 14 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"
    for n, word in enumerate(
        [
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
        ],
        start=1,
    )
}


def _free_text(value: str) -> str:
    # Numbers compare as digits whichever way they were written ("three" and "3" are one word said).
    words = spoken_to_digits(re.sub(r"[^\w\s.']", " ", value.lower())).split()
    return " ".join(_ORDINALS.get(word, _SPELLING.get(word, word)) for word in words).strip(" .'")


def normalized_slots(slots: dict[str, Any]) -> dict[str, Any]:
    """Slots as compared: free-text slots reduced to their words; everything else exact."""
    return {k: _free_text(v) if k in _FREE_TEXT_SLOTS and isinstance(v, str) else v for k, v in slots.items()}


def load_suite(path: Path) -> list[Case]:
    """The cases of a JSONL suite.

    Raises:
        SuiteError: unreadable, too large, or a line that is not a valid case.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SuiteError(f"cannot read {path}: {exc.strerror}") from None
    if size > MAX_SUITE_BYTES:
        raise SuiteError(f"{path} is over {MAX_SUITE_BYTES // (1024 * 1024)} MiB")
    cases: list[Case] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if len(cases) >= MAX_CASES:
            raise SuiteError(f"{path} has more than {MAX_CASES} cases")
        case = _case(path, number, line)
        if case.id in seen:
            raise SuiteError(f"{path}:{number}: duplicate id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise SuiteError(f"{path} holds no cases")
    return cases


def _case(path: Path, number: int, line: str) -> Case:
    where = f"{path}:{number}"
    try:
        row = json.loads(line)
    except ValueError:
        raise SuiteError(f"{where}: not JSON") from None
    if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not row["id"]:
        raise SuiteError(f"{where}: a case is an object with a non-empty string id")
    expect = row.get("expect")
    if not isinstance(expect, dict) or not isinstance(expect.get("slots", {}), dict):
        raise SuiteError(f"{where}: expect must be {{intent, slots}}")
    try:
        intent = IntentName(str(expect.get("intent")))
    except ValueError:
        raise SuiteError(f"{where}: unknown intent {expect.get('intent')!r}") from None
    text, audio = row.get("text"), row.get("audio")
    if (text is None) == (audio is None):
        raise SuiteError(f"{where}: give exactly one of text and audio")
    if text is not None and not isinstance(text, str):
        raise SuiteError(f"{where}: text must be a string")
    audio_path = None
    if audio is not None:
        if not isinstance(audio, str) or not audio:
            raise SuiteError(f"{where}: audio must be a relative path")
        audio_path = (path.parent / audio).resolve()
        if not audio_path.is_relative_to(path.parent.resolve()):
            raise SuiteError(f"{where}: audio paths stay inside the suite's folder")
    return Case(row["id"], intent, dict(expect.get("slots", {})), text, audio_path)


def result_of(case: Case, heard: str, intent: Intent) -> CaseResult:
    """Score one case given what was heard and recognized."""
    return CaseResult(case, heard, intent.name, dict(intent.slots), intent.confidence)
