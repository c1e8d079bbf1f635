"""Wiring of the embedded mode: chain reader -> MCP chain server (in-memory) -> interpreter, plus the
speech components (Whisper, Piper with espeak-ng fallback, Silero) the voice gateway uses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp_servers import build_chain_server
from task_interpreter import Interpreter, ToolExecutor, TurnContext
from voice_gateway.ask import AskService
from voice_gateway.audio.endpointing import EndpointConfig
from voice_gateway.audio.vad import SileroVAD
from voice_gateway.stt import SpeechToText, WhisperSTT
from voice_gateway.tts import AudioCache, CachedTTS, EspeakTTS, FallbackTTS, PiperTTS, TextToSpeech, TtsError
from voice_gateway.voice.session import VoiceConfig, VoiceDeps
from zerog_client import DEVNET, ChainReader, ZeroGError
from zgvoice.pins import load_pins
from zgvoice.settings import Settings

log = logging.getLogger(__name__)


class Runtime:
    """The live components of one embedded process. Speech models load on first use or `warm_up()`."""

    def __init__(
        self, settings: Settings, reader: ChainReader, interpreter: Interpreter, user_address: str | None
    ):
        self.settings = settings
        self.reader = reader
        self.interpreter = interpreter
        self.user_address = user_address
        self.piper = PiperTTS()
        self.voices = _voices(settings, self.piper)
        self.service = AskService(interpreter, self.voices[settings.tts.engine])
        self._stt: SpeechToText | None = None

    def stt(self) -> SpeechToText:
        """The shared recognizer (loaded on the first call).

        Raises:
            SttError: the configured engine cannot start (model missing, no credentials).
        """
        if self._stt is None:
            cfg = self.settings.stt
            if cfg.engine == "google":
                from voice_gateway.stt.google import GoogleSpeechSTT

                self._stt = GoogleSpeechSTT()
            else:
                self._stt = WhisperSTT(
                    workers=cfg.workers, cpu_threads=cfg.cpu_threads, model_path=cfg.model_path
                )
        return self._stt

    def warm_up(self) -> None:
        """Load the speech models now (blocking; a few seconds) so the first turn is fast."""
        if self.settings.tts.warm_up:
            self.piper.warm_up()
        if self.settings.stt.warm_up:
            self.stt()

    def voice_deps(self) -> VoiceDeps:
        """What voice sessions share."""
        v = self.settings.voice
        endpoint = EndpointConfig(
            threshold=v.vad_threshold,
            min_speech_ms=v.min_speech_ms,
            endpoint_silence_ms=v.endpoint_silence_ms,
            speculative_silence_ms=v.speculative_silence_ms,
            max_utterance_ms=v.max_utterance_ms,
        )
        config = VoiceConfig(
            endpoint=endpoint,
            max_frame_bytes=v.max_frame_bytes,
            max_text_message_bytes=v.max_text_message_bytes,
            interim_interval_ms=v.interim_interval_ms,
            noise_suppression=v.noise_suppression,
            inbound_queue_frames=v.inbound_queue_frames,
            outbound_queue_messages=v.outbound_queue_messages,
            send_timeout_s=v.send_timeout_s,
            audio_lead_ms=v.audio_lead_ms,
            audio_chunk_ms=v.audio_chunk_ms,
        )
        return VoiceDeps(
            self.interpreter, self.stt(), self.voices, self.settings.tts.engine, SileroVAD, config
        )

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the chain answers, with what it says."""
        try:
            block = await self.reader.block_number()
        except ZeroGError as exc:
            return False, {"chain": {"ok": False, "error": exc.code, "rpc_url": self.reader.rpc_url}}
        chain = {"ok": True, "chain_id": self.reader.expected_chain_id, "block_number": block}
        return True, {"chain": chain}


def _voices(settings: Settings, piper: PiperTTS) -> dict[str, TextToSpeech]:
    cache = AudioCache(settings.tts.cache_entries, settings.tts.cache_ttl_s)
    try:
        espeak: EspeakTTS | None = EspeakTTS()
    except TtsError:
        log.warning("espeak-ng is not installed: no fallback voice")
        espeak = None
    primary: TextToSpeech = piper
    if espeak is not None and settings.tts.fallback:
        primary = FallbackTTS([piper, espeak])
    voices: dict[str, TextToSpeech] = {"piper": CachedTTS(primary, cache)}
    if espeak is not None:
        voices["espeak"] = CachedTTS(espeak, cache)
    if settings.tts.engine == "google":
        from voice_gateway.tts.google import GoogleTTS

        # Piper stands behind Google: same format, and it keeps speaking when the network does not.
        voices["google"] = CachedTTS(FallbackTTS([GoogleTTS(), piper]), cache)
    if settings.tts.engine == "espeak" and espeak is None:
        raise TtsError("tts_unavailable", "ZGV_TTS__ENGINE=espeak but espeak-ng is not installed")
    return voices


async def _default_user_address(settings: Settings, reader: ChainReader) -> str | None:
    if settings.wallet.address is not None:
        return settings.wallet.address
    if settings.chain.chain_id == DEVNET.chain_id:
        # Without sign-in, "my" on the devnet means the first funded dev account.
        accounts = await reader.node_accounts()
        return accounts[0] if accounts else None
    return None


@asynccontextmanager
async def embedded_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open every component for the embedded profile and close them in reverse order.

    Raises:
        ChainUnreachableError, WrongChainError: the configured chain endpoint is unusable.
    """
    urls = [settings.chain.rpc_url, *settings.chain.fallback_rpc_urls]
    reader = ChainReader(urls, settings.chain.chain_id, settings.chain.request_timeout_s)
    async with reader:
        user_address = await _default_user_address(settings, reader)
        server = build_chain_server(reader)
        async with ToolExecutor({"chain": server}, pins=load_pins()) as executor:
            interpreter = Interpreter(executor, TurnContext(user_address), settings.nlp.max_text_chars)
            yield Runtime(settings, reader, interpreter, user_address)
