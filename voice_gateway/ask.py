"""The ask service: one text turn through the interpreter, optionally spoken, with a latency breakdown."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from task_interpreter import Interpreter, TurnOutcome
from task_interpreter.dialogue import Dialogue
from task_interpreter.interpreter import StageClock
from voice_gateway import log_context
from voice_gateway.audio import AudioClip
from voice_gateway.audio.decode import decode_to_pcm16k
from voice_gateway.stt import SpeechToText
from voice_gateway.tts import TextToSpeech

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AskResult:
    """A finished turn: what was understood and done, the reply, its audio if asked, and timings."""

    turn_id: str
    outcome: TurnOutcome
    latency_ms: dict[str, float]
    audio: AudioClip | None

    def as_json(self) -> dict[str, Any]:
        """The JSON shape shared by `zgv ask --json` and `POST /v1/ask`."""
        return {"turn_id": self.turn_id, **self.outcome.as_json(), "latency_ms": self.latency_ms}


class NoSpeechError(Exception):
    """The audio held no recognizable words."""

    code = "no_speech"
    message = "no words were recognized in that audio"


class AskService:
    """Runs whole turns (text, or a whole audio file). Stateless apart from the components it holds."""

    def __init__(self, interpreter: Interpreter, tts: TextToSpeech) -> None:
        self._interpreter = interpreter
        self._tts = tts

    async def ask(self, text: str, *, speak: bool, user: str | None = None) -> AskResult:
        """Handle one utterance; with `speak`, also synthesize the reply.

        Args:
            text: what the user said or typed.
            speak: also synthesize the reply.
            user: whose profile the turn uses (a signed-in wallet); None: the local user.

        Raises:
            TextInputError: the text is empty, too long or not valid text (nothing was run).
        """
        dialogue = _dialogue(user)
        return await self._turn(
            text, speak=speak, clock=StageClock(), started=time.perf_counter(), dialogue=dialogue
        )

    async def ask_audio(
        self, data: bytes, stt: SpeechToText, *, max_seconds: float, speak: bool, user: str | None = None
    ) -> AskResult:
        """Handle a whole audio file: decode, transcribe, then as `ask` (`user` likewise).

        Raises:
            AudioDecodeError: not usable audio.
            SttError: the recognizer failed.
            NoSpeechError: nothing was said.
        """
        started = time.perf_counter()
        clock = StageClock()
        pcm = await anyio.to_thread.run_sync(decode_to_pcm16k, data, max_seconds)
        clock.lap("decode_ms")
        heard = await stt.alternatives(pcm)
        clock.lap("stt_ms")
        dialogue = _dialogue(user)
        choices = [(alt.text, alt.score) for alt in heard]
        text = await (
            self._interpreter.choose_heard(choices)
            if dialogue is None
            else self._interpreter.choose_heard(choices, dialogue)
        )
        if not text:
            raise NoSpeechError()
        return await self._turn(text, speak=speak, clock=clock, started=started, dialogue=dialogue)

    async def _turn(
        self, text: str, *, speak: bool, clock: StageClock, started: float, dialogue: Dialogue | None
    ) -> AskResult:
        turn = uuid.uuid4().hex[:16]
        token = log_context.turn_id.set(turn)
        try:
            if dialogue is None:
                outcome = await self._interpreter.handle(text, clock)
            else:
                outcome = await self._interpreter.handle(text, clock, None, dialogue)
            audio = None
            if speak:
                audio = await self._tts.synthesize(outcome.reply)
                clock.lap("tts_ms")
            latency = {**clock.stages, "total_ms": round((time.perf_counter() - started) * 1000.0, 3)}
            log.info(
                "turn done",
                extra={"intent": outcome.intent.name.value, "latency_ms": latency, "ok": _all_ok(outcome)},
            )
            return AskResult(turn_id=turn, outcome=outcome, latency_ms=latency, audio=audio)
        finally:
            log_context.turn_id.reset(token)


def _dialogue(user: str | None) -> Dialogue | None:
    # A one-off dialogue of its own per request, as before, but belonging to the signed-in wallet.
    return None if user is None else Dialogue(user=user)


def _all_ok(outcome: TurnOutcome) -> bool:
    return all(result.ok for result in outcome.results)
