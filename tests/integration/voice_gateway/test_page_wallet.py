"""The mic page's sign-in helpers: the deployment's terms, messages written for the page's wallet,
and the devnet-only built-in wallet, which signs this site's sign-in for itself and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct

from voice_gateway.analytics import SqliteAnalyticsStore
from voice_gateway.app import create_app
from voice_gateway.ask import AskService
from voice_gateway.auth.page_wallet import DevnetWallet, SignInTerms, mount_page_wallet, sign_in_message
from voice_gateway.auth.rate_limit import RateLimiter
from voice_gateway.auth.routes import AuthDeps, mount_auth
from voice_gateway.auth.service import AuthPolicy, AuthService
from voice_gateway.auth.session_store import MemorySessionStore
from voice_gateway.auth.siwe import SiweError, SiweExpectations, parse_siwe
from voice_gateway.auth.tokens import SigningKeys
from zgvoice.auth_wiring import page_wallet
from zgvoice.settings import ANVIL_DEV_KEY_0, load_settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ORIGIN = "http://127.0.0.1:8080"
EXPECT = SiweExpectations(
    domain="127.0.0.1:8080", scheme="http", uri="http://127.0.0.1:8080/", chain_ids=frozenset({1660999})
)
TERMS = SignInTerms(EXPECT, 1660999)
USER_KEY = (6161).to_bytes(32, "big")
USER = str(Account.from_key(USER_KEY).address)


async def _healthy() -> tuple[bool, dict[str, Any]]:
    return True, {}


@pytest.fixture
async def client(tmp_path: Path) -> Any:
    store = MemorySessionStore()
    analytics = SqliteAnalyticsStore(tmp_path / "analytics.db")
    await analytics.open()
    service = AuthService(
        store,
        SigningKeys(Ed25519PrivateKey.generate()),
        EXPECT,
        [],
        policy=AuthPolicy(allowed_origins=frozenset({ORIGIN})),
    )
    app = create_app(cast(AskService, object()), _healthy, 64 * 1024)
    limit = RateLimiter(store, 1000, 60, "auth-ip")
    mount_auth(app, AuthDeps(service, analytics, limit, limit, limit, frozenset({ORIGIN})))
    mount_page_wallet(app, TERMS, DevnetWallet(ANVIL_DEV_KEY_0, TERMS), service, limit)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"origin": ORIGIN}) as http:
        yield http
    await analytics.close()


async def test_info_tells_the_page_the_terms(client: httpx.AsyncClient) -> None:
    info = (await client.get("/v1/auth/info")).json()
    assert info["sign_in"] is True
    assert (info["domain"], info["scheme"], info["chain_id"]) == ("127.0.0.1:8080", "http", 1660999)
    assert info["devnet_wallet"] is True


async def test_an_extension_wallet_signs_the_written_message_and_signs_in(client: httpx.AsyncClient) -> None:
    written = await client.post("/v1/auth/message", json={"address": USER.lower()})
    assert written.status_code == 200
    text = written.json()["message"]
    assert parse_siwe(text).address == USER  # checksummed for the page
    signature = Account.sign_message(encode_defunct(text=text), USER_KEY).signature.hex()
    verified = await client.post("/v1/auth/verify", json={"message": text, "signature": "0x" + signature})
    assert verified.status_code == 200
    assert verified.json()["address"] == USER


async def test_the_devnet_wallet_signs_in_as_itself(client: httpx.AsyncClient) -> None:
    wallet = (await client.get("/v1/auth/devnet-wallet")).json()
    assert "devnet only" in wallet["warning"]
    text = (await client.post("/v1/auth/message", json={"address": wallet["address"]})).json()["message"]
    signed = await client.post("/v1/auth/devnet-wallet/sign", json={"message": text})
    assert signed.status_code == 200
    verified = await client.post(
        "/v1/auth/verify", json={"message": text, "signature": signed.json()["signature"]}
    )
    assert verified.status_code == 200
    assert verified.json()["address"] == wallet["address"]


async def test_the_devnet_wallet_signs_nothing_but_this_sites_sign_in_for_itself(
    client: httpx.AsyncClient,
) -> None:
    wallet = DevnetWallet(ANVIL_DEV_KEY_0, TERMS)
    now = datetime.now(UTC)
    own = sign_in_message(TERMS, wallet.address, "abcdefgh1234", now)
    for text, code in [
        (own.replace("127.0.0.1:8080 wants", "evil.example wants"), "wrong_domain"),
        (sign_in_message(TERMS, USER, "abcdefgh1234", now), "not_this_wallet"),
        ("please sign this transaction", "malformed"),
        (own.replace("Chain ID: 1660999", "Chain ID: 16661"), "wrong_chain"),
    ]:
        refused = await client.post("/v1/auth/devnet-wallet/sign", json={"message": text})
        assert refused.status_code == 422, text
        assert refused.json()["error"]["code"] == code
        with pytest.raises(SiweError):
            wallet.sign_in(text)
    expired = sign_in_message(TERMS, wallet.address, "abcdefgh1234", now - timedelta(minutes=20))
    assert (await client.post("/v1/auth/devnet-wallet/sign", json={"message": expired})).status_code == 422
    assert ANVIL_DEV_KEY_0[2:] not in repr(wallet)


async def test_bad_requests_get_clear_errors(client: httpx.AsyncClient) -> None:
    bad = await client.post("/v1/auth/message", json={"address": "0x123"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_address")
    extra = await client.post("/v1/auth/message", json={"address": USER, "more": 1})
    assert extra.status_code == 422
    huge = await client.post("/v1/auth/devnet-wallet/sign", content=b"x" * 10_000)
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "too_large")
    foreign = await client.post("/v1/auth/message", json={"address": USER}, headers={"origin": "http://evil"})
    assert foreign.status_code == 403


def test_the_devnet_wallet_exists_only_on_the_devnet() -> None:
    on_devnet = load_settings()
    assert page_wallet(on_devnet)[1] is not None
    off = load_settings(chain={"chain_id": 16602, "rpc_url": "http://127.0.0.1:1"})
    assert page_wallet(off)[1] is None
    disabled = load_settings(auth={"devnet_wallet": False})
    assert page_wallet(disabled)[1] is None
