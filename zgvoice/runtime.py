"""Wiring of the embedded mode: chain reader -> MCP chain server (in-memory) -> interpreter, plus the
speech components (Whisper, Piper with espeak-ng fallback, Silero) the voice gateway uses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from learning.crypto import (
    EnvelopeCipher,
    PostgresKeyStore,
    SqliteKeyStore,
    load_master_key,
    load_or_create_master_key,
)
from learning.profiles import PostgresBlobStore, ProfileStore, SqliteBlobStore
from mcp_servers.knowledge import build_knowledge_server
from task_interpreter import Interpreter, ToolExecutor, TurnContext
from task_interpreter.executor import HttpTarget, LazyTarget, McpTarget
from task_interpreter.llm_planner import LlmPlanner
from voice_gateway.ask import AskService
from voice_gateway.audio.endpointing import EndpointConfig
from voice_gateway.audio.vad import SileroVAD
from voice_gateway.stt import SpeechToText, WhisperSTT
from voice_gateway.tts import AudioCache, CachedTTS, EspeakTTS, FallbackTTS, PiperTTS, TextToSpeech, TtsError
from voice_gateway.voice.session import VoiceConfig, VoiceDeps
from zerog_client import DEVNET, ChainReader, ZeroGError
from zgvoice import mcp_cli
from zgvoice.cli_errors import UsageError
from zgvoice.mcp_cli import RollingToken
from zgvoice.mcp_wiring import ServerParts, built_server
from zgvoice.nlu import docs_index, recognizer_for
from zgvoice.nlu import warm_up as nlu_warm_up
from zgvoice.pins import load_pins
from zgvoice.settings import Settings, SettingsError

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
            self._stt = build_stt(self.settings)
        return self._stt

    def warm_up(self) -> None:
        """Load the speech models now (blocking; a few seconds) so the first turn is fast."""
        if self.settings.tts.warm_up:
            self.piper.warm_up()
        if self.settings.stt.warm_up:
            self.stt()
        if self.settings.nlp.classifier:
            nlu_warm_up()

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


def build_stt(settings: Settings) -> SpeechToText:
    """The configured speech-to-text engine.

    Raises:
        SttError: it cannot start (model missing, no credentials).
    """
    cfg = settings.stt
    if cfg.engine == "google":
        from voice_gateway.stt.google import GoogleSpeechSTT

        return GoogleSpeechSTT()
    return WhisperSTT(workers=cfg.workers, cpu_threads=cfg.cpu_threads, model_path=cfg.model_path)


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


async def _tool_targets(settings: Settings, stack: AsyncExitStack) -> dict[str, McpTarget]:
    """Where the interpreter's tools are: in this process (embedded), or over streamable HTTP with
    short-lived tokens minted from the shared key (cluster)."""
    if settings.profile == "embedded":
        # The same servers IDE clients get, value-moving tools and their policy included.
        parts = await stack.enter_async_context(ServerParts(settings))
        targets: dict[str, McpTarget] = {
            "chain": await stack.enter_async_context(built_server(settings, "chain", parts))
        }
        if settings.storage.enabled:
            targets["storage"] = await stack.enter_async_context(built_server(settings, "storage", parts))
        if settings.nlp.classifier:
            # Connected on its first question: embedding the docs takes seconds.
            targets["knowledge"] = LazyTarget(lambda: build_knowledge_server(docs_index()))
        return targets
    url = settings.cluster.mcp_chain_url
    if url is None:
        raise SettingsError("the cluster profile needs ZGV_CLUSTER__MCP_CHAIN_URL (a `zgv mcp chain --http`)")
    try:
        token = RollingToken(mcp_cli.env(), url, ["chain:read"], subject="zgv-gateway")
    except UsageError as exc:
        raise SettingsError(f"cannot mint tokens for {url}: {exc}") from None
    return {"chain": HttpTarget(url, token)}


def llm_planner(settings: Settings) -> LlmPlanner | None:
    """The optional LLM planner, when enabled."""
    cfg = settings.llm
    if not cfg.enabled or cfg.base_url is None or cfg.model is None:
        return None
    key = cfg.api_key.get_secret_value() if cfg.api_key is not None else ""
    return LlmPlanner(cfg.base_url, key, cfg.model, cfg.timeout_s)


def user_cipher(settings: Settings) -> EnvelopeCipher:
    """Per-user data keys wrapped by the master key (embedded: both in files under var/)."""
    cfg = settings.profiles
    for path in (cfg.master_key_path, cfg.keys_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    return EnvelopeCipher(load_or_create_master_key(cfg.master_key_path), SqliteKeyStore(cfg.keys_path))


def profile_store(settings: Settings, cipher: EnvelopeCipher) -> ProfileStore:
    """Encrypted user profiles in a SQLite file (embedded profile)."""
    settings.profiles.blobs_path.parent.mkdir(parents=True, exist_ok=True)
    return ProfileStore(SqliteBlobStore(settings.profiles.blobs_path), cipher)


@asynccontextmanager
async def user_data(settings: Settings) -> AsyncIterator[tuple[EnvelopeCipher, ProfileStore]]:
    """The users' data keys and encrypted profiles for the configured profile.

    Embedded: files under var/ (the master key made on first use). Cluster: PostgreSQL, shared by
    every replica, so a key one replica destroys is gone for all; the master key must already
    exist in a file every replica reads.

    Raises:
        SettingsError: the cluster profile without its master key.
    """
    if settings.profile != "cluster" or settings.cluster.postgres_dsn is None:
        cipher = user_cipher(settings)
        yield cipher, profile_store(settings, cipher)
        return
    try:
        master = load_master_key(settings.profiles.master_key_path)
    except ValueError as exc:
        raise SettingsError(f"ZGV_PROFILES__MASTER_KEY_PATH: {exc}") from None
    dsn, schema = settings.cluster.postgres_dsn.get_secret_value(), settings.cluster.postgres_schema
    keys, blobs = PostgresKeyStore(dsn, schema), PostgresBlobStore(dsn, schema)
    async with AsyncExitStack() as stack:
        for store in (keys, blobs):
            await store.open()
            stack.push_async_callback(store.close)
        cipher = EnvelopeCipher(master, keys)
        yield cipher, ProfileStore(blobs, cipher)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open every component for the configured profile and close them in reverse order.

    Raises:
        ChainUnreachableError, WrongChainError: the configured chain endpoint is unusable.
        SettingsError: the cluster profile without a usable tool server configuration.
        McpConnectError: a tool server refused or is down.
    """
    urls = [settings.chain.rpc_url, *settings.chain.fallback_rpc_urls]
    reader = ChainReader(urls, settings.chain.chain_id, settings.chain.request_timeout_s)
    async with reader, AsyncExitStack() as stack:
        user_address = await _default_user_address(settings, reader)
        targets = await _tool_targets(settings, stack)
        cipher, profiles = await stack.enter_async_context(user_data(settings))
        executor = await stack.enter_async_context(ToolExecutor(targets, pins=load_pins()))
        interpreter = Interpreter(
            executor,
            TurnContext(user_address),
            settings.nlp.max_text_chars,
            recognizer=recognizer_for(settings),
            profiles=profiles,
            write_threshold=settings.nlp.write_threshold,
            notes=cipher,
            llm=llm_planner(settings),
        )
        yield Runtime(settings, reader, interpreter, user_address)
