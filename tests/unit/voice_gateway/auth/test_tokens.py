"""Access tokens: a minted token verifies for its audience only; every forgery and every expired,
tampered or incomplete token is refused with its own code; the signing key file is private."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account

from voice_gateway.auth.tokens import (
    REQUIRED_CLAIMS,
    AccessTokens,
    KeyFileError,
    SigningKeys,
    TokenRejected,
    ensure_signing_key,
    load_signing_key,
)

pytestmark = pytest.mark.unit

ADDRESS = str(Account.from_key((4242).to_bytes(32, "big")).address)
START = 1_795_000_000.0
ISSUER = "zgvoice-gateway"


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys() -> SigningKeys:
    return SigningKeys(Ed25519PrivateKey.generate())


@pytest.fixture
def tokens(keys: SigningKeys, clock: FakeClock) -> AccessTokens:
    return AccessTokens(keys, ISSUER, ttl_s=300, clock=clock)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": ADDRESS,
        "aud": "gateway",
        "iat": int(START),
        "nbf": int(START),
        "exp": int(START) + 300,
        "jti": "j1",
        "role": "user",
        "sv": 0,
        "sid": "s1",
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def signed(keys: SigningKeys, payload: dict[str, Any], **headers: Any) -> str:
    """A token signed with our own key, so only the property under test is wrong."""
    head = {"typ": "at+jwt", "kid": keys.active_kid, **headers}
    return jwt.encode(payload, keys.active, "EdDSA", headers=head)


def rejected(tokens: AccessTokens, token: str, audience: str = "gateway") -> str:
    with pytest.raises(TokenRejected) as refused:
        tokens.verify_access(token, audience)
    assert str(refused.value) == "access token refused"  # generic: no token, no detail
    return refused.value.code


def test_a_minted_token_verifies_with_every_claim(tokens: AccessTokens) -> None:
    grant = tokens.mint(ADDRESS, "gateway", "admin", 7, "session-1")
    verified = tokens.verify_access(grant.token, "gateway")
    assert verified == grant.claims
    assert (verified.sub, verified.aud, verified.role, verified.sv, verified.sid) == (
        ADDRESS,
        "gateway",
        "admin",
        7,
        "session-1",
    )
    assert verified.exp - verified.iat == 300
    assert verified.iss == ISSUER
    assert grant.token not in repr(grant)
    assert tokens.mint(ADDRESS, "gateway", "user", 0, "s").claims.jti != verified.jti


def test_lifetimes_over_ten_minutes_and_unknown_audiences_are_refused(keys: SigningKeys) -> None:
    with pytest.raises(ValueError, match="600"):
        AccessTokens(keys, ISSUER, ttl_s=601)
    tokens = AccessTokens(keys, ISSUER)
    with pytest.raises(ValueError, match="audience"):
        tokens.mint(ADDRESS, "somewhere", "user", 0, "s")
    with pytest.raises(ValueError, match="role"):
        tokens.mint(ADDRESS, "gateway", "root", 0, "s")
    with pytest.raises(ValueError, match="checksummed"):
        tokens.mint(ADDRESS.lower(), "gateway", "user", 0, "s")


def test_alg_none_is_refused(tokens: AccessTokens, keys: SigningKeys) -> None:
    header = {"alg": "none", "typ": "at+jwt", "kid": keys.active_kid}
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}."
    assert rejected(tokens, token) == "wrong_algorithm"


def test_hs256_signed_with_our_public_key_is_refused(tokens: AccessTokens, keys: SigningKeys) -> None:
    # The classic confusion attack: HMAC keyed with the (public) verification key's bytes. PyJWT
    # itself refuses to create such a token, so it is assembled by hand.
    public_pem = keys.active.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "at+jwt", "kid": keys.active_kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert rejected(tokens, f"{signing_input}.{b64(mac)}") == "wrong_algorithm"


def test_another_key_claiming_our_key_id_is_refused(tokens: AccessTokens, keys: SigningKeys) -> None:
    forger = Ed25519PrivateKey.generate()
    token = jwt.encode(claims(), forger, "EdDSA", headers={"typ": "at+jwt", "kid": keys.active_kid})
    assert rejected(tokens, token) == "bad_signature"


def test_a_token_for_one_service_is_refused_by_another(tokens: AccessTokens) -> None:
    token = tokens.mint(ADDRESS, "gateway", "user", 0, "s").token
    assert rejected(tokens, token, "admin") == "wrong_audience"
    assert rejected(tokens, token, "ws") == "wrong_audience"
    # A list-valued audience is not accepted even when it contains ours (strict).
    assert rejected(tokens, signed(tokens._keys, claims(aud=["gateway", "admin"]))) == "wrong_audience"


def test_another_issuer_is_refused(keys: SigningKeys, clock: FakeClock, tokens: AccessTokens) -> None:
    other = AccessTokens(keys, "zgvoice-gateway-staging", clock=clock)
    assert rejected(tokens, other.mint(ADDRESS, "gateway", "user", 0, "s").token) == "wrong_issuer"


def test_expiry_is_checked_on_the_injected_clock_with_leeway(tokens: AccessTokens, clock: FakeClock) -> None:
    token = tokens.mint(ADDRESS, "gateway", "user", 0, "s").token
    clock.now = START + 300 + 29
    tokens.verify_access(token, "gateway")
    clock.now = START + 300 + 30
    assert rejected(tokens, token) == "expired"


def test_tokens_from_the_future_are_refused(
    keys: SigningKeys, clock: FakeClock, tokens: AccessTokens
) -> None:
    assert rejected(tokens, signed(keys, claims(iat=int(START) + 120, nbf=int(START) + 120))) == (
        "issued_in_future"
    )
    assert rejected(tokens, signed(keys, claims(nbf=int(START) + 120))) == "not_yet_valid"


def test_a_long_lived_token_is_refused_even_when_signed(keys: SigningKeys, tokens: AccessTokens) -> None:
    assert rejected(tokens, signed(keys, claims(exp=int(START) + 3600))) == "lifetime_too_long"


def test_tampered_tokens_are_refused(tokens: AccessTokens) -> None:
    token = tokens.mint(ADDRESS, "gateway", "user", 0, "s").token
    head, body, signature = token.split(".")
    promoted = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    promoted["role"] = "admin"
    assert rejected(tokens, f"{head}.{b64(json.dumps(promoted).encode())}.{signature}") == "bad_signature"
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert rejected(tokens, f"{head}.{body}.{flipped}") == "bad_signature"
    assert rejected(tokens, "not-a-token") == "malformed"
    assert rejected(tokens, token + "x" * 5000) == "malformed"


@pytest.mark.parametrize("missing", REQUIRED_CLAIMS)
def test_every_claim_is_required(keys: SigningKeys, tokens: AccessTokens, missing: str) -> None:
    assert rejected(tokens, signed(keys, claims(**{missing: None}))) == "missing_claim"


@pytest.mark.parametrize(
    "changes",
    [{"sub": ADDRESS.lower()}, {"sub": "alice"}, {"role": "root"}, {"sv": "0"}, {"sv": True}, {"sid": ""}],
)
def test_claims_of_the_wrong_shape_are_refused(
    keys: SigningKeys, tokens: AccessTokens, changes: dict[str, Any]
) -> None:
    assert rejected(tokens, signed(keys, claims(**changes))) == "bad_claim"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("jku", "https://evil.example/jwks.json"),
        ("jwk", {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}),
        ("x5u", "https://evil.example/cert.pem"),
        ("x5c", ["MIIB"]),
        ("b64", False),
        ("zip", "DEF"),
    ],
)
def test_headers_that_name_a_key_or_change_the_format_are_refused(
    keys: SigningKeys, tokens: AccessTokens, header: str, value: Any
) -> None:
    assert rejected(tokens, signed(keys, claims(), **{header: value})) == "forbidden_header"


def test_critical_header_extensions_are_refused_by_pyjwt_already(
    keys: SigningKeys, tokens: AccessTokens
) -> None:
    assert rejected(tokens, signed(keys, claims(), crit=["exp"])) == "malformed"


def test_unknown_key_ids_and_other_token_types_are_refused(keys: SigningKeys, tokens: AccessTokens) -> None:
    assert rejected(tokens, signed(keys, claims(), kid="someone-else")) == "unknown_key"
    assert rejected(tokens, signed(keys, claims(), typ="JWT")) == "wrong_type"


def test_retired_keys_verify_until_removed_from_the_keyring(clock: FakeClock) -> None:
    old = Ed25519PrivateKey.generate()
    old_token = AccessTokens(SigningKeys(old), ISSUER, clock=clock).mint(ADDRESS, "gateway", "user", 0, "s")
    rotated = AccessTokens(SigningKeys(Ed25519PrivateKey.generate(), [old.public_key()]), ISSUER, clock=clock)
    assert rotated.verify_access(old_token.token, "gateway") == old_token.claims
    without_old = AccessTokens(SigningKeys(Ed25519PrivateKey.generate()), ISSUER, clock=clock)
    assert rejected(without_old, old_token.token) == "unknown_key"


def test_the_embedded_key_is_generated_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "access.pem"
    first = ensure_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]  # no partial file left behind
    again = ensure_signing_key(path)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert again.public_key().public_bytes(*raw) == first.public_key().public_bytes(*raw)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="other users"):
        ensure_signing_key(path)


def test_key_files_that_are_not_ed25519_are_refused_without_showing_them(tmp_path: Path) -> None:
    ec_key = generate_private_key(SECP256R1())
    pem = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "ec.pem").write_bytes(pem)
    (tmp_path / "junk.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nsecret\n")
    with pytest.raises(KeyFileError, match="Ed25519"):
        load_signing_key(tmp_path / "ec.pem")
    with pytest.raises(KeyFileError) as refused:
        load_signing_key(tmp_path / "junk.pem")
    assert "secret" not in str(refused.value)
    with pytest.raises(KeyFileError):
        load_signing_key(tmp_path / "missing.pem")


def test_the_keyring_never_prints_key_material(keys: SigningKeys) -> None:
    private = keys.active.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert private.hex() not in repr(keys)
    assert b64(private) not in repr(keys)
