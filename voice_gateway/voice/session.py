"""One voice session: audio in, VAD and endpointing, streaming STT, the interpreter, spoken replies,
and barge-in. Transport-agnostic: the WebSocket route hands it a `Transport`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread

from nlp import Intent, TextInputError
from task_interpreter import Interpreter, Plan, StageClock, ToolResult
from task_interpreter.dialogue import Dialogue
from voice_gateway import log_context
from voice_gateway.audio.endpointing import (
    EndpointConfig,
    Endpointer,
    SilenceStarted,
    SpeechResumed,
    SpeechStarted,
    UtteranceEnded,
)
from voice_gateway.audio.pcm import FrameError, NoiseSuppressor, Rewindower, check_frame
from voice_gateway.audio.vad import VAD_CHUNK_BYTES, VoiceActivityDetector
from voice_gateway.history import CompletedTurn
from voice_gateway.stt import Alternative, SpeechToText, SttError
from voice_gateway.tts import TextToSpeech, TtsError, split_sentences
from voice_gateway.voice import protocol as p
from voice_gateway.voice.heard import SpokenSentence, heard_text
from voice_gateway.voice.outbox import AudioOut, CloseOut, Outbox, OutboxFull
from voice_gateway.voice.speaker import Playback, speak

log = logging.getLogger(__name__)


class Transport(Protocol):
    """The socket under a session."""

    async def receive(self) -> bytes | str | None:
        """The next message, or None once the peer has gone."""
        ...

    async def send_text(self, data: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, code: int, reason: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    """Session limits and timings (from `VoiceSettings`)."""

    endpoint: EndpointConfig = EndpointConfig()
    max_frame_bytes: int = 64 * 1024
    max_text_message_bytes: int = 16 * 1024
    interim_interval_ms: int = 800
    noise_suppression: bool = False
    inbound_queue_frames: int = 1000
    outbound_queue_messages: int = 512
    send_timeout_s: float = 5.0
    audio_lead_ms: int = 300
    audio_chunk_ms: int = 40


@dataclass(frozen=True, slots=True)
class VoiceDeps:
    """What every session shares."""

    interpreter: Interpreter
    stt: SpeechToText
    voices: Mapping[str, TextToSpeech]
    default_voice: str
    vad_factory: Callable[[], VoiceActivityDetector]
    config: VoiceConfig


@dataclass(slots=True)
class DialogueTurn:
    """One exchange as the user experienced it: what they said and what of the reply they heard."""

    turn_id: str
    user: str
    reply: str
    heard: str
    spoken: list[SpokenSentence] = field(default_factory=list)


@dataclass(slots=True)
class _Speaking:
    turn_id: str
    task: asyncio.Task[None]
    playback: Playback = field(default_factory=Playback)


@dataclass(slots=True)
class _Utterance:
    turn_id: str
    speculative: asyncio.Task[list[Alternative]] | None = None
    interim: asyncio.Task[None] | None = None
    last_interim_ms: float = 0.0


class VoiceSession:
    """Runs until the client stops, disconnects, or stops reading.

    Args:
        deps: what every session shares.
        transport: the socket.
        user: whose profile, contacts and notes the dialogue uses (a signed-in wallet's address);
            None: the deployment's local user.
        on_turn: told about each turn that produced a reply, after its `metrics`; must not block.
        admit_turn: asked before each turn is answered; False refuses it with `rate_limited`
            (a signed-in wallet's turn limit). None admits every turn.
    """

    def __init__(
        self,
        deps: VoiceDeps,
        transport: Transport,
        *,
        user: str | None = None,
        on_turn: Callable[[CompletedTurn], None] | None = None,
        admit_turn: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex[:16]
        self._deps = deps
        self._cfg = deps.config
        self._transport = transport
        self._outbox = Outbox(self._cfg.outbound_queue_messages)
        self._inbox: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue(self._cfg.inbound_queue_frames)
        self._started = False
        self._options = p.Start(type="start")
        self._instructions: str | None = None
        self._persona: str | None = None
        self._endpointer = Endpointer(self._cfg.endpoint)
        self._rewindower = Rewindower(VAD_CHUNK_BYTES)
        self._denoiser = NoiseSuppressor() if self._cfg.noise_suppression else None
        self._vad: VoiceActivityDetector | None = None
        self._utterance: _Utterance | None = None
        self._turn_task: asyncio.Task[None] | None = None
        self._speaking: _Speaking | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.history: list[DialogueTurn] = []
        # What the interpreter remembers of this conversation (pending confirmations included).
        self.dialogue = Dialogue() if user is None else Dialogue(user=user)
        self._on_turn = on_turn
        self._admit_turn = admit_turn
        self.frames_received = 0
        self.frames_dropped = 0

    # -- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the session; returns when it is over, with every task it started finished."""
        token = log_context.session_id.set(self.id)
        writer = self._spawn(self._write_loop())
        processor = self._spawn(self._process_loop())
        try:
            if await self._read_loop():
                # A `stop`: let the writer send what is queued, then the close frame.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(writer), self._cfg.send_timeout_s)
        except OutboxFull:
            log.warning("closing a session whose client does not read")
            await self._transport.close(1008, "client not reading")
        finally:
            for task in (*self._tasks, writer, processor):
                task.cancel()
            for task in (*self._tasks, writer, processor):
                with contextlib.suppress(BaseException):
                    await task
            log_context.session_id.reset(token)

    async def end(self, code: str, message: str, close_code: int) -> None:
        """End the session from outside (e.g. its sign-in was revoked): a fatal `error`, then the close."""
        try:
            await self._error(code, message, fatal=True)
            await self._close_after_sending(close_code, code)
        except OutboxFull:
            await self._transport.close(close_code, code)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _emit(self, kind: str, **fields: Any) -> None:
        await self._outbox.put(p.event(kind, **fields), self._cfg.send_timeout_s)

    async def _error(
        self, code: str, message: str, *, fatal: bool = False, turn_id: str | None = None
    ) -> None:
        error = p.error_event(code, message, fatal=fatal)
        if turn_id is not None:
            error["turn_id"] = turn_id
        await self._outbox.put(error, self._cfg.send_timeout_s)

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            try:
                if isinstance(item, CloseOut):
                    await self._transport.close(item.code, item.reason)
                    return
                if isinstance(item, AudioOut):
                    await asyncio.wait_for(self._transport.send_bytes(item.pcm), self._cfg.send_timeout_s)
                else:
                    await asyncio.wait_for(
                        self._transport.send_text(json.dumps(item)), self._cfg.send_timeout_s
                    )
            except TimeoutError:
                log.warning("closing a session whose client does not read")
                await self._transport.close(1008, "client not reading")
                return

    # -- input -----------------------------------------------------------------------------------

    async def _read_loop(self) -> bool:
        """Read until the peer goes (False) or sends `stop` (True)."""
        while True:
            message = await self._transport.receive()
            if message is None:
                return False
            if isinstance(message, bytes):
                await self._on_audio(message)
            elif await self._on_text(message):
                return True

    async def _on_audio(self, frame: bytes) -> None:
        if not self._started:
            await self._error("not_started", 'send {"type": "start"} before audio')
            return
        try:
            check_frame(frame, self._cfg.max_frame_bytes)
        except FrameError as exc:
            await self._error(exc.code, exc.message)
            return
        self.frames_received += 1
        try:
            self._inbox.put_nowait((frame, time.perf_counter()))
        except asyncio.QueueFull:
            self.frames_dropped += 1
            if self.frames_dropped == 1 or self.frames_dropped % 100 == 0:
                await self._error(
                    "overloaded",
                    f"audio is arriving faster than it can be processed; "
                    f"{self.frames_dropped} frames dropped",
                )

    async def _on_text(self, raw: str) -> bool:
        """Handle one control message; True when the session should end."""
        if len(raw.encode()) > self._cfg.max_text_message_bytes:
            await self._error(
                "message_too_large", f"text messages are limited to {self._cfg.max_text_message_bytes} bytes"
            )
            return False
        try:
            message = p.parse_client_message(raw)
        except p.ProtocolError as exc:
            await self._error(exc.code, exc.message)
            return False
        if isinstance(message, p.Start):
            await self._on_start(message)
            return False
        if not self._started:
            await self._error("not_started", 'send {"type": "start"} first')
            return False
        match message:
            case p.Text():
                self._start_turn(self._typed_turn(message.text))
            case p.Interrupt():
                await self._on_interrupt(message.played_ms)
            case p.Confirm() | p.Cancel():
                pending = self.dialogue.pending_confirmation()
                if pending is None:
                    await self._error("nothing_to_confirm", "there is no action waiting for confirmation")
                elif isinstance(message, p.Confirm):
                    # A button press on the shown summary is an explicit yes to what was shown.
                    pending.heard = True
                    self._start_turn(self._typed_turn("yes"))
                else:
                    self._start_turn(self._typed_turn("no"))
            case p.UpdateContext():
                await self._on_update_context(message)
            case p.Stop():
                await self._stop_speaking("stopped")
                await self._emit("stopped")
                await self._close_after_sending(1000, "stopped")
                return True
        return False

    async def _on_start(self, start: p.Start) -> None:
        if self._started:
            await self._error("already_started", "the session has already started")
            return
        self._started = True
        self._options = start
        self._vad = await anyio.to_thread.run_sync(self._deps.vad_factory)
        if start.voice is not None and start.voice not in self._deps.voices:
            await self._error(
                "voice_unavailable", f"the {start.voice} voice is not configured on this server"
            )
            start = start.model_copy(update={"voice": None})
        self._options = start
        voice = self._voice()
        await self._emit(
            "ready",
            protocol=p.PROTOCOL,
            session_id=self.id,
            input={
                "sample_rate": 16000,
                "encoding": "pcm_s16le",
                "channels": 1,
                "max_frame_bytes": self._cfg.max_frame_bytes,
            },
            output={"sample_rate": voice.sample_rate, "encoding": "pcm_s16le", "channels": 1},
        )

    def _voice(self) -> TextToSpeech:
        return self._deps.voices[self._options.voice or self._deps.default_voice]

    async def _on_update_context(self, update: p.UpdateContext) -> None:
        changes: dict[str, Any] = {}
        if update.reply_mode is not None:
            changes["reply_mode"] = update.reply_mode
        if update.voice is not None:
            if update.voice not in self._deps.voices:
                await self._error(
                    "voice_unavailable", f"the {update.voice} voice is not configured on this server"
                )
                return
            changes["voice"] = update.voice
        if changes:
            self._options = self._options.model_copy(update=changes)
        if update.instructions is not None:
            self._instructions = update.instructions
        if update.persona is not None:
            self._persona = update.persona
        await self._emit(
            "context_updated",
            reply_mode=self._options.reply_mode,
            voice=self._options.voice or self._deps.default_voice,
            instructions=self._instructions,
            persona=self._persona,
        )

    async def _on_interrupt(self, played_ms: int | None) -> None:
        speaking = self._speaking
        if speaking is not None:
            await self._stop_speaking("interrupted", played_ms)
        elif played_ms is not None and self.history:
            # The report that follows a server-side barge-in: correct what the user heard.
            self._record_heard(self.history[-1].turn_id, played_ms)

    async def _close_after_sending(self, code: int, reason: str) -> None:
        await self._outbox.put(CloseOut(code, reason), self._cfg.send_timeout_s)

    # -- audio processing ------------------------------------------------------------------------

    async def _process_loop(self) -> None:
        while True:
            batch = [await self._inbox.get()]
            while not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            windows: list[tuple[bytes, float]] = []
            for frame, arrived_at in batch:
                pcm = self._denoiser.process(frame) if self._denoiser else frame
                windows.extend((w, arrived_at) for w in self._rewindower.push(pcm))
            if not windows:
                continue
            vad = self._vad
            assert vad is not None
            probabilities = await anyio.to_thread.run_sync(_score, vad, [w for w, _ in windows])
            for (window, arrived_at), probability in zip(windows, probabilities, strict=True):
                for ev in self._endpointer.push(window, probability, arrived_at):
                    await self._on_endpoint_event(ev)
            self._maybe_interim()

    async def _on_endpoint_event(
        self, ev: SpeechStarted | SilenceStarted | SpeechResumed | UtteranceEnded
    ) -> None:
        match ev:
            case SpeechStarted():
                await self._barge_in()
                self._utterance = _Utterance(turn_id=uuid.uuid4().hex[:12])
                await self._emit("user_speech_started", turn_id=self._utterance.turn_id)
            case SilenceStarted(audio=audio) if self._utterance is not None:
                self._utterance.speculative = self._spawn(self._deps.stt.alternatives(audio))
            case SpeechResumed() if self._utterance is not None:
                self._utterance.speculative = None  # stale: the user kept talking
            case UtteranceEnded() if self._utterance is not None:
                utterance, self._utterance = self._utterance, None
                endpoint_at = time.perf_counter()
                await self._emit(
                    "user_speech_stopped",
                    turn_id=utterance.turn_id,
                    speech_ms=round(ev.speech_ms),
                    capped=ev.capped,
                )
                self._start_turn(self._voice_turn(utterance, ev, endpoint_at))

    def _maybe_interim(self) -> None:
        utterance = self._utterance
        if utterance is None or not self._options.interim_results or not self._endpointer.in_speech:
            return
        elapsed = self._endpointer.utterance_ms
        busy = (utterance.interim is not None and not utterance.interim.done()) or self._deps.stt.busy()
        if busy or elapsed - utterance.last_interim_ms < self._cfg.interim_interval_ms:
            return
        utterance.last_interim_ms = elapsed
        utterance.interim = self._spawn(self._interim(utterance, self._endpointer.utterance_audio))

    async def _interim(self, utterance: _Utterance, audio: bytes) -> None:
        try:
            text = await self._deps.stt.transcribe(audio, interim=True)
        except SttError:
            return  # an interim result is optional; the final decode reports failures
        if text and self._utterance is utterance:
            await self._emit("transcript", turn_id=utterance.turn_id, text=text, final=False)

    # -- turns -----------------------------------------------------------------------------------

    def _start_turn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._cancel_turn()  # a newer request supersedes one still being answered
        self._turn_task = self._spawn(coro)

    def _cancel_turn(self) -> None:
        task = self._turn_task
        # Cancel once only: a second request would also interrupt the turn's own clean-up (its
        # `bot_speech_stopped` and `metrics`), which runs while the first one unwinds it.
        if task is not None and not task.done() and task.cancelling() == 0:
            task.cancel()

    async def _voice_turn(self, utterance: _Utterance, ended: UtteranceEnded, endpoint_at: float) -> None:
        timings = {"endpoint_ms": (endpoint_at - ended.speech_end_at) * 1000.0}
        try:
            if utterance.speculative is not None:
                heard = await utterance.speculative
            else:
                heard = await self._deps.stt.alternatives(ended.audio)
        except SttError as exc:
            await self._error(exc.code, exc.message, turn_id=utterance.turn_id)
            return
        timings["stt_ms"] = (time.perf_counter() - endpoint_at) * 1000.0
        # The likeliest hypothesis that makes sense as a request, this user's contacts counting.
        text = await self._deps.interpreter.choose_heard(
            [(alt.text, alt.score) for alt in heard], self.dialogue
        )
        await self._emit("transcript", turn_id=utterance.turn_id, text=text, final=True)
        if not text:
            await self._error(
                "no_speech", "no words were recognized in that audio", turn_id=utterance.turn_id
            )
            return
        await self._respond(utterance.turn_id, text, timings, origin_at=ended.speech_end_at, origin="voice")

    async def _typed_turn(self, text: str) -> None:
        received_at = time.perf_counter()
        await self._stop_speaking("interrupted")
        turn_id = uuid.uuid4().hex[:12]
        await self._emit("transcript", turn_id=turn_id, text=text, final=True)
        await self._respond(turn_id, text, {}, origin_at=received_at, origin="text")

    async def _respond(
        self, turn_id: str, text: str, timings: dict[str, float], *, origin_at: float, origin: str
    ) -> None:
        if self._admit_turn is not None and not await self._admit_turn():
            await self._error("rate_limited", "too many questions; wait a moment", turn_id=turn_id)
            return
        token = log_context.turn_id.set(turn_id)
        try:
            clock = StageClock()
            # What a "yes" in this turn would send, for the history's transaction record.
            pending_before = self.dialogue.pending
            try:
                outcome = await self._deps.interpreter.handle(
                    text, clock, _EventObserver(self, turn_id), self.dialogue
                )
            except TextInputError as exc:
                await self._error(exc.code, exc.message, turn_id=turn_id)
                return
            timings.update(clock.stages)
            sentences = split_sentences(outcome.reply)
            for index, sentence in enumerate(sentences):
                await self._emit(
                    "reply_text",
                    turn_id=turn_id,
                    index=index,
                    text=sentence,
                    final=index == len(sentences) - 1,
                )
            pending = self.dialogue.pending_confirmation()
            if pending is not None and outcome.reply.endswith(pending.prompt):
                expires_in = max(0, round(pending.expires_at - self.dialogue.clock()))
                await self._emit(
                    "confirmation_required", turn_id=turn_id, summary=pending.summary, expires_in_s=expires_in
                )
            turn = DialogueTurn(turn_id, text, outcome.reply, heard=outcome.reply)
            self.history.append(turn)
            try:
                if self._options.reply_mode == "voice":
                    await self._speak(turn, sentences, timings, origin_at, origin)
            finally:
                # Also after a barge-in: the latency up to the first audio is still worth reporting.
                latency = {k: round(v, 1) for k, v in timings.items()}
                await self._emit("metrics", turn_id=turn_id, latency_ms=latency)
                if self._on_turn is not None:
                    summary = None if pending_before is None else pending_before.summary
                    self._on_turn(CompletedTurn(turn_id, outcome, latency, time.time(), summary))
        finally:
            log_context.turn_id.reset(token)

    async def _speak(
        self,
        turn: DialogueTurn,
        sentences: list[str],
        timings: dict[str, float],
        origin_at: float,
        origin: str,
    ) -> None:
        turn_id = turn.turn_id
        reply_ready_at = time.perf_counter()
        tts = self._voice()

        async def first_audio() -> None:
            now = time.perf_counter()
            timings["tts_first_audio_ms"] = (now - reply_ready_at) * 1000.0
            timings[f"{origin}_to_voice_ms"] = (now - origin_at) * 1000.0
            await self._emit("bot_speech_started", turn_id=turn_id)

        async def send_audio(pcm: bytes) -> None:
            await self._outbox.put(AudioOut(turn_id, pcm), self._cfg.send_timeout_s)

        task = asyncio.current_task()
        assert task is not None  # always called inside the turn's task
        speaking = _Speaking(turn_id, task)
        turn.spoken = speaking.playback.sentences
        self._speaking = speaking
        try:
            await speak(
                tts,
                sentences,
                send_audio,
                speaking.playback,
                chunk_ms=self._cfg.audio_chunk_ms,
                lead_ms=self._cfg.audio_lead_ms,
                on_first_audio=first_audio,
            )
            # Still "speaking" until the client has played what it holds, so barge-in keeps working.
            await asyncio.sleep(speaking.playback.remaining_s(time.perf_counter()))
        except TtsError as exc:
            await self._error(exc.code, exc.message, turn_id=turn_id)
        finally:
            if self._speaking is speaking:
                self._speaking = None
                if speaking.playback.started_at is not None:
                    await self._emit(
                        "bot_speech_stopped",
                        turn_id=turn_id,
                        reason="completed",
                        sent_ms=round(speaking.playback.sent_ms),
                    )

    async def _barge_in(self) -> None:
        await self._stop_speaking("barge_in")
        self._cancel_turn()

    async def _stop_speaking(self, reason: str, played_ms: int | None = None) -> None:
        speaking = self._speaking
        if speaking is None:
            return
        self._speaking = None
        if speaking.task.cancelling() == 0:
            speaking.task.cancel()
        await self._outbox.drop_audio(speaking.turn_id)
        now = time.perf_counter()
        played = float(played_ms) if played_ms is not None else speaking.playback.played_ms(now)
        if speaking.playback.started_at is not None:
            await self._emit(
                "bot_speech_stopped",
                turn_id=speaking.turn_id,
                reason=reason,
                sent_ms=round(speaking.playback.sent_ms),
            )
        self._record_heard(speaking.turn_id, played)

    def _record_heard(self, turn_id: str, played_ms: float) -> None:
        for turn in reversed(self.history):
            if turn.turn_id == turn_id:
                if turn.spoken:
                    turn.heard = heard_text(turn.spoken, played_ms)
                if turn.heard != turn.reply and turn is self.history[-1]:
                    # A cut-off confirmation prompt does not count as heard: a "yes" gets it again.
                    self.dialogue.prompt_interrupted()
                return


def _score(vad: VoiceActivityDetector, windows: list[bytes]) -> list[float]:
    return [vad.speech_probability(window) for window in windows]


class _EventObserver:
    """Streams the interpreter's stages to the client as protocol events."""

    def __init__(self, session: VoiceSession, turn_id: str) -> None:
        self._session = session
        self._turn_id = turn_id

    async def on_intent(self, intent: Intent) -> None:
        await self._session._emit(
            "intent",
            turn_id=self._turn_id,
            name=intent.name.value,
            confidence=intent.confidence,
            slots=dict(intent.slots),
        )

    async def on_plan(self, plan: Plan) -> None:
        await self._session._emit("plan", turn_id=self._turn_id, calls=[c.as_json() for c in plan.calls])

    async def on_tool_result(self, result: ToolResult) -> None:
        await self._session._emit("tool_result", turn_id=self._turn_id, **result.as_json())
