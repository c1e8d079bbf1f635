"""What part of a spoken reply the user actually heard, from how much of its audio was played."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpokenSentence:
    """A sentence and the length of its audio."""

    text: str
    duration_ms: float


def heard_text(sentences: list[SpokenSentence], played_ms: float) -> str:
    """The reply up to `played_ms`: whole sentences, then the words of a partly played one in proportion.

    Proportional cutting is approximate (words differ in length), which is the right trade-off for
    dialogue context: the next turn must not assume the user heard what they did not.
    """
    heard: list[str] = []
    elapsed = 0.0
    for sentence in sentences:
        if played_ms >= elapsed + sentence.duration_ms:
            heard.append(sentence.text)
            elapsed += sentence.duration_ms
            continue
        fraction = max(0.0, (played_ms - elapsed) / sentence.duration_ms) if sentence.duration_ms else 0.0
        words = sentence.text.split()
        partial = words[: int(len(words) * fraction)]
        if partial:
            heard.append(" ".join(partial) + " …")
        break
    return " ".join(heard)
