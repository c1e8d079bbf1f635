"""EIP-4361 parsing and checks: a valid sign-in passes; every tampering is refused with its own code."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from voice_gateway.auth.siwe import (
    ERC6492_SUFFIX,
    SiweError,
    SiweExpectations,
    parse_siwe,
    recover_eoa,
    verify_eoa,
)

pytestmark = pytest.mark.unit

KEY = (4242).to_bytes(32, "big")
ADDRESS = str(Account.from_key(KEY).address)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
EXPECT = SiweExpectations(
    domain="zgv.example", scheme="https", uri="https://zgv.example/login", chain_ids=frozenset({16602})
)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def message(**changes: object) -> str:
    fields: dict[str, object] = {
        "preamble": "https://zgv.example wants you to sign in with your Ethereum account:",
        "address": ADDRESS,
        "statement": "Sign in to zgvoice.",
        "uri": "https://zgv.example/login",
        "version": "1",
        "chain": "16602",
        "nonce": "a1B2c3D4e5F6g7H8i9J0kL",
        "issued": stamp(NOW - timedelta(seconds=10)),
        "expires": stamp(NOW + timedelta(minutes=5)),
        "extra": "",
    }
    fields.update(changes)
    lines = [str(fields["preamble"]), str(fields["address"]), ""]
    if fields["statement"] is not None:
        lines += [str(fields["statement"]), ""]
    else:
        lines += [""]
    lines += [
        f"URI: {fields['uri']}",
        f"Version: {fields['version']}",
        f"Chain ID: {fields['chain']}",
        f"Nonce: {fields['nonce']}",
        f"Issued At: {fields['issued']}",
    ]
    if fields["expires"] is not None:
        lines.append(f"Expiration Time: {fields['expires']}")
    text = "\n".join(lines)
    return text + str(fields["extra"])


def sign(text: str, key: bytes = KEY) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), key).signature).hex()


def code_of(text: str, signature: str | None = None, now: datetime = NOW) -> str:
    with pytest.raises(SiweError) as refused:
        verify_eoa(text, signature if signature is not None else sign(text), EXPECT, now)
    return refused.value.code


def test_a_valid_sign_in_passes_with_and_without_a_statement() -> None:
    for text in (message(), message(statement=None)):
        verified = verify_eoa(text, sign(text), EXPECT, NOW)
        assert verified.address == ADDRESS
        assert verified.chain_id == 16602
        assert verified.nonce == "a1B2c3D4e5F6g7H8i9J0kL"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        (
            {"preamble": "https://evil.example wants you to sign in with your Ethereum account:"},
            "wrong_domain",
        ),
        ({"preamble": "http://zgv.example wants you to sign in with your Ethereum account:"}, "wrong_scheme"),
        ({"uri": "https://zgv.example/other"}, "wrong_uri"),
        ({"chain": "16661"}, "wrong_chain"),
        ({"version": "2"}, "wrong_version"),
        ({"expires": stamp(NOW - timedelta(seconds=1))}, "expired"),
        ({"issued": stamp(NOW + timedelta(minutes=2))}, "issued_in_future"),
        (
            {"issued": stamp(NOW - timedelta(hours=1)), "expires": stamp(NOW + timedelta(minutes=1))},
            "issued_too_long_ago",
        ),
        ({"expires": None}, "missing_expiration"),
        ({"expires": stamp(NOW + timedelta(hours=2))}, "lifetime_too_long"),
        ({"extra": f"\nNot Before: {stamp(NOW + timedelta(minutes=1))}"}, "not_yet_valid"),
        ({"address": ADDRESS.lower()}, "not_checksummed"),
        ({"statement": "x" * 257}, "statement_too_long"),
        ({"statement": "Sign in\r\nURI: https://evil.example"}, "crlf"),
        ({"nonce": "short"}, "bad_nonce"),
        ({"nonce": "has-dash-1234"}, "bad_nonce"),
        ({"issued": "yesterday"}, "malformed_time"),
        ({"extra": "\nResources:\n- https://evil.example/all"}, "resource_not_allowed"),
        (
            {"extra": "\nResources:" + "".join(f"\n- https://zgv.example/r{i}" for i in range(6))},
            "too_many_resources",
        ),
        ({"extra": "\nAdmin: true"}, "malformed"),
        ({"chain": "0x3efa"}, "malformed"),
    ],
)
def test_every_tampered_field_is_refused_with_its_own_code(changes: dict[str, object], code: str) -> None:
    assert code_of(message(**changes)) == code


def test_oversized_messages_are_refused_before_parsing_and_fast() -> None:
    huge = message(statement="x" * 20_000)
    started = time.perf_counter()
    with pytest.raises(SiweError) as refused:
        parse_siwe(huge)
    assert refused.value.code == "too_large"
    assert time.perf_counter() - started < 0.05


def test_signatures_from_anyone_else_or_malformed_are_refused() -> None:
    text = message()
    assert code_of(text, sign(text, (777).to_bytes(32, "big"))) == "signer_mismatch"
    assert code_of(text, "0x1234") == "bad_signature"
    assert code_of(text, "0xzz" + "00" * 64) == "bad_signature"
    assert code_of(text, sign(text) + ERC6492_SUFFIX) == "erc6492_unsupported"
    # A signature of a different message (say, with another nonce) does not carry over.
    assert code_of(text, sign(message(nonce="Zz9Yy8Xx7Ww6Vv5Uu4Tt3"))) == "signer_mismatch"


def test_the_malleated_twin_of_a_signature_is_refused() -> None:
    # eth-account 0.14 refuses high-s signatures (0.13 recovered the same account from them); replay
    # protection still rests on the single-use nonce, never on signature bytes.
    text = message()
    raw = bytes.fromhex(sign(text)[2:])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(raw[32:64], "big")
    twin = raw[:32] + (n - s).to_bytes(32, "big") + bytes([raw[64] ^ 1])
    assert twin != raw
    assert recover_eoa(text, "0x" + raw.hex()) == ADDRESS
    with pytest.raises(SiweError) as refused:
        recover_eoa(text, "0x" + twin.hex())
    assert refused.value.code == "bad_signature"
