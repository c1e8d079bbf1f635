"""Turns a stream of VAD scores into utterances: speech start, speculative-decode point, endpoint.

Pure logic over (audio window, probability, arrival time), so it is tested without audio models.
Hysteresis (a lower threshold to leave speech) keeps soft word endings from ending an utterance.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from voice_gateway.audio.vad import VAD_CHUNK_MS


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """Thresholds in milliseconds of audio; see `VoiceSettings` for the defaults."""

    threshold: float = 0.5
    min_speech_ms: float = 200
    endpoint_silence_ms: float = 400
    speculative_silence_ms: float = 96
    max_utterance_ms: float = 15_000
    preroll_ms: float = 320
    hysteresis: float = 0.15


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Enough voiced audio to be speech (not a click or a cough)."""


@dataclass(frozen=True, slots=True)
class SilenceStarted:
    """Speech paused long enough to start a speculative final decode of `audio`."""

    audio: bytes
    speech_end_at: float


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """Speech came back after `SilenceStarted`: a speculative decode is now stale."""


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    """The endpoint: the whole utterance, when its last voiced window arrived, and whether it was cut."""

    audio: bytes
    speech_end_at: float
    speech_ms: float
    capped: bool


EndpointEvent = SpeechStarted | SilenceStarted | SpeechResumed | UtteranceEnded


class Endpointer:
    """Feed it 32 ms windows with their speech probability; it returns the events they cause."""

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self._preroll: deque[bytes] = deque(maxlen=max(1, int(config.preroll_ms / VAD_CHUNK_MS)))
        self._pending: list[bytes] = []
        self._utterance: list[bytes] = []
        self._in_speech = False
        self._paused = False
        self._voiced_ms = 0.0
        self._silence_ms = 0.0
        self._speech_end_at = 0.0
        self._speech_ms = 0.0

    @property
    def in_speech(self) -> bool:
        """True between `SpeechStarted` and `UtteranceEnded`."""
        return self._in_speech

    @property
    def utterance_audio(self) -> bytes:
        """The current utterance so far (for interim transcripts)."""
        return b"".join(self._utterance)

    @property
    def utterance_ms(self) -> float:
        """Length of the current utterance so far."""
        return len(self._utterance) * VAD_CHUNK_MS

    def push(self, window: bytes, probability: float, arrived_at: float) -> list[EndpointEvent]:
        """Advance by one window."""
        if self._in_speech:
            return self._in_utterance(window, probability, arrived_at)
        return self._idle(window, probability, arrived_at)

    def _idle(self, window: bytes, probability: float, arrived_at: float) -> list[EndpointEvent]:
        cfg = self.config
        if probability >= cfg.threshold:
            self._pending.append(window)
            self._voiced_ms += VAD_CHUNK_MS
            self._speech_end_at = arrived_at
            if self._voiced_ms >= cfg.min_speech_ms:
                self._in_speech = True
                self._paused = False
                self._silence_ms = 0.0
                self._speech_ms = self._voiced_ms
                self._utterance = [*self._preroll, *self._pending]
                self._preroll.clear()
                self._pending = []
                return [SpeechStarted()]
            return []
        # A voiced run too short to count goes back to the pre-roll, so a real start keeps its onset.
        self._preroll.extend(self._pending)
        self._pending = []
        self._voiced_ms = 0.0
        self._preroll.append(window)
        return []

    def _in_utterance(self, window: bytes, probability: float, arrived_at: float) -> list[EndpointEvent]:
        cfg = self.config
        self._utterance.append(window)
        events: list[EndpointEvent] = []
        voiced = probability >= cfg.threshold or (
            not self._paused and probability >= cfg.threshold - cfg.hysteresis
        )
        if voiced:
            self._speech_end_at = arrived_at
            self._speech_ms += VAD_CHUNK_MS + self._silence_ms
            self._silence_ms = 0.0
            if self._paused:
                self._paused = False
                events.append(SpeechResumed())
        else:
            self._silence_ms += VAD_CHUNK_MS
            if not self._paused and self._silence_ms >= cfg.speculative_silence_ms:
                self._paused = True
                events.append(SilenceStarted(self.utterance_audio, self._speech_end_at))
            if self._silence_ms >= cfg.endpoint_silence_ms:
                events.append(self._end(capped=False))
                return events
        if self.utterance_ms >= cfg.max_utterance_ms:
            events.append(self._end(capped=True))
        return events

    def _end(self, capped: bool) -> UtteranceEnded:
        ended = UtteranceEnded(self.utterance_audio, self._speech_end_at, self._speech_ms, capped)
        self._utterance = []
        self._in_speech = False
        self._paused = False
        self._voiced_ms = 0.0
        self._silence_ms = 0.0
        return ended
