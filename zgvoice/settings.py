"""One typed settings tree: defaults < YAML file < environment (`ZGV_`, nested with `__`).

Example: `ZGV_GATEWAY__PORT=9000`, or `gateway: {port: 9000}` in the file named by `ZGV_CONFIG_FILE`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
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


class WalletSettings(_Section):
    # Whose balance "my balance" means. Unset on the devnet: the first funded dev account.
    address: str | None = None

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


class TtsSettings(_Section):
    engine: Literal["piper"] = "piper"
    warm_up: bool = True


class Settings(BaseSettings):
    """The whole configuration of one zgvoice process."""

    model_config = SettingsConfigDict(
        env_prefix="ZGV_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    # The cluster profile joins when its adapters (Redis, PostgreSQL, Kafka, Qdrant) exist.
    profile: Literal["embedded"] = "embedded"
    log: LogSettings = LogSettings()
    chain: ChainSettings = ChainSettings()
    devnet: DevnetSettings = DevnetSettings()
    wallet: WalletSettings = WalletSettings()
    gateway: GatewaySettings = GatewaySettings()
    nlp: NlpSettings = NlpSettings()
    tts: TtsSettings = TtsSettings()

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
