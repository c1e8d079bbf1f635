"""The language models the product runs, loaded once per process: the intent recognizer and the
documentation index, sharing one MiniLM."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from mcp_servers.knowledge import DocIndex
from nlp.classifier import ClassifierUnavailableError, IntentClassifier, Prediction, SentenceEncoder, Vectors
from nlp.intent import IntentName
from nlp.recognizer import Recognizer
from zgvoice.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def shared_encoder() -> SentenceEncoder:
    """The one MiniLM of the process (a few seconds to load), for intents and documentation search.

    Raises:
        ClassifierUnavailableError: the model package is not installed.
    """
    return SentenceEncoder()


class _EncoderEmbedder:
    """The knowledge server's `Embedder` over the shared encoder."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        return shared_encoder().encode(texts, batch_size=16, max_tokens=256)


@lru_cache(maxsize=1)
def docs_index() -> DocIndex:
    """The project's documentation, embedded once per process."""
    return DocIndex.from_repo(PROJECT_ROOT, _EncoderEmbedder())


@lru_cache(maxsize=1)
def _classifier() -> IntentClassifier | None:
    try:
        return IntentClassifier.load(shared_encoder())
    except ClassifierUnavailableError as exc:
        log.warning("intent classifier unavailable; rules only", extra={"reason": str(exc)})
        return None


class LazyClassifier:
    """The shared classifier, loaded on the first utterance the rules do not settle (a few seconds
    once), so a one-off `zgv ask` answered by the rules never pays for the model."""

    def predict(self, spoken: str) -> Prediction:
        classifier = _classifier()
        if classifier is None:
            return Prediction(IntentName.UNKNOWN, 0.0)
        return classifier.predict(spoken)


def recognizer_for(settings: Settings) -> Recognizer:
    """Rules plus, when enabled and installed, the embedding classifier."""
    classifier = LazyClassifier() if settings.nlp.classifier else None
    return Recognizer(classifier, threshold=settings.nlp.intent_threshold)


def warm_up() -> None:
    """Load the classifier and embed the docs now (blocking; seconds) so no turn waits for them."""
    _classifier()
    docs_index()
