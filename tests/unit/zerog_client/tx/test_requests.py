"""`TxRequest.validated`: what is refused before anything is signed, and `same_as` for replays."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from zerog_client.errors import InvalidAddressError
from zerog_client.tx.requests import (
    MAX_DATA_BYTES,
    MAX_KEY_LENGTH,
    MAX_UINT256,
    InvalidRequestError,
    TxRequest,
)

pytestmark = pytest.mark.unit

TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def request(**changes: Any) -> TxRequest:
    fields: dict[str, Any] = {
        "idempotency_key": "pay-1",
        "to": TO,
        "value": 1,
        "data": b"",
        "gas_limit": None,
    }
    return TxRequest(**(fields | changes))


def test_a_valid_request_comes_back_checksummed() -> None:
    validated = request(to=TO.lower(), value=5, data=b"\x01", gas_limit=21_000).validated()
    assert validated == TxRequest("pay-1", TO, 5, b"\x01", 21_000)


@pytest.mark.parametrize(
    "changes",
    [
        {"idempotency_key": "k"},
        {"idempotency_key": "k" * MAX_KEY_LENGTH},
        {"value": 0},
        {"value": MAX_UINT256},
        {"data": b"\x00" * MAX_DATA_BYTES},
        {"gas_limit": 21_000},
        {"gas_limit": 30_000_000},
        {"to": TO.upper().replace("0X", "0x")},
        {"to": None, "data": b"\x60\x00"},
    ],
)
def test_the_bounds_are_inclusive(changes: dict[str, Any]) -> None:
    request(**changes).validated()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"idempotency_key": ""}, "idempotency key"),
        ({"idempotency_key": "k" * (MAX_KEY_LENGTH + 1)}, "idempotency key"),
        ({"value": -1}, "between 0"),
        ({"value": MAX_UINT256 + 1}, "between 0"),
        ({"value": True}, "whole number"),
        ({"value": False}, "whole number"),
        ({"value": 1.0}, "whole number"),
        ({"value": 1.5}, "whole number"),
        ({"value": "1"}, "whole number"),
        ({"data": b"\x00" * (MAX_DATA_BYTES + 1)}, "calldata"),
        ({"gas_limit": 20_999}, "gas limit"),
        ({"gas_limit": 30_000_001}, "gas limit"),
        ({"gas_limit": 0}, "gas limit"),
        ({"gas_limit": -21_000}, "gas limit"),
        ({"gas_limit": True}, "gas limit"),
        ({"to": None, "data": b""}, "needs code"),
    ],
)
def test_invalid_requests_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message) as info:
        request(**changes).validated()
    assert isinstance(info.value, ValueError)
    assert info.value.code == "invalid_request"


@pytest.mark.parametrize("gas_limit", [21_000.5, 50_000.0])
def test_a_fractional_gas_limit_is_refused(gas_limit: float) -> None:
    with pytest.raises(InvalidRequestError):
        request(gas_limit=gas_limit).validated()


@pytest.mark.parametrize(
    "to",
    [
        "",
        "0x",
        "0x1234",
        TO[2:],
        TO + "00",
        TO[:-1] + "g",
        " " + TO,
        "0x70997970c51812dc3A010C7d01b50e0d17dc79C8",  # one letter's case changed: checksum fails
    ],
)
def test_a_bad_recipient_is_an_address_error(to: str) -> None:
    with pytest.raises(InvalidAddressError):
        request(to=to).validated()


def test_checks_run_before_the_address_is_looked_at() -> None:
    with pytest.raises(InvalidRequestError):
        request(idempotency_key="", to="0x1234").validated()


@given(st.binary(min_size=20, max_size=20), st.integers(min_value=0, max_value=MAX_UINT256))
def test_validation_is_idempotent_and_normalizes_any_spelling(raw: bytes, value: int) -> None:
    checksummed = to_checksum_address(raw)
    for spelling in (checksummed, checksummed.lower(), "0x" + checksummed[2:].upper()):
        once = request(to=spelling, value=value).validated()
        assert once.to == checksummed
        assert once.validated() == once


@given(st.integers())
def test_values_outside_uint256_are_refused_and_inside_accepted(value: int) -> None:
    if 0 <= value <= MAX_UINT256:
        assert request(value=value).validated().value == value
    else:
        with pytest.raises(InvalidRequestError):
            request(value=value).validated()


def test_same_as_compares_recipient_value_and_data() -> None:
    stored = request(value=5, data=b"\x01")
    assert stored.same_as(TO, 5, b"\x01")
    assert stored.same_as(TO.lower(), 5, b"\x01")
    assert not stored.same_as(TO, 6, b"\x01")
    assert not stored.same_as(TO, 5, b"\x02")
    assert not stored.same_as(TO, 5, b"")
    assert not stored.same_as("0x" + "11" * 20, 5, b"\x01")
    assert not stored.same_as(None, 5, b"\x01")


def test_same_as_for_a_contract_creation() -> None:
    creation = request(to=None, value=0, data=b"\x60\x00")
    assert creation.same_as(None, 0, b"\x60\x00")
    assert not creation.same_as(TO, 0, b"\x60\x00")


def test_same_as_ignores_the_gas_limit() -> None:
    assert request(gas_limit=50_000).same_as(TO, 1, b"")
