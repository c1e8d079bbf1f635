"""AuthService: sign-in with every attack refused by its own code, one winner among concurrent
sign-ins, sessions that refresh, log out and get revoked, and one-time WebSocket tickets."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak

from tests.unit.voice_gateway.auth.test_refresh import FakeClock, YieldingStore
from voice_gateway.auth import service as service_module
from voice_gateway.auth.contract_wallet import ContractWalletError, Verdict
from voice_gateway.auth.service import AuthError, AuthPolicy, AuthService, Session
from voice_gateway.auth.session_store import MemorySessionStore, SessionStore
from voice_gateway.auth.siwe import ERC6492_SUFFIX, SiweExpectations
from voice_gateway.auth.tokens import SigningKeys

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

USER_KEY = (4242).to_bytes(32, "big")
USER = str(Account.from_key(USER_KEY).address)
ADMIN_KEY = (4343).to_bytes(32, "big")
ADMIN = str(Account.from_key(ADMIN_KEY).address)
OWNER_KEY = (4444).to_bytes(32, "big")  # signs for the contract wallet below
WALLET = "0x000000000000000000000000000000000000dEaD"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ORIGIN = "https://zgv.example"
APP_ORIGIN = "https://app.zgv.example"
EXPECT = SiweExpectations(
    domain="zgv.example", scheme="https", uri="https://zgv.example/login", chain_ids=frozenset({16602})
)
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class FakeChecker:
    """Stands in for EIP-1271 over RPC (the real one is tested against anvil): the endpoint serves
    chain `served`; the contract wallet at WALLET accepts exactly the (digest, signature) pairs
    registered; every other address is an account without code, which answers nothing."""

    def __init__(self) -> None:
        self.served = 16602
        self.accepted: set[tuple[bytes, bytes]] = set()
        self.unavailable = False
        self.calls = 0

    async def check(self, chain_id: int, address: str, digest: bytes, signature: bytes) -> Verdict:
        self.calls += 1
        if self.unavailable:
            raise ContractWalletError("contract_check_unavailable", "down")
        if chain_id != self.served:
            raise ContractWalletError("wrong_chain_for_contract", "another chain")
        if address != WALLET:
            return "no_answer"
        return "valid" if (digest, signature) in self.accepted else "invalid"


@dataclass
class Rig:
    service: AuthService
    clock: FakeClock
    checker: FakeChecker


def make_rig(store_kind: str = "yielding") -> Rig:
    clock = FakeClock(NOW.timestamp())
    store: SessionStore = (
        YieldingStore(clock) if store_kind == "yielding" else MemorySessionStore(clock=clock)
    )
    checker = FakeChecker()
    keys = SigningKeys(Ed25519PrivateKey.generate())
    policy = AuthPolicy(allowed_origins=frozenset({ORIGIN, APP_ORIGIN}))
    return Rig(
        AuthService(store, keys, EXPECT, [ADMIN.lower()], checker, clock, policy=policy), clock, checker
    )


@pytest.fixture
def rig() -> Rig:
    return make_rig()


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def message(nonce: str, **changes: object) -> str:
    fields: dict[str, object] = {
        "preamble": "https://zgv.example wants you to sign in with your Ethereum account:",
        "address": USER,
        "statement": "Sign in to zgvoice.",
        "uri": "https://zgv.example/login",
        "version": "1",
        "chain": "16602",
        "issued": stamp(NOW - timedelta(seconds=10)),
        "expires": stamp(NOW + timedelta(minutes=5)),
        "extra": "",
    }
    fields.update(changes)
    lines = [str(fields["preamble"]), str(fields["address"]), ""]
    lines += [str(fields["statement"]), ""] if fields["statement"] is not None else [""]
    lines += [
        f"URI: {fields['uri']}",
        f"Version: {fields['version']}",
        f"Chain ID: {fields['chain']}",
        f"Nonce: {nonce}",
        f"Issued At: {fields['issued']}",
    ]
    if fields["expires"] is not None:
        lines.append(f"Expiration Time: {fields['expires']}")
    return "\n".join(lines) + str(fields["extra"])


def sign(text: str, key: bytes = USER_KEY) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), key).signature).hex()


def eip191_digest(text: str) -> bytes:
    data = text.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


async def signed_in(rig: Rig, key: bytes = USER_KEY, address: str = USER) -> Session:
    text = message(await rig.service.issue_nonce(ORIGIN), address=address)
    return await rig.service.verify(text, sign(text, key), ORIGIN)


async def refused(call: Awaitable[object]) -> str:
    with pytest.raises(AuthError) as failure:
        await call
    assert str(failure.value) == "authentication failed"  # the same words for every refusal
    return failure.value.code


# --- nonces and a good sign-in ---------------------------------------------------------------------


async def test_nonces_are_long_random_alphanumeric_and_distinct(rig: Rig) -> None:
    nonces = {await rig.service.issue_nonce() for _ in range(200)}
    assert len(nonces) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9]{24}", nonce) for nonce in nonces)  # 24 * log2(62) > 142 bits
    assert await refused(rig.service.issue_nonce("https://evil.example")) == "wrong_origin"


async def test_a_valid_sign_in_starts_a_session(rig: Rig) -> None:
    session = await signed_in(rig)
    assert (session.address, session.role, session.wallet) == (USER, "user", "eoa")
    assert 0 < session.access_expires_at - rig.clock() <= 600
    assert session.refresh_expires_at == rig.clock() + 24 * 3600
    assert session.access_token not in repr(session)
    assert session.refresh_token not in repr(session)
    claims = await rig.service.check_access(session.access_token, "gateway")
    assert (claims.sub, claims.role, claims.sid, claims.aud) == (USER, "user", session.session_id, "gateway")
    admin = await signed_in(rig, ADMIN_KEY, ADMIN)
    assert admin.role == "admin"


# --- the attack table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    changes: dict[str, object] = field(default_factory=dict)
    key: bytes = USER_KEY
    tamper: Callable[[str], str] | None = None  # applied to the good signature
    origin: str = ORIGIN
    nonce: str | None = None  # instead of a freshly issued one
    nonce_origin: str | None = ORIGIN
    setup: Callable[[Rig, str, str], Awaitable[None]] | None = None  # gets (rig, text, signature)


async def _sign_in_first(rig: Rig, text: str, signature: str) -> None:
    await rig.service.verify(text, signature, ORIGIN)


async def _let_the_nonce_age(rig: Rig, text: str, signature: str) -> None:
    rig.clock.advance(301)


async def _serve_another_chain(rig: Rig, text: str, signature: str) -> None:
    rig.checker.served = 16661  # the configured RPC is on another network than the message names
    rig.checker.accepted.add((eip191_digest(text), bytes.fromhex(signature[2:])))


AFTER = stamp(NOW + timedelta(minutes=1))
ATTACKS = [
    pytest.param(
        Attack({"preamble": "https://evil.example wants you to sign in with your Ethereum account:"}),
        "wrong_domain",
        id="wrong-domain",
    ),
    pytest.param(
        Attack({"preamble": "http://zgv.example wants you to sign in with your Ethereum account:"}),
        "wrong_scheme",
        id="wrong-scheme",
    ),
    pytest.param(Attack({"uri": "https://zgv.example/other"}), "wrong_uri", id="wrong-uri"),
    pytest.param(Attack({"chain": "16661"}), "wrong_chain", id="wrong-chain-id"),
    pytest.param(Attack({"version": "2"}), "wrong_version", id="wrong-version"),
    pytest.param(Attack({"expires": stamp(NOW - timedelta(seconds=1))}), "expired", id="expired"),
    pytest.param(Attack({"extra": f"\nNot Before: {AFTER}"}), "not_yet_valid", id="not-yet-valid"),
    pytest.param(
        Attack({"issued": stamp(NOW + timedelta(minutes=2))}), "issued_in_future", id="issued-in-future"
    ),
    pytest.param(
        Attack({"issued": stamp(NOW - timedelta(hours=1)), "expires": stamp(NOW + timedelta(minutes=1))}),
        "issued_too_long_ago",
        id="issued-too-long-ago",
    ),
    pytest.param(Attack({"expires": None}), "missing_expiration", id="missing-expiration"),
    pytest.param(
        Attack({"expires": stamp(NOW + timedelta(hours=2))}), "lifetime_too_long", id="lifetime-too-long"
    ),
    pytest.param(Attack(nonce="NeverIssuedByUs12345678"), "unknown_nonce", id="unknown-nonce"),
    pytest.param(Attack(setup=_sign_in_first), "nonce_replayed", id="replayed-nonce"),
    pytest.param(Attack(setup=_let_the_nonce_age), "nonce_expired", id="nonce-past-its-ttl"),
    pytest.param(
        Attack(nonce_origin=APP_ORIGIN), "nonce_origin_mismatch", id="nonce-issued-to-another-origin"
    ),
    pytest.param(Attack(origin="https://evil.example", nonce_origin=None), "wrong_origin", id="wrong-origin"),
    pytest.param(
        Attack({"statement": "Sign in\r\nURI: https://evil.example/login"}), "crlf", id="crlf-injection"
    ),
    pytest.param(Attack({"address": USER.lower()}), "not_checksummed", id="non-checksummed-address"),
    pytest.param(Attack({"statement": "x" * 300}), "statement_too_long", id="oversize-statement"),
    pytest.param(Attack({"statement": "x" * 10_000}), "too_large", id="oversize-message"),
    pytest.param(Attack(tamper=lambda s: s + "00" * 5000), "signature_too_large", id="oversize-signature"),
    pytest.param(Attack(key=(777).to_bytes(32, "big")), "signer_mismatch", id="someone-elses-signature"),
    pytest.param(Attack(tamper=lambda s: "0x" + "zz" * 65), "bad_signature", id="signature-not-hex"),
    pytest.param(Attack(tamper=lambda s: s + ERC6492_SUFFIX), "erc6492_unsupported", id="erc6492-wrapped"),
    pytest.param(
        Attack({"address": WALLET}, key=OWNER_KEY, setup=_serve_another_chain),
        "wrong_chain_for_contract",
        id="contract-wallet-on-wrong-chain",
    ),
    pytest.param(
        Attack({"address": WALLET}, key=OWNER_KEY), "contract_signature_invalid", id="contract-wallet-says-no"
    ),
]


@pytest.mark.parametrize(("attack", "code"), ATTACKS)
async def test_every_attack_is_refused_with_its_own_code(rig: Rig, attack: Attack, code: str) -> None:
    nonce = attack.nonce or await rig.service.issue_nonce(attack.nonce_origin)
    text = message(nonce, **attack.changes)
    signature = sign(text, attack.key)
    if attack.setup is not None:
        await attack.setup(rig, text, signature)
    if attack.tamper is not None:
        signature = attack.tamper(signature)
    started = time.perf_counter()
    assert await refused(rig.service.verify(text, signature, attack.origin)) == code
    assert time.perf_counter() - started < 0.5


def test_the_attack_table_has_one_code_per_row() -> None:
    codes = [param.values[1] for param in ATTACKS]
    assert len(codes) == len(set(codes))


async def test_oversized_input_is_refused_before_parsing_and_fast(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(text: str) -> object:
        raise AssertionError("the parser must not see oversized input")

    monkeypatch.setattr(service_module, "parse_siwe", never)
    nonce = await rig.service.issue_nonce(ORIGIN)
    huge = message(nonce, statement="x" * 20_000)
    wide = message(nonce, statement="\u00e9" * 1500)  # under 2048 characters, over 2 KiB of UTF-8
    started = time.perf_counter()
    assert await refused(rig.service.verify(huge, "0x00", ORIGIN)) == "too_large"
    assert await refused(rig.service.verify(wide, "0x00", ORIGIN)) == "too_large"
    assert await refused(rig.service.verify(message(nonce), "0x" + "00" * 10_000, ORIGIN)) == (
        "signature_too_large"
    )
    assert time.perf_counter() - started < 0.05


async def test_a_hung_parser_is_abandoned_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(text: str) -> object:
        release.wait(5)
        raise AssertionError("unreachable once abandoned")

    monkeypatch.setattr(service_module, "parse_siwe", stuck)
    clock = FakeClock(NOW.timestamp())
    keys = SigningKeys(Ed25519PrivateKey.generate())
    quick = AuthService(
        MemorySessionStore(clock=clock),
        keys,
        EXPECT,
        [],
        None,
        clock,
        policy=AuthPolicy(parse_timeout_s=0.05),
    )
    try:
        with anyio.fail_after(2):
            assert await refused(quick.verify(message("a" * 22), "0x00", ORIGIN)) == "parse_timeout"
    finally:
        release.set()


async def test_a_failed_attempt_burns_the_nonce(rig: Rig) -> None:
    text = message(await rig.service.issue_nonce(ORIGIN))
    assert await refused(rig.service.verify(text, sign(text, (777).to_bytes(32, "big")), ORIGIN)) == (
        "signer_mismatch"
    )
    assert await refused(rig.service.verify(text, sign(text), ORIGIN)) == "nonce_replayed"


@pytest.mark.parametrize("store_kind", ["memory", "yielding"])
async def test_of_50_concurrent_sign_ins_with_one_message_exactly_one_succeeds(store_kind: str) -> None:
    rig = make_rig(store_kind)
    text = message(await rig.service.issue_nonce(ORIGIN))
    signature = sign(text)
    sessions: list[Session] = []
    codes: list[str] = []

    async def attempt() -> None:
        try:
            sessions.append(await rig.service.verify(text, signature, ORIGIN))
        except AuthError as exc:
            codes.append(exc.code)

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(attempt)
    assert len(sessions) == 1
    assert len(codes) == 49
    # Losers that look before the winner wrote its "used" mark see an unknown nonce (Redis-like
    # interleaving); either way the nonce was gone.
    assert set(codes) <= {"nonce_replayed", "unknown_nonce"}


async def test_the_malleated_twin_of_a_used_signature_is_refused_for_its_nonce(rig: Rig) -> None:
    text = message(await rig.service.issue_nonce(ORIGIN))
    raw = bytes.fromhex(sign(text)[2:])
    await rig.service.verify(text, "0x" + raw.hex(), ORIGIN)
    s = int.from_bytes(raw[32:64], "big")
    twin = raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([raw[64] ^ 1])  # (r, n - s, v flipped)
    assert twin != raw
    assert await refused(rig.service.verify(text, "0x" + twin.hex(), ORIGIN)) == "nonce_replayed"


async def test_refusals_log_their_code_and_nothing_secret(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    text = message(await rig.service.issue_nonce(ORIGIN))
    signature = sign(text, (777).to_bytes(32, "big"))
    with caplog.at_level(logging.DEBUG, logger="voice_gateway.auth"):
        await refused(rig.service.verify(text, signature, ORIGIN))
    assert "signer_mismatch" in caplog.text
    assert signature[2:20] not in caplog.text
    assert "Sign in to zgvoice" not in caplog.text


# --- contract wallets ------------------------------------------------------------------------------


async def test_a_contract_wallet_signs_in_through_eip1271(rig: Rig) -> None:
    text = message(await rig.service.issue_nonce(ORIGIN), address=WALLET)
    signature = sign(text, OWNER_KEY)
    rig.checker.accepted.add((eip191_digest(text), bytes.fromhex(signature[2:])))
    session = await rig.service.verify(text, signature, ORIGIN)
    assert (session.address, session.wallet) == (WALLET, "contract")
    assert session.refresh_expires_at <= rig.clock() + 3600  # approval on chain can change


async def test_contract_checks_fail_closed(rig: Rig) -> None:
    rig.checker.unavailable = True
    text = message(await rig.service.issue_nonce(ORIGIN), address=WALLET)
    assert await refused(rig.service.verify(text, sign(text, OWNER_KEY), ORIGIN)) == (
        "contract_check_unavailable"
    )
    text = message(await rig.service.issue_nonce(ORIGIN))
    rig.checker.calls = 0
    assert await refused(rig.service.verify(text, sign(text) + ERC6492_SUFFIX, ORIGIN)) == (
        "erc6492_unsupported"
    )
    assert rig.checker.calls == 0


async def test_without_a_checker_contract_wallets_are_refused() -> None:
    clock = FakeClock(NOW.timestamp())
    keys = SigningKeys(Ed25519PrivateKey.generate())
    service = AuthService(MemorySessionStore(clock=clock), keys, EXPECT, [], None, clock)
    text = message(await service.issue_nonce(), address=WALLET)
    assert await refused(service.verify(text, sign(text, OWNER_KEY), ORIGIN)) == "signer_mismatch"
    text = message(await service.issue_nonce(), address=WALLET)
    assert await refused(service.verify(text, "0x", ORIGIN)) == "bad_signature"  # no approved-hash path


# --- refresh, logout, revocation, roles ------------------------------------------------------------


async def test_refresh_rotates_and_a_replayed_refresh_token_ends_the_session(rig: Rig) -> None:
    first = await signed_in(rig)
    rig.clock.advance(60)
    second = await rig.service.refresh(first.refresh_token)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert (await rig.service.check_access(second.access_token, "gateway")).sid == first.session_id
    assert await refused(rig.service.refresh(first.refresh_token)) == "refresh_reused"
    assert await refused(rig.service.refresh(second.refresh_token)) == "family_revoked"
    assert await refused(rig.service.check_access(second.access_token, "gateway")) == "session_ended"


async def test_logout_ends_the_session_by_refresh_token_or_by_access_claims(rig: Rig) -> None:
    one = await signed_in(rig)
    assert await rig.service.logout(refresh_token=one.refresh_token)
    assert await refused(rig.service.check_access(one.access_token, "gateway")) == "session_ended"
    assert not await rig.service.logout(refresh_token=one.refresh_token)
    two = await signed_in(rig)
    claims = await rig.service.check_access(two.access_token, "gateway")
    assert await rig.service.logout(session=claims)
    assert await refused(rig.service.refresh(two.refresh_token)) == "family_revoked"
    await rig.service.check_access((await signed_in(rig)).access_token, "gateway")  # others unaffected
    with pytest.raises(ValueError, match="exactly one"):
        await rig.service.logout()
    assert await refused(rig.service.logout(refresh_token="nonsense")) == "malformed_refresh"


async def test_revoke_user_ends_every_session_of_that_address_only(rig: Rig) -> None:
    sessions = [await signed_in(rig) for _ in range(2)]
    admin = await signed_in(rig, ADMIN_KEY, ADMIN)
    version = await rig.service.revoke_user(USER.lower())
    assert version > 0
    for session in sessions:
        assert await refused(rig.service.check_access(session.access_token, "gateway")) == "user_revoked"
        assert await refused(rig.service.refresh(session.refresh_token)) == "user_revoked"
    await rig.service.check_access(admin.access_token, "gateway")
    fresh = await signed_in(rig)
    assert (await rig.service.check_access(fresh.access_token, "gateway")).sv == version
    rig.clock.advance(-3600)  # a clock stepped back still moves the version forward
    assert await rig.service.revoke_user(USER) > version


async def test_access_tokens_are_checked_per_audience_and_role(rig: Rig) -> None:
    user = await signed_in(rig)
    assert await refused(rig.service.check_access(user.access_token, "ws")) == "token_wrong_audience"
    text = message(await rig.service.issue_nonce(ORIGIN))
    assert await refused(rig.service.verify(text, sign(text), ORIGIN, audience="admin")) == "not_admin"
    text = message(await rig.service.issue_nonce(ORIGIN), address=ADMIN)
    admin = await rig.service.verify(text, sign(text, ADMIN_KEY), ORIGIN, audience="admin")
    assert (await rig.service.check_access(admin.access_token, "admin")).role == "admin"
    forged = rig.service.tokens.mint(USER, "admin", "admin", 0, user.session_id).token
    assert await refused(rig.service.check_access(forged, "admin")) == "not_admin"  # not in the admin list
    rig.clock.advance(rig.service.policy.access_ttl_s + 30)
    assert await refused(rig.service.check_access(user.access_token, "gateway")) == "token_expired"


# --- WebSocket tickets -----------------------------------------------------------------------------


async def ticket_for(rig: Rig, origin: str = ORIGIN) -> tuple[Session, str]:
    session = await signed_in(rig)
    claims = await rig.service.check_access(session.access_token, "gateway")
    return session, await rig.service.issue_ws_ticket(claims, origin)


async def test_a_ticket_opens_one_socket_once(rig: Rig) -> None:
    session, ticket = await ticket_for(rig)
    assert len(ticket) == 22  # 128 bits
    grant = await rig.service.redeem_ws_ticket(ticket, ORIGIN)
    assert (grant.address, grant.session_id, grant.origin) == (USER, session.session_id, ORIGIN)
    assert await refused(rig.service.redeem_ws_ticket(ticket, ORIGIN)) == "unknown_ticket"
    await rig.service.check_session(grant.address, grant.session_id, grant.session_version)


async def test_a_ticket_expires_after_30_seconds(rig: Rig) -> None:
    _, ticket = await ticket_for(rig)
    rig.clock.advance(30)
    assert await refused(rig.service.redeem_ws_ticket(ticket, ORIGIN)) == "ticket_expired"


async def test_a_ticket_is_bound_to_its_origin(rig: Rig) -> None:
    _, ticket = await ticket_for(rig)
    assert await refused(rig.service.redeem_ws_ticket(ticket, "https://evil.example")) == (
        "ticket_wrong_origin"
    )
    assert await refused(rig.service.redeem_ws_ticket(ticket, ORIGIN)) == "unknown_ticket"  # burnt
    claims = await rig.service.check_access((await signed_in(rig)).access_token, "gateway")
    assert await refused(rig.service.issue_ws_ticket(claims, "https://evil.example")) == "wrong_origin"


async def test_revocation_makes_tickets_and_open_sockets_stale(rig: Rig) -> None:
    _, ticket = await ticket_for(rig)
    session, open_ticket = await ticket_for(rig)
    grant = await rig.service.redeem_ws_ticket(open_ticket, ORIGIN)
    await rig.service.revoke_user(USER)
    assert await refused(rig.service.redeem_ws_ticket(ticket, ORIGIN)) == "user_revoked"
    assert await refused(
        rig.service.check_session(grant.address, grant.session_id, grant.session_version)
    ) == ("user_revoked")
    other, other_ticket = await ticket_for(rig)
    await rig.service.logout(refresh_token=other.refresh_token)
    assert await refused(rig.service.redeem_ws_ticket(other_ticket, ORIGIN)) == "session_ended"


@pytest.mark.parametrize("ticket", ["", "short", "x" * 5000, "A" * 21 + "!"])
async def test_malformed_tickets_are_refused(rig: Rig, ticket: str) -> None:
    assert await refused(rig.service.redeem_ws_ticket(ticket, ORIGIN)) == "malformed_ticket"
