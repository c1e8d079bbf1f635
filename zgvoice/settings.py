"""One typed settings tree: defaults < YAML file < environment (`ZGV_`, nested with `__`).

Example: `ZGV_GATEWAY__PORT=9000`, or `gateway: {port: 9000}` in the file named by `ZGV_CONFIG_FILE`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from zerog_client import DEVNET, normalize_address

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE_ENV = "ZGV_CONFIG_FILE"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class ChainSettings(_Section):
    rpc_url: str = Field(default="http://127.0.0.1:8545", pattern=r"^https?://\S+$", max_length=2048)
    # More endpoints of the same chain; the pool fails over to them and checks their chain id too.
    fallback_rpc_urls: list[Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2048)]] = Field(
        default_factory=list, max_length=16
    )
    chain_id: int = Field(default=DEVNET.chain_id, gt=0, lt=2**53)
    request_timeout_s: float = Field(default=5.0, gt=0, le=120)


class DevnetSettings(_Section):
    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    port: int = Field(default=8545, ge=0, le=65535)
    chain_id: int = Field(default=DEVNET.chain_id, gt=0, lt=2**53)
    accounts: int = Field(default=10, ge=1, le=1000)
    balance_0g: int = Field(default=10_000, ge=0)
    block_time_s: float | None = Field(default=None, gt=0, le=60)
    anvil_path: Path | None = None
    state_path: Path | None = None
    startup_timeout_s: float = Field(default=15.0, gt=0, le=300)
    # 0G storage on the devnet: nodes (replicas) on consecutive ports, and the indexer. Port 0: any.
    storage_nodes: int = Field(default=1, ge=0, le=8)
    storage_port: int = Field(default=5678, ge=0, le=65535)
    indexer_port: int = Field(default=5690, ge=0, le=65535)
    # Where storage nodes keep their segments; unset: a temporary directory removed on exit.
    data_dir: Path | None = None
    # The devnet KV node and the streams it serves (names; a stream id is keccak256 of the name).
    kv_port: int = Field(default=6789, ge=0, le=65535)
    kv_streams: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=lambda: ["zgvoice", "demo"], max_length=64
    )


class StorageSettings(_Section):
    # Storage nodes the client uploads to and downloads from (the devnet's by default).
    node_urls: list[Annotated[str, Field(pattern=r"^https?://\S+$")]] = Field(
        default_factory=lambda: ["http://127.0.0.1:5678"], min_length=1, max_length=32
    )
    flow_address: str | None = None  # unset on the devnet: our deployed DevFlow
    expected_replicas: int = Field(default=1, ge=1, le=32)
    max_file_bytes: int = Field(default=4 * 1024**3, ge=1, le=64 * 1024**3)
    outbox_path: Path = Path("var/outbox.db")
    kv_url: str = Field(default="http://127.0.0.1:6789", pattern=r"^https?://\S+$")
    kv_max_blob_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024**3)
    # Whether the assistant offers storage (notes, files): it needs storage nodes (`zgv up` runs one).
    enabled: bool = False


class ClusterSettings(_Section):
    """The shared services of the cluster profile (unused by the embedded one)."""

    # Used confirmation handles (and, later, sessions) live in Redis.
    redis_url: str | None = Field(default=None, pattern=r"^rediss?://\S+$", max_length=2048)
    # The transaction outbox and the spending ledger live in PostgreSQL.
    postgres_dsn: SecretStr | None = None
    # The schema holding our tables, so deployments can share a database.
    postgres_schema: str = Field(default="zgv", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Where the interpreter reaches the chain tools: a `zgv mcp chain --http` deployment. Its tokens
    # are minted here, short-lived, from ZGV_MCP__TOKEN_SECRET (the key the servers verify with).
    mcp_chain_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2048)


# anvil's first development key (public test material of its default mnemonic). It signs only for
# the devnet chain: `LocalSigner.devnet_key` refuses any other chain id.
ANVIL_DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class McpToolsSettings(_Section):
    # Who calls our MCP servers over stdio (an IDE on this machine); HTTP callers are token subjects.
    principal: str = Field(default="local", min_length=1, max_length=100)
    # Spend policy for value-moving tools (default-deny; caps in whole 0G).
    per_tx_0g: str = Field(default="1", pattern=r"^\d+(\.\d+)?$")
    per_24h_0g: str = Field(default="10", pattern=r"^\d+(\.\d+)?$")
    recipient_allowlist: list[str] | None = None
    max_fee_per_gas_gwei: int = Field(default=500, ge=1, le=100_000)
    max_total_fee_0g: str = Field(default="0.1", pattern=r"^\d+(\.\d+)?$")
    # Confirmation handles: replicas must share the key and the ledgers. Unset key: one per process.
    handle_key: SecretStr | None = None
    handles_path: Path = Path("var/mcp-handles.db")
    spends_path: Path = Path("var/mcp-spends.db")
    # The storage server reads and writes local files only under this directory.
    files_dir: Path = Path("var/files")
    files_ledger: Path = Path("var/mcp-files.json")
    # Streams the KV server may touch (names or 0x ids).
    kv_streams: list[str] = Field(default_factory=lambda: ["zgvoice", "demo"], max_length=64)


class WalletSettings(_Section):
    # Whose balance "my balance" means. Unset on the devnet: the first funded dev account.
    address: str | None = None
    # The key that pays for storage and sends transactions: an encrypted keystore file and its
    # password; on the devnet a plain key is allowed (by default anvil's first dev account).
    keystore_path: Path | None = None
    keystore_password: SecretStr | None = None
    devnet_key: SecretStr = SecretStr(ANVIL_DEV_KEY_0)

    @field_validator("address")
    @classmethod
    def _checksummed(cls, value: str | None) -> str | None:
        return None if value is None else normalize_address(value)


class GatewaySettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)


class NlpSettings(_Section):
    max_text_chars: int = Field(default=2000, ge=16, le=100_000)
    # The embedding intent classifier (MiniLM) behind the rules; off: rules only.
    classifier: bool = True
    # The least classifier probability taken as an intent (below: "unknown").
    intent_threshold: float = Field(default=0.45, ge=0.0, le=1.0)
    # The least confidence for acting on a write (transfer, store, remember): below it, ask.
    write_threshold: float = Field(default=0.7, ge=0.0, le=1.0)


class LlmSettings(_Section):
    # The optional LLM planner for what the rules and the classifier cannot plan (off by default).
    enabled: bool = False
    base_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2048)
    api_key: SecretStr | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)
    timeout_s: float = Field(default=10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _usable_when_enabled(self) -> LlmSettings:
        if self.enabled and (self.base_url is None or self.model is None):
            raise ValueError("the LLM planner needs ZGV_LLM__BASE_URL and ZGV_LLM__MODEL")
        return self


class ProfilesSettings(_Section):
    # Users' contacts, facts and preferences, encrypted with per-user keys wrapped by the master key.
    master_key_path: Path = Path("var/master.key")
    blobs_path: Path = Path("var/profiles.db")
    keys_path: Path = Path("var/data-keys.db")


class TtsSettings(_Section):
    engine: Literal["piper", "espeak", "google"] = "piper"
    # espeak-ng speaks when the primary engine fails; off only for tests of the failure itself.
    fallback: bool = True
    warm_up: bool = True
    cache_entries: int = Field(default=256, ge=0, le=100_000)
    cache_ttl_s: float = Field(default=3600.0, gt=0)


class SttSettings(_Section):
    engine: Literal["whisper", "google"] = "whisper"
    # Concurrent decodes; 0 means one per core.
    workers: int = Field(default=0, ge=0, le=64)
    cpu_threads: int = Field(default=1, ge=1, le=64)
    model_path: Path | None = None
    beam_size: int = Field(default=5, ge=1, le=10)
    warm_up: bool = True


class VoiceSettings(_Section):
    # Browser origins allowed to open /v1/voice; empty means the gateway's own origins.
    allowed_origins: list[str] = Field(default_factory=list, max_length=100)
    max_sessions: int = Field(default=32, ge=1, le=10_000)
    max_sessions_per_client: int = Field(default=4, ge=1, le=1000)
    # With sign-in on: concurrent sessions of one wallet, whatever clients they come from.
    max_sessions_per_user: int = Field(default=4, ge=1, le=1000)
    max_frame_bytes: int = Field(default=64 * 1024, ge=640, le=1024 * 1024)
    max_text_message_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)
    vad_threshold: float = Field(default=0.5, gt=0, lt=1)
    # Voiced audio needed to start a turn, and to interrupt the bot (short noises never do).
    min_speech_ms: int = Field(default=200, ge=32, le=5000)
    endpoint_silence_ms: int = Field(default=400, ge=96, le=5000)
    # Silence after which a speculative final decode starts (discarded if speech resumes).
    speculative_silence_ms: int = Field(default=96, ge=32, le=5000)
    max_utterance_ms: int = Field(default=15_000, ge=1000, le=120_000)
    interim_interval_ms: int = Field(default=800, ge=200, le=10_000)
    noise_suppression: bool = False
    inbound_queue_frames: int = Field(default=1000, ge=10, le=100_000)
    outbound_queue_messages: int = Field(default=512, ge=8, le=100_000)
    # A client whose socket takes longer than this to accept a message is disconnected.
    send_timeout_s: float = Field(default=5.0, gt=0, le=120)
    # How far ahead of real time reply audio is sent (bounded so barge-in can stop it fast).
    audio_lead_ms: int = Field(default=300, ge=0, le=10_000)
    audio_chunk_ms: int = Field(default=40, ge=10, le=1000)
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024)
    upload_max_seconds: float = Field(default=60.0, gt=0, le=600)
    audio_ttl_s: float = Field(default=300.0, gt=0, le=86_400)
    audio_store_entries: int = Field(default=256, ge=1, le=100_000)

    @model_validator(mode="after")
    def _ordered(self) -> VoiceSettings:
        if self.speculative_silence_ms > self.endpoint_silence_ms:
            raise ValueError("speculative_silence_ms must not exceed endpoint_silence_ms")
        return self


class AuthSettings(_Section):
    """Wallet sign-in (SIWE) for the gateway's `/v1/auth`, `/v1/me` and `/v1/admin` routes.

    On by default: voice sessions belong to a wallet. The voice WebSocket takes a one-time ticket
    (`POST /v1/auth/ws-ticket`) and `POST /v1/ask` and `POST /v1/voice/query` need a bearer access
    token. On the local devnet the mic page offers a built-in wallet, so no extension is needed.
    """

    enabled: bool = True
    # What sign-in messages must say; from here, never from the request's Host. Unset: where the
    # gateway listens (`gateway.host:gateway.port`, and that with `/` as the URI).
    domain: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?$")
    scheme: Literal["https", "http"] = "http"
    uri: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=500)
    # Chains a sign-in may name; empty: the configured chain (`chain.chain_id`).
    chain_ids: list[Annotated[int, Field(gt=0, lt=2**53)]] = Field(default_factory=list, max_length=8)
    admin_addresses: list[str] = Field(default_factory=list, max_length=100)
    # Browser origins that may sign in, refresh and get WebSocket tickets; empty: scheme://domain.
    allowed_origins: list[Annotated[str, Field(pattern=r"^https?://\S+$", max_length=300)]] = Field(
        default_factory=list, max_length=100
    )
    # The mic page's built-in wallet (a public development key): offered only when the configured
    # chain is the local devnet's, never on a real network whatever this says.
    devnet_wallet: bool = True
    signing_key_path: Path = Path("var/auth-signing.key")
    analytics_path: Path = Path("var/analytics.db")
    access_ttl_s: int = Field(default=300, ge=30, le=600)
    # Fixed-window limits: per client IP on /v1/auth/*, per IP and per user on /v1/me/* and /v1/admin/*.
    auth_per_ip: int = Field(default=30, ge=1, le=100_000)
    http_per_ip: int = Field(default=300, ge=1, le=1_000_000)
    http_per_user: int = Field(default=120, ge=1, le=1_000_000)
    # Per signed-in user on the turn routes (POST /v1/ask, POST /v1/voice/query), same window.
    turns_per_user: int = Field(default=60, ge=1, le=1_000_000)
    rate_window_s: float = Field(default=60.0, gt=0, le=86_400)
    # How often an open voice socket re-checks its sign-in; a revoked session closes within about this.
    session_recheck_s: float = Field(default=0.5, ge=0.05, le=0.5)

    @field_validator("admin_addresses")
    @classmethod
    def _checksummed(cls, values: list[str]) -> list[str]:
        return [normalize_address(value) for value in values]


class Settings(BaseSettings):
    """The whole configuration of one zgvoice process."""

    model_config = SettingsConfigDict(
        env_prefix="ZGV_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    # embedded: one process, SQLite and in-process tool servers. cluster: shared Redis and PostgreSQL,
    # tool servers over streamable HTTP (the `cluster` section).
    profile: Literal["embedded", "cluster"] = "embedded"
    cluster: ClusterSettings = ClusterSettings()
    log: LogSettings = LogSettings()
    chain: ChainSettings = ChainSettings()
    devnet: DevnetSettings = DevnetSettings()
    wallet: WalletSettings = WalletSettings()
    storage: StorageSettings = StorageSettings()
    # Our MCP tool servers (ZGV_MCP_TOOLS__*); their HTTP transport reads ZGV_MCP__* (zgvoice.mcp_cli).
    mcp_tools: McpToolsSettings = McpToolsSettings()
    gateway: GatewaySettings = GatewaySettings()
    nlp: NlpSettings = NlpSettings()
    profiles: ProfilesSettings = ProfilesSettings()
    llm: LlmSettings = LlmSettings()
    tts: TtsSettings = TtsSettings()
    stt: SttSettings = SttSettings()
    voice: VoiceSettings = VoiceSettings()
    auth: AuthSettings = AuthSettings()

    @model_validator(mode="after")
    def _cluster_has_its_services(self) -> Settings:
        missing = self.cluster.redis_url is None or self.cluster.postgres_dsn is None
        if self.profile == "cluster" and missing:
            raise ValueError("the cluster profile needs ZGV_CLUSTER__REDIS_URL and ZGV_CLUSTER__POSTGRES_DSN")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


class SettingsError(Exception):
    """Invalid configuration; the message names each offending setting."""


def _setting_name(location: tuple[int | str, ...]) -> str:
    return "ZGV_" + "__".join(str(part).upper() for part in location)


def load_settings(**overrides: object) -> Settings:
    """Load and validate the settings.

    Raises:
        SettingsError: a setting is invalid, unknown, or the config file cannot be read.
    """
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and not Path(config_file).is_file():
        raise SettingsError(f"{CONFIG_FILE_ENV}: no such file: {config_file}")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # overrides are validated here
    except ValidationError as exc:
        problems = "; ".join(f"{_setting_name(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from exc
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read the settings: {exc}") from exc
