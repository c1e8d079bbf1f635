from __future__ import annotations

from pathlib import Path

import pytest

from zerog_client import DEVNET
from zgvoice.settings import CONFIG_FILE_ENV, SettingsError, load_settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("ZGV_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_embedded_profile_on_the_devnet() -> None:
    settings = load_settings()
    assert settings.profile == "embedded"
    assert settings.chain.chain_id == DEVNET.chain_id
    assert settings.gateway.host == "127.0.0.1"


def test_devnet_chain_id_is_no_0g_network() -> None:
    assert DEVNET.chain_id not in {16600, 16601, 16602, 16661, 1, 31337}


def test_env_overrides_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZGV_GATEWAY__PORT", "9001")
    assert load_settings().gateway.port == 9001


def test_yaml_file_is_read_and_env_wins_over_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "zgv.yaml"
    config.write_text("gateway:\n  port: 9100\nlog:\n  level: DEBUG\n")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    monkeypatch.setenv("ZGV_GATEWAY__PORT", "9200")
    settings = load_settings()
    assert settings.log.level == "DEBUG"
    assert settings.gateway.port == 9200


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("ZGV_GATEWAY__PORT", "70000", "ZGV_GATEWAY__PORT"),
        ("ZGV_CHAIN__RPC_URL", "not a url", "ZGV_CHAIN__RPC_URL"),
        ("ZGV_LOG__LEVEL", "LOUD", "ZGV_LOG__LEVEL"),
        ("ZGV_WALLET__ADDRESS", "0x1234", "ZGV_WALLET__ADDRESS"),
        ("ZGV_PROFILE", "galaxy", "ZGV_PROFILE"),
        ("ZGV_LLM__ENABLED", "true", "ZGV_LLM__BASE_URL and ZGV_LLM__MODEL"),
        ("ZGV_NLP__WRITE_THRESHOLD", "1.5", "ZGV_NLP__WRITE_THRESHOLD"),
        ("ZGV_PROFILE", "cluster", "ZGV_CLUSTER__REDIS_URL and ZGV_CLUSTER__POSTGRES_DSN"),
        ("ZGV_CLUSTER__REDIS_URL", "http://127.0.0.1:6379", "ZGV_CLUSTER__REDIS_URL"),
        ("ZGV_CLUSTER__POSTGRES_SCHEMA", "Robert'); DROP TABLE", "ZGV_CLUSTER__POSTGRES_SCHEMA"),
    ],
)
def test_invalid_settings_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_the_cluster_profile_loads_with_its_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZGV_PROFILE", "cluster")
    monkeypatch.setenv("ZGV_CLUSTER__REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("ZGV_CLUSTER__POSTGRES_DSN", "postgresql://zgv@127.0.0.1/zgv")
    settings = load_settings()
    assert settings.profile == "cluster"
    assert settings.cluster.postgres_dsn is not None
    assert "127.0.0.1/zgv" not in repr(settings.cluster)  # the DSN may hold a password


def test_unknown_yaml_key_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "zgv.yaml"
    config.write_text("gateway:\n  prot: 1\n")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    with pytest.raises(SettingsError, match="ZGV_GATEWAY__PROT"):
        load_settings()


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "nope.yaml"))
    with pytest.raises(SettingsError, match="nope.yaml"):
        load_settings()
