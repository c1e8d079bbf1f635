"""The reader's pure parts: hash validation and calldata encoding."""

from __future__ import annotations

import pytest
from eth_abi.abi import decode
from hypothesis import given
from hypothesis import strategies as st

from zerog_client.chain.reader import InvalidHashError, check_hash, encode_call
from zerog_client.errors import ZeroGError

pytestmark = pytest.mark.unit


@given(st.binary(min_size=32, max_size=32), st.booleans())
def test_any_32_bytes_of_hex_is_a_hash_returned_lower_case(raw: bytes, upper: bool) -> None:
    text = "0x" + (raw.hex().upper() if upper else raw.hex())
    assert check_hash(text) == "0x" + raw.hex()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0x",
        "0x" + "a" * 63,
        "0x" + "a" * 65,
        "a" * 66,
        "0X" + "a" * 64,
        "0x" + "g" * 64,
        "0x" + "a" * 62 + "0x",
        " 0x" + "a" * 63,
        "-0x" + "a" * 63,
        "0x-" + "a" * 63,
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidHashError) as info:
        check_hash(text)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ZeroGError)
    assert info.value.code == "invalid_hash"


@pytest.mark.parametrize(
    "text",
    ["0x" + "1_" * 31 + "11", "0x" + "a" * 63 + " ", "0x" + "a" * 63 + "\n", "0x" + "a" * 63 + "\t"],
)
def test_underscores_and_whitespace_are_not_hex(text: str) -> None:
    assert len(text) == 66
    with pytest.raises(InvalidHashError):
        check_hash(text)


def test_encode_call_is_the_selector_then_the_abi_arguments() -> None:
    owner = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    data = encode_call("balanceOf(address)", ["address"], [owner])
    assert data.startswith("0x70a08231")  # the well-known ERC-20 balanceOf selector
    assert decode(["address"], bytes.fromhex(data[10:])) == (owner.lower(),)
    assert encode_call("decimals()", [], []) == "0x313ce567"


@given(st.integers(min_value=0, max_value=2**256 - 1), st.binary(max_size=100))
def test_encoded_arguments_decode_back(amount: int, blob: bytes) -> None:
    data = encode_call("f(uint256,bytes)", ["uint256", "bytes"], [amount, blob])
    assert decode(["uint256", "bytes"], bytes.fromhex(data[10:])) == (amount, blob)
