"""Unsigned transactions as values: validation, the confirmation digest, decoding signed bytes from
eth-account, and the field-by-field check of externally signed bytes."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zerog_client.tx.unsigned import SignatureMismatchError, UnsignedTx, decode_signed, verify_signed

pytestmark = pytest.mark.unit

SIGNER: LocalAccount = Account.create()
OTHER: LocalAccount = Account.create()
TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

LEGACY = UnsignedTx(
    chain_id=1_660_999, nonce=3, to=TO, value=10**18, data=b"\x01\x02", gas=50_000, gas_price=7
)
DYNAMIC = UnsignedTx(
    chain_id=16602,
    nonce=0,
    to=TO,
    value=5,
    data=b"",
    gas=21_000,
    max_fee_per_gas=3 * 10**9,
    max_priority_fee_per_gas=10**9,
)
CREATION = dataclasses.replace(DYNAMIC, to=None, data=b"\x60\x00\x60\x00", gas=100_000)


def sign(tx: UnsignedTx | dict[str, Any], account: LocalAccount = SIGNER) -> bytes:
    signable = tx.as_signable() if isinstance(tx, UnsignedTx) else tx
    return bytes(account.sign_transaction(signable).raw_transaction)


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fees",
    [
        {},
        {"max_fee_per_gas": 2},
        {"max_priority_fee_per_gas": 1},
        {"gas_price": 1, "max_fee_per_gas": 2, "max_priority_fee_per_gas": 1},
    ],
)
def test_fees_are_legacy_or_eip1559_never_neither_or_both(fees: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="either gas_price"):
        UnsignedTx(chain_id=1, nonce=0, to=TO, value=0, data=b"", gas=21_000, **fees)


@pytest.mark.parametrize("stray", [{"max_fee_per_gas": 2}, {"max_priority_fee_per_gas": 1}])
def test_a_legacy_fee_with_a_stray_eip1559_field_is_refused(stray: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="either gas_price"):
        UnsignedTx(chain_id=1, nonce=0, to=TO, value=0, data=b"", gas=21_000, gas_price=1, **stray)


def test_fee_cap_and_max_cost() -> None:
    assert LEGACY.fee_cap == 7
    assert LEGACY.max_cost == 10**18 + 50_000 * 7
    assert DYNAMIC.fee_cap == 3 * 10**9
    assert DYNAMIC.max_cost == 5 + 21_000 * 3 * 10**9


def test_signable_and_json_forms() -> None:
    assert LEGACY.as_signable() == {
        "chainId": 1_660_999,
        "nonce": 3,
        "value": 10**18,
        "data": b"\x01\x02",
        "gas": 50_000,
        "to": TO,
        "gasPrice": 7,
    }
    assert CREATION.as_json() == {
        "chainId": hex(16602),
        "nonce": "0x0",
        "value": "0x5",
        "data": "0x60006000",
        "gas": hex(100_000),
        "maxFeePerGas": hex(3 * 10**9),
        "maxPriorityFeePerGas": hex(10**9),
        "type": "0x2",
    }


# --- the digest ------------------------------------------------------------------------------------

addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
fees = st.integers(min_value=0, max_value=2**256 - 1)


@st.composite
def transactions(draw: st.DrawFn) -> UnsignedTx:
    legacy = draw(st.booleans())
    fee_fields: dict[str, int] = (
        {"gas_price": draw(fees)}
        if legacy
        else {"max_fee_per_gas": draw(fees), "max_priority_fee_per_gas": draw(fees)}
    )
    return UnsignedTx(
        chain_id=draw(st.integers(min_value=1, max_value=2**64)),
        nonce=draw(st.integers(min_value=0, max_value=2**64 - 1)),
        to=draw(st.none() | addresses),
        value=draw(st.integers(min_value=0, max_value=2**256 - 1)),
        data=draw(st.binary(max_size=64)),
        gas=draw(st.integers(min_value=0, max_value=2**64 - 1)),
        **fee_fields,
    )


def changed(data: st.DataObject, tx: UnsignedTx) -> tuple[str, UnsignedTx]:
    names = ["chain_id", "nonce", "to", "value", "data", "gas"]
    names += ["gas_price"] if tx.gas_price is not None else ["max_fee_per_gas", "max_priority_fee_per_gas"]
    name = data.draw(st.sampled_from(names))
    old = getattr(tx, name)
    if name == "to":
        new: Any = data.draw(
            (st.none() | addresses).filter(lambda a: (a or "").lower() != (old or "").lower())
        )
    elif name == "data":
        new = data.draw(st.binary(max_size=64).filter(lambda d: d != old))
    else:
        new = data.draw(st.integers(min_value=0, max_value=2**256 - 1).filter(lambda v: v != old))
    return name, dataclasses.replace(tx, **{name: new})


@given(st.data())
def test_the_digest_changes_when_any_single_field_changes(data: st.DataObject) -> None:
    tx = data.draw(transactions())
    name, other = changed(data, tx)
    assert other.digest() != tx.digest(), f"changing {name} kept the digest"


@given(transactions())
def test_the_digest_is_stable_and_ignores_address_case(tx: UnsignedTx) -> None:
    same = dataclasses.replace(tx, to=tx.to.lower() if tx.to else None)
    assert tx.digest() == same.digest() == dataclasses.replace(tx).digest()
    assert tx.digest().startswith("0x")
    assert len(tx.digest()) == 66


def test_the_digest_is_pinned() -> None:
    # A digest bound to a confirmation must not change between releases.
    fields = ["legacy", "1660999", "3", TO.lower(), str(10**18), "0102", "50000", "7", "-", "-"]
    assert LEGACY.digest() == "0x" + keccak(text="|".join(fields)).hex()


def test_the_digest_tells_a_legacy_tx_from_an_eip1559_one() -> None:
    legacy = dataclasses.replace(LEGACY, gas_price=0)
    dynamic = UnsignedTx(
        chain_id=LEGACY.chain_id,
        nonce=LEGACY.nonce,
        to=LEGACY.to,
        value=LEGACY.value,
        data=LEGACY.data,
        gas=LEGACY.gas,
        max_fee_per_gas=0,
        max_priority_fee_per_gas=0,
    )
    assert sign(legacy) != sign(dynamic)
    assert legacy.digest() != dynamic.digest()


# --- decoding signed bytes -------------------------------------------------------------------------

signable = st.builds(
    lambda legacy, chain_id, nonce, to, value, data, gas, fee, tip: UnsignedTx(
        chain_id=chain_id,
        nonce=nonce,
        to=to,
        value=value,
        data=data,
        gas=gas,
        gas_price=fee if legacy else None,
        max_fee_per_gas=None if legacy else fee + tip,
        max_priority_fee_per_gas=None if legacy else tip,
    ),
    st.booleans(),
    st.integers(min_value=1, max_value=2**32),
    st.integers(min_value=0, max_value=2**63),
    st.none() | addresses,
    st.integers(min_value=0, max_value=2**200),
    st.binary(max_size=100),
    st.integers(min_value=21_000, max_value=30_000_000),
    st.integers(min_value=0, max_value=2**100),
    st.integers(min_value=0, max_value=2**100),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(signable)
def test_decode_round_trips_what_eth_account_signs(tx: UnsignedTx) -> None:
    signed_by_library = SIGNER.sign_transaction(tx.as_signable())
    raw = bytes(signed_by_library.raw_transaction)
    signed = decode_signed(raw)
    assert signed.tx == tx
    assert signed.sender == SIGNER.address
    assert signed.raw == raw
    assert signed.tx_hash == "0x" + bytes(signed_by_library.hash).hex() == "0x" + keccak(raw).hex()


@pytest.mark.parametrize("tx", [LEGACY, DYNAMIC, CREATION], ids=["legacy", "eip1559", "creation"])
def test_decode_recovers_each_signer(tx: UnsignedTx) -> None:
    assert decode_signed(sign(tx, SIGNER)).sender == SIGNER.address
    assert decode_signed(sign(tx, OTHER)).sender == OTHER.address


def test_a_pre_eip155_signature_is_refused() -> None:
    unprotected = {"nonce": 0, "to": TO, "value": 1, "gas": 21_000, "gasPrice": 1, "data": b""}
    raw = sign(unprotected)
    assert raw[0] >= 0xC0
    with pytest.raises(SignatureMismatchError, match="EIP-155"):
        decode_signed(raw)


def test_an_eip2930_transaction_is_an_unsupported_type() -> None:
    access_list_tx = {
        "type": 1,
        "chainId": 1,
        "nonce": 0,
        "to": TO,
        "value": 1,
        "gas": 30_000,
        "gasPrice": 1,
        "data": b"",
        "accessList": [],
    }
    with pytest.raises(SignatureMismatchError):
        decode_signed(sign(access_list_tx))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00",
        b"\x02",
        b"\x02\xc0",
        b"\xc0",
        b"\xf8\x00",
        b"\x7f" + b"\x00" * 100,
        b"not a transaction",
        sign(DYNAMIC)[:-1],
        sign(LEGACY)[:-3],
        sign(DYNAMIC) + b"\x00",
    ],
)
def test_garbage_is_a_signature_mismatch(raw: bytes) -> None:
    with pytest.raises(SignatureMismatchError):
        decode_signed(raw)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_a_signature_mismatch(raw: bytes) -> None:
    with contextlib.suppress(SignatureMismatchError):
        decode_signed(raw)


# yParity/v, r and s take at most this many bytes at the end of both encodings used here.
SIGNATURE_TAIL = 70


@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255), st.booleans())
def test_a_flipped_byte_in_the_signed_fields_never_passes_as_the_original(
    position: int, flip: int, legacy: bool
) -> None:
    # The signature's own encoding is covered by test_a_non_canonical_signature_is_refused.
    original = LEGACY if legacy else DYNAMIC
    raw = bytearray(sign(original))
    raw[position % (len(raw) - SIGNATURE_TAIL)] ^= flip
    try:
        signed = decode_signed(bytes(raw))
    except SignatureMismatchError:
        return
    assert (signed.sender, signed.tx) != (SIGNER.address, original)


def _non_canonical(kind: str) -> bytes:
    """DYNAMIC signed by SIGNER, with the same signature written another way."""
    fields = list(rlp.decode(sign(DYNAMIC)[1:]))
    y_parity = int.from_bytes(fields[9], "big")
    if kind == "y_parity_as_eip155_v":
        fields[9] = bytes([35 + y_parity])
    else:  # the high-s twin of the signature (EIP-2 allows only the low one)
        fields[9] = b"" if y_parity else b"\x01"
        fields[11] = (SECP256K1_N - int.from_bytes(fields[11], "big")).to_bytes(32, "big")
    return b"\x02" + bytes(rlp.encode(fields))


@pytest.mark.parametrize("kind", ["y_parity_as_eip155_v", "high_s"])
def test_a_non_canonical_signature_is_refused(kind: str) -> None:
    raw = _non_canonical(kind)
    assert raw != sign(DYNAMIC)
    with pytest.raises(SignatureMismatchError):
        verify_signed(raw, DYNAMIC, SIGNER.address)


# --- verifying externally signed bytes -------------------------------------------------------------


@pytest.mark.parametrize("tx", [LEGACY, DYNAMIC, CREATION], ids=["legacy", "eip1559", "creation"])
def test_verify_accepts_exactly_the_prepared_transaction(tx: UnsignedTx) -> None:
    raw = sign(tx)
    assert verify_signed(raw, tx, SIGNER.address).tx == tx
    assert verify_signed(raw, tx, SIGNER.address.lower()).sender == SIGNER.address
    if tx.to is not None:
        assert verify_signed(raw, dataclasses.replace(tx, to=tx.to.lower()), SIGNER.address).raw == raw


def single_field_changes(tx: UnsignedTx) -> list[tuple[str, dict[str, Any]]]:
    changes: list[tuple[str, dict[str, Any]]] = [
        ("to", {"to": OTHER.address}),
        ("to", {"to": None}),
        ("value", {"value": tx.value + 1}),
        ("data", {"data": tx.data + b"\x00"}),
        ("nonce", {"nonce": tx.nonce + 1}),
        ("chain_id", {"chain_id": tx.chain_id + 1}),
        ("gas", {"gas": tx.gas + 1}),
    ]
    if tx.gas_price is not None:
        changes.append(("gas_price", {"gas_price": tx.gas_price + 1}))
    else:
        changes.append(("max_fee_per_gas", {"max_fee_per_gas": (tx.max_fee_per_gas or 0) + 1}))
        changes.append(("max_priority_fee_per_gas", {"max_priority_fee_per_gas": 1}))
    return changes


@pytest.mark.parametrize(
    ("tx", "field", "change"),
    [(tx, name, change) for tx in (LEGACY, DYNAMIC) for name, change in single_field_changes(tx)],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_verify_refuses_each_single_field_change(tx: UnsignedTx, field: str, change: dict[str, Any]) -> None:
    # The wallet signed something other than what we prepared (and showed the user).
    signed_other = sign(dataclasses.replace(tx, **change))
    with pytest.raises(SignatureMismatchError, match=f"signed {field} differs"):
        verify_signed(signed_other, tx, SIGNER.address)


def test_verify_refuses_a_legacy_signature_for_a_prepared_eip1559_tx() -> None:
    as_legacy = dataclasses.replace(
        DYNAMIC, gas_price=DYNAMIC.max_fee_per_gas, max_fee_per_gas=None, max_priority_fee_per_gas=None
    )
    with pytest.raises(SignatureMismatchError, match="differs"):
        verify_signed(sign(as_legacy), DYNAMIC, SIGNER.address)


@pytest.mark.parametrize("tx", [LEGACY, DYNAMIC], ids=["legacy", "eip1559"])
def test_verify_refuses_a_different_signer(tx: UnsignedTx) -> None:
    with pytest.raises(SignatureMismatchError, match="different account"):
        verify_signed(sign(tx, OTHER), tx, SIGNER.address)


def test_verify_refuses_garbage() -> None:
    with pytest.raises(SignatureMismatchError):
        verify_signed(b"\x02\x00", DYNAMIC, SIGNER.address)


def test_verify_refuses_an_added_access_list() -> None:
    with_access_list = DYNAMIC.as_signable() | {
        "gas": DYNAMIC.gas,
        "accessList": [{"address": OTHER.address, "storageKeys": ["0x" + "00" * 32]}],
    }
    with pytest.raises(SignatureMismatchError):
        verify_signed(sign(with_access_list), DYNAMIC, SIGNER.address)
