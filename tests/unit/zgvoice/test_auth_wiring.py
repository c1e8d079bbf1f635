"""The `auth` settings section and the embedded wiring of the sign-in routes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address

from zgvoice.auth_wiring import auth_origins, open_auth
from zgvoice.settings import Settings, SettingsError, load_settings

ADMIN = to_checksum_address("0x" + "ab" * 20)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ZGV_"):
            monkeypatch.delenv(key)


def _settings(tmp_path: Path, **auth: object) -> Settings:
    return load_settings(
        auth={
            "enabled": True,
            "signing_key_path": tmp_path / "auth.key",
            "analytics_path": tmp_path / "analytics.db",
            **auth,
        },
        profiles={
            "master_key_path": tmp_path / "master.key",
            "blobs_path": tmp_path / "profiles.db",
            "keys_path": tmp_path / "keys.db",
        },
    )


@pytest.mark.unit
def test_sign_in_is_on_by_default_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().auth.enabled is True
    monkeypatch.setenv("ZGV_AUTH__ENABLED", "false")
    assert load_settings().auth.enabled is False


@pytest.mark.unit
def test_admin_addresses_are_checksummed_and_typos_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(auth={"admin_addresses": [ADMIN.lower()]}).auth.admin_addresses == [ADMIN]
    # Flip the case of one letter: mixed case with a wrong checksum is a typo.
    at = next(i for i, char in enumerate(ADMIN) if i > 1 and char.isalpha())
    typo = ADMIN[:at] + ADMIN[at].swapcase() + ADMIN[at + 1 :]
    for bad in (typo, "0x1234"):
        with pytest.raises(SettingsError, match="ZGV_AUTH__ADMIN_ADDRESSES"):
            load_settings(auth={"admin_addresses": [bad]})


@pytest.mark.unit
def test_origins_default_to_the_sign_in_domain() -> None:
    settings = load_settings(auth={"domain": "zgv.example", "scheme": "https"})
    assert auth_origins(settings) == frozenset({"https://zgv.example"})


@pytest.mark.unit
@pytest.mark.anyio
async def test_disabled_auth_opens_nothing(tmp_path: Path) -> None:
    async with open_auth(_settings(tmp_path, enabled=False)) as deps:
        assert deps is None
    assert not (tmp_path / "auth.key").exists()


@pytest.mark.unit
@pytest.mark.anyio
async def test_embedded_profile_uses_memory_sessions_and_sqlite(tmp_path: Path) -> None:
    settings = _settings(tmp_path, admin_addresses=[ADMIN])
    async with open_auth(settings) as deps:
        assert deps is not None
        nonce = await deps.service.issue_nonce()
        assert len(nonce) == 24
        assert await deps.analytics.history(ADMIN) == []
        assert deps.forget_user is not None
        await deps.forget_user(ADMIN)
    assert (tmp_path / "auth.key").stat().st_mode & 0o077 == 0
    assert (tmp_path / "analytics.db").exists()
