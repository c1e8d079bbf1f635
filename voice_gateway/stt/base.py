"""The speech-to-text interface. Streaming (interim results, speculative finals) is built on top of
whole-buffer decodes by `voice_gateway.voice.transcriber`, so every adapter gets it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# What our users talk about, given to recognizers that take a hint (Whisper's prompt, Google's
# phrase hints): the coin's name as written, and the words of the commands. Measured on the spoken
# evaluation suites (Whisper tiny.en): top-hypothesis slot match 82.6% -> 87.6%, holdout 83.3% -> 85%.
DOMAIN_VOCABULARY = "0G balance, block, gas price, send, store, note, RPC, testnet, USDC."


class SttError(Exception):
    """The recognizer failed (model missing, credentials absent, service down); `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Alternative:
    """One hypothesis of what was said, with the recognizer's score (higher is likelier; Whisper:
    length-normalized log probability, Google: log of its confidence)."""

    text: str
    score: float


class SpeechToText(Protocol):
    """Transcribes 16 kHz mono PCM16 audio. Safe to call concurrently."""

    async def transcribe(self, pcm16k: bytes, *, interim: bool = False) -> str:
        """The text said in `pcm16k` ("" when nothing intelligible was said).

        `interim` marks a provisional decode of speech still going on: an adapter may trade
        accuracy for speed there.

        Raises:
            SttError: the recognizer could not run.
        """
        ...

    async def alternatives(self, pcm16k: bytes, limit: int = 5) -> list[Alternative]:
        """Up to `limit` hypotheses of a finished utterance, best first (empty when nothing
        intelligible was said), so understanding can prefer one that makes sense.

        Raises:
            SttError: the recognizer could not run.
        """
        ...

    def busy(self) -> bool:
        """True when every decoder is in use: optional work (interim results) should wait."""
        ...
