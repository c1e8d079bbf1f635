from __future__ import annotations

import pytest

from zerog_client import InvalidAddressError, normalize_address

pytestmark = pytest.mark.unit

CHECKSUMMED = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.mark.parametrize("text", [CHECKSUMMED, CHECKSUMMED.lower(), "0x" + CHECKSUMMED[2:].upper()])
def test_valid_forms_normalize_to_the_checksum(text: str) -> None:
    assert normalize_address(text) == CHECKSUMMED


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0x",
        "0x1234",
        CHECKSUMMED[:-1],
        CHECKSUMMED + "0",
        "70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0xZZ" + "0" * 38,
    ],
)
def test_malformed_addresses_are_rejected(text: str) -> None:
    with pytest.raises(InvalidAddressError) as err:
        normalize_address(text)
    assert err.value.code == "invalid_address"


def test_a_wrong_checksum_is_rejected() -> None:
    wrong = CHECKSUMMED.replace("C51812", "c51812")
    with pytest.raises(InvalidAddressError, match="checksum"):
        normalize_address(wrong)
