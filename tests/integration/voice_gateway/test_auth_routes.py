"""The sign-in and `/v1/me` routes through the real app: SIWE sign-in with a real wallet key, token
rotation, logout, tickets, per-user data isolation, erasure, the admin audit log and rate limits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct

from voice_gateway.analytics import SqliteAnalyticsStore, TurnRecord
from voice_gateway.app import create_app
from voice_gateway.ask import AskService
from voice_gateway.auth.rate_limit import RateLimiter
from voice_gateway.auth.routes import AuthDeps, mount_auth
from voice_gateway.auth.service import AuthPolicy, AuthService
from voice_gateway.auth.session_store import MemorySessionStore
from voice_gateway.auth.siwe import SiweExpectations
from voice_gateway.auth.tokens import SigningKeys

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

USER_A_KEY = (5151).to_bytes(32, "big")
USER_A = str(Account.from_key(USER_A_KEY).address)
USER_B_KEY = (5252).to_bytes(32, "big")
USER_B = str(Account.from_key(USER_B_KEY).address)
ADMIN_KEY = (5353).to_bytes(32, "big")
ADMIN = str(Account.from_key(ADMIN_KEY).address)
ORIGIN = "https://zgv.example"
EXPECT = SiweExpectations(
    domain="zgv.example", scheme="https", uri="https://zgv.example/login", chain_ids=frozenset({16602})
)


@dataclass
class Rig:
    analytics: SqliteAnalyticsStore
    app: Any
    forgotten: list[str] = field(default_factory=list)

    def client(self, ip: str = "10.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"origin": ORIGIN})


async def _healthy() -> tuple[bool, dict[str, Any]]:
    return True, {}


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    opened: list[SqliteAnalyticsStore] = []

    async def build(auth_per_ip: int = 100) -> Rig:
        store = MemorySessionStore()
        analytics = SqliteAnalyticsStore(tmp_path / f"analytics-{len(opened)}.db")
        await analytics.open()
        opened.append(analytics)
        policy = AuthPolicy(allowed_origins=frozenset({ORIGIN}))
        keys = SigningKeys(Ed25519PrivateKey.generate())
        service = AuthService(store, keys, EXPECT, [ADMIN], policy=policy)
        # The ask service is never called by these tests; only the auth routes are.
        app = create_app(cast(AskService, object()), _healthy, 64 * 1024)
        rig = Rig(analytics, app)

        async def forget(address: str) -> None:
            rig.forgotten.append(address)

        deps = AuthDeps(
            service=service,
            analytics=analytics,
            auth_ip_limit=RateLimiter(store, auth_per_ip, 60, "auth-ip"),
            http_ip_limit=RateLimiter(store, 1000, 60, "http-ip"),
            user_limit=RateLimiter(store, 1000, 60, "http-user"),
            allowed_origins=frozenset({ORIGIN}),
            forget_user=forget,
        )
        mount_auth(app, deps)
        return rig

    yield build
    for analytics in opened:
        await analytics.close()


@pytest.fixture
async def rig(make_rig: Callable[..., Awaitable[Rig]]) -> Rig:
    return await make_rig()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def siwe_message(nonce: str, address: str, domain: str = "zgv.example", statement: str = "Sign in.") -> str:
    now = datetime.now(UTC)
    return "\n".join(
        [
            f"https://{domain} wants you to sign in with your Ethereum account:",
            address,
            "",
            statement,
            "",
            "URI: https://zgv.example/login",
            "Version: 1",
            "Chain ID: 16602",
            f"Nonce: {nonce}",
            f"Issued At: {_stamp(now - timedelta(seconds=5))}",
            f"Expiration Time: {_stamp(now + timedelta(minutes=5))}",
        ]
    )


def sign(text: str, key: bytes) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), key).signature).hex()


async def sign_in(
    http: httpx.AsyncClient, key: bytes = USER_A_KEY, audience: str = "gateway", domain: str = "zgv.example"
) -> httpx.Response:
    nonce = await http.get("/v1/auth/nonce")
    assert nonce.status_code == 200, nonce.text
    text = siwe_message(nonce.json()["nonce"], str(Account.from_key(key).address), domain)
    body = {"message": text, "signature": sign(text, key), "audience": audience}
    return await http.post("/v1/auth/verify", json=body)


async def access_token(http: httpx.AsyncClient, key: bytes = USER_A_KEY, audience: str = "gateway") -> str:
    response = await sign_in(http, key, audience)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def seed_turn(rig: Rig, address: str, turn_id: str, transcript: str, at: float) -> None:
    await rig.analytics.upsert_user(address)
    await rig.analytics.start_session(f"s-{turn_id}", address, at)
    turn = TurnRecord(
        address=address,
        session_id=f"s-{turn_id}",
        turn_id=turn_id,
        at=at,
        transcript=transcript,
        intent="balance",
        reply="You have 1 0G.",
        latency_ms={"total": 12.5},
    )
    await rig.analytics.record_turn(turn)


async def test_full_sign_in_returns_tokens_for_the_signer(rig: Rig) -> None:
    async with rig.client() as http:
        nonce = await http.get("/v1/auth/nonce")
        assert nonce.status_code == 200
        assert len(nonce.json()["nonce"]) >= 22
        assert nonce.json()["expires_in_s"] > 0
        text = siwe_message(nonce.json()["nonce"], USER_A)
        response = await http.post(
            "/v1/auth/verify", json={"message": text, "signature": sign(text, USER_A_KEY)}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "access_token",
        "access_expires_at",
        "refresh_token",
        "refresh_expires_at",
        "address",
        "role",
    }
    assert body["address"] == USER_A
    assert body["role"] == "user"
    assert body["access_expires_at"] > time.time()


async def test_refresh_rotates_and_a_reused_token_kills_the_family(rig: Rig) -> None:
    async with rig.client() as http:
        first = (await sign_in(http)).json()
        rotated = await http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]

        reused = await http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reused.status_code == 401
        assert reused.json()["error"]["code"] == "auth_failed"
        # Reuse revoked the family: the newest refresh and access tokens are dead too.
        newest = await http.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert newest.status_code == 401
        history = await http.get("/v1/me/history", headers=bearer(second["access_token"]))
        assert history.status_code == 401


async def test_refresh_from_another_origin_is_forbidden(rig: Rig) -> None:
    async with rig.client() as http:
        tokens = (await sign_in(http)).json()
        response = await http.post(
            "/v1/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            headers={"origin": "https://evil.example"},
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"


async def test_logout_ends_the_session(rig: Rig) -> None:
    async with rig.client() as http:
        tokens = (await sign_in(http)).json()
        response = await http.post("/v1/auth/logout", headers=bearer(tokens["access_token"]))
        assert response.status_code == 200
        assert response.json() == {"logged_out": True}
        assert (await http.get("/v1/me/history", headers=bearer(tokens["access_token"]))).status_code == 401
        refreshed = await http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 401

        other = (await sign_in(http)).json()
        by_refresh = await http.post("/v1/auth/logout", json={"refresh_token": other["refresh_token"]})
        assert by_refresh.json() == {"logged_out": True}
        assert (await http.get("/v1/me/export", headers=bearer(other["access_token"]))).status_code == 401


async def test_ws_ticket_is_issued_to_an_allowed_origin(rig: Rig) -> None:
    async with rig.client() as http:
        token = await access_token(http)
        response = await http.post("/v1/auth/ws-ticket", headers=bearer(token))
        assert response.status_code == 200, response.text
        assert len(response.json()["ticket"]) == 22
        assert response.json()["expires_in_s"] > 0
        evil = await http.post(
            "/v1/auth/ws-ticket", headers={**bearer(token), "origin": "https://evil.example"}
        )
        assert evil.status_code == 403
        assert (await http.post("/v1/auth/ws-ticket")).status_code == 401


async def test_oversize_body_is_refused_before_parsing(rig: Rig) -> None:
    nonce_text = "a" * 24
    huge = siwe_message(nonce_text, USER_A, statement="x" * 10_000)
    async with rig.client() as http:
        started = time.perf_counter()
        response = await http.post("/v1/auth/verify", json={"message": huge, "signature": "0x00"})
        elapsed = time.perf_counter() - started
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"
        assert elapsed < 0.5
        # Not JSON at all, but too large: still 413, the body is never parsed.
        raw = await http.post("/v1/auth/verify", content=b"{" * 5000)
        assert raw.status_code == 413


async def test_invalid_bodies_get_clear_codes(rig: Rig) -> None:
    async with rig.client() as http:
        cases: list[tuple[bytes, int, str]] = [
            (b"not json", 400, "invalid_json"),
            (b"[1, 2]", 422, "invalid_body"),
            (b'{"message": "m"}', 422, "missing_signature"),
            (b'{"message": 5, "signature": "0x"}', 422, "invalid_message"),
            (b'{"message": "m", "signature": "0x", "extra": 1}', 422, "unknown_field"),
            (b'{"message": "m", "signature": "0x", "audience": "mcp"}', 422, "invalid_audience"),
        ]
        for body, status, code in cases:
            response = await http.post("/v1/auth/verify", content=body)
            assert (response.status_code, response.json()["error"]["code"]) == (status, code), body


async def test_wrong_domain_is_a_generic_401_with_the_reason_in_the_audit_log(rig: Rig) -> None:
    async with rig.client() as http:
        response = await sign_in(http, domain="evil.example")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "auth_failed", "message": "authentication failed"}}
    events = await rig.analytics.audit_events(kind="signin_failed")
    assert [event.reason for event in events] == ["wrong_domain"]
    assert events[0].ip_hash is not None
    assert "10.0.0.1" not in events[0].ip_hash
    assert events[0].address is None


async def test_each_user_reads_only_their_own_history(rig: Rig) -> None:
    now = time.time()
    await seed_turn(rig, USER_A, "a1", "what is my balance", now - 30)
    await seed_turn(rig, USER_A, "a2", "send 1 0G to bob", now - 20)
    await seed_turn(rig, USER_B, "b1", "B's secret note", now - 10)
    async with rig.client() as http:
        token_a = await access_token(http, USER_A_KEY)
        page = await http.get("/v1/me/history", headers=bearer(token_a))
        assert page.status_code == 200, page.text
        turns = page.json()["turns"]
        assert [turn["turn_id"] for turn in turns] == ["a2", "a1"]
        assert "B's secret note" not in page.text
        assert "address" not in turns[0]

        first = await http.get("/v1/me/history", params={"limit": 1}, headers=bearer(token_a))
        assert [turn["turn_id"] for turn in first.json()["turns"]] == ["a2"]
        before = first.json()["next_before"]
        older = await http.get(
            "/v1/me/history", params={"limit": 1, "before": before}, headers=bearer(token_a)
        )
        assert [turn["turn_id"] for turn in older.json()["turns"]] == ["a1"]

        for params, code in [
            ({"limit": "0"}, "invalid_limit"),
            ({"limit": "201"}, "invalid_limit"),
            ({"limit": "ten"}, "invalid_limit"),
            ({"before": "nan"}, "invalid_before"),
            ({"before": "-1"}, "invalid_before"),
            ({"address": USER_B}, "unknown_parameter"),
        ]:
            bad = await http.get("/v1/me/history", params=params, headers=bearer(token_a))
            assert (bad.status_code, bad.json()["error"]["code"]) == (422, code), params

        export = await http.get("/v1/me/export", headers=bearer(token_a))
        assert export.status_code == 200
        assert "B's secret note" not in export.text
        assert {turn["turn_id"] for turn in export.json()["turns"]} == {"a1", "a2"}


async def test_user_a_reading_user_bs_history_is_404(rig: Rig) -> None:
    now = time.time()
    await seed_turn(rig, USER_A, "a1", "what is my balance", now - 20)
    await seed_turn(rig, USER_B, "b1", "B's secret note", now - 10)
    async with rig.client() as http:
        token_a = await access_token(http, USER_A_KEY)
        theirs = await http.get(f"/v1/users/{USER_B}/history", headers=bearer(token_a))
        assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "not_found")
        assert "secret" not in theirs.text
        # The same answer as for an address nobody uses, or none at all: nothing is revealed.
        nobody = "0x" + "12" * 20
        assert (await http.get(f"/v1/users/{nobody}/history", headers=bearer(token_a))).status_code == 404
        assert (await http.get("/v1/users/alice/history", headers=bearer(token_a))).status_code == 404
        mine = await http.get(f"/v1/users/{USER_A.lower()}/history", headers=bearer(token_a))
        assert [turn["turn_id"] for turn in mine.json()["turns"]] == ["a1"]
        assert (await http.get(f"/v1/users/{USER_B}/history")).status_code == 401
        admin = await access_token(http, ADMIN_KEY, audience="admin")
        read = await http.get(f"/v1/users/{USER_B}/history", headers=bearer(admin))
        assert [turn["turn_id"] for turn in read.json()["turns"]] == ["b1"]


async def test_delete_me_erases_history_and_kills_every_token(rig: Rig) -> None:
    await seed_turn(rig, USER_A, "a1", "what is my balance", time.time() - 5)
    async with rig.client() as http:
        tokens = (await sign_in(http)).json()
        token = tokens["access_token"]
        response = await http.delete("/v1/me", headers=bearer(token))
        assert response.status_code == 200, response.text
        assert response.json()["deleted"]["turns"] == 1
        assert response.json()["key_forgotten"] is True
        assert rig.forgotten == [USER_A]
        assert await rig.analytics.history(USER_A) == []
        assert (await http.get("/v1/me/history", headers=bearer(token))).status_code == 401
        refreshed = await http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 401


async def test_admin_audit_needs_an_admin_token(rig: Rig) -> None:
    async with rig.client() as http:
        await sign_in(http, domain="evil.example")  # one audit event to list
        user_token = await access_token(http, USER_A_KEY)
        refused = await http.get("/v1/admin/audit", headers=bearer(user_token))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        # A user asking for an admin token is refused at sign-in.
        assert (await sign_in(http, USER_A_KEY, audience="admin")).status_code == 401

        admin_token = await access_token(http, ADMIN_KEY, audience="admin")
        allowed = await http.get("/v1/admin/audit", headers=bearer(admin_token))
        assert allowed.status_code == 200, allowed.text
        assert "wrong_domain" in [event["reason"] for event in allowed.json()["events"]]
        # An admin's token for the gateway is not an admin token.
        admin_gateway = await access_token(http, ADMIN_KEY)
        assert (await http.get("/v1/admin/audit", headers=bearer(admin_gateway))).status_code == 403


async def test_auth_routes_are_throttled_per_ip(make_rig: Callable[..., Awaitable[Rig]]) -> None:
    rig = await make_rig(auth_per_ip=3)
    async with rig.client("10.0.0.1") as first, rig.client("10.0.0.2") as second:
        for _ in range(3):
            assert (await first.get("/v1/auth/nonce")).status_code == 200
        throttled = await first.get("/v1/auth/nonce")
        assert throttled.status_code == 429
        assert throttled.json()["error"]["code"] == "rate_limited"
        assert int(throttled.headers["retry-after"]) > 0
        assert (await first.post("/v1/auth/verify", json={})).status_code == 429
        assert (await second.get("/v1/auth/nonce")).status_code == 200


async def test_tickets_are_not_held_to_the_sign_in_attempt_limit(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    # A signed-in page that reconnects often is no sign-in flood: tickets count per wallet instead.
    rig = await make_rig(auth_per_ip=2)
    async with rig.client("10.0.0.1") as http:
        token = await access_token(http)  # nonce + verify: the whole sign-in allowance
        assert (await http.get("/v1/auth/nonce")).status_code == 429
        for _ in range(5):
            assert (await http.post("/v1/auth/ws-ticket", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer"},
        {"authorization": "Bearer garbage"},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearer " + "x" * 5000},
    ],
)
async def test_missing_or_garbage_bearer_is_401(rig: Rig, headers: dict[str, str]) -> None:
    async with rig.client() as http:
        for method, path in [("GET", "/v1/me/history"), ("GET", "/v1/me/export"), ("DELETE", "/v1/me")]:
            response = await http.request(method, path, headers=headers)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "auth_failed"
            assert response.headers["www-authenticate"] == "Bearer"
        assert (await http.get("/v1/admin/audit", headers=headers)).status_code == 401


async def test_a_token_in_the_query_string_is_not_accepted(rig: Rig) -> None:
    async with rig.client() as http:
        token = await access_token(http)
        response = await http.get("/v1/me/export", params={"access_token": token})
    assert response.status_code == 401
