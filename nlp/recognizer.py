"""From one utterance to an `Intent`: the speech form, then high-precision rules, then the embedding
classifier for whatever the rules do not cover, then the intent's slots.

Confidence: a rule match is 0.95; otherwise the classifier's calibrated probability. Below
`threshold` the result is `unknown` (the assistant says it did not understand); callers also refuse
to act on a write intent below their own, higher threshold and ask instead.
"""

from __future__ import annotations

from typing import Protocol

from nlp.classifier import Prediction
from nlp.entities import find_address
from nlp.intent import Intent, IntentName
from nlp.rules import match_rules
from nlp.slots import slots_for
from nlp.speech import speech_form


class Classifier(Protocol):
    """What the recognizer needs of a classifier (`IntentClassifier`, or a lazy wrapper of it)."""

    def predict(self, spoken: str) -> Prediction:
        """The best intent for one utterance's speech form."""
        ...


RULE_CONFIDENCE = 0.95
DEFAULT_THRESHOLD = 0.45


class Recognizer:
    """Maps a cleaned transcript to an `Intent`.

    Args:
        classifier: the embedding classifier; None uses rules only (microseconds a turn).
        threshold: the least classifier probability accepted as an intent.
    """

    def __init__(self, classifier: Classifier | None = None, threshold: float = DEFAULT_THRESHOLD) -> None:
        self._classifier = classifier
        self._threshold = threshold

    def recognize(self, text: str) -> Intent:
        """Recognize the intent of one utterance (already cleaned by `clean_text`)."""
        spoken = speech_form(text)
        name = match_rules(spoken)
        confidence = RULE_CONFIDENCE
        if name is None:
            name, confidence = self._classify(text, spoken)
        if name is IntentName.UNKNOWN:
            return Intent(IntentName.UNKNOWN, confidence=confidence)
        return Intent(name, slots_for(name, text, spoken), confidence)

    def _classify(self, text: str, spoken: str) -> tuple[IntentName, float]:
        if self._classifier is not None and spoken:
            prediction = self._classifier.predict(spoken)
            if prediction.probability >= self._threshold:
                return prediction.intent, prediction.probability
            return IntentName.UNKNOWN, prediction.probability
        # Without a classifier: a bare address is most likely a question about its balance.
        if find_address(text, spoken) is not None and len(spoken.split()) <= 3:
            return IntentName.BALANCE, 0.6
        return IntentName.UNKNOWN, 0.0


def RuleRecognizer() -> Recognizer:  # noqa: N802 - the name older callers know
    """A rules-only recognizer."""
    return Recognizer()
