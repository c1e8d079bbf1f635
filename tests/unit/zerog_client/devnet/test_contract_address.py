"""CREATE addresses: our hand-rolled RLP against the rlp package, and the documented devnet constants."""

from __future__ import annotations

import pytest
import rlp
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from zerog_client import InvalidAddressError
from zerog_client.devnet.contracts import (
    FRESH_DEVNET_DEPLOYER,
    FRESH_DEVNET_MULTICALL3,
    FRESH_DEVNET_TEST_TOKEN,
    contract_address,
)

pytestmark = pytest.mark.unit


def reference_address(deployer: str, nonce: int) -> str:
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(deployer[2:]), nonce]))[-20:])


@pytest.mark.parametrize("nonce", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 2**32, 2**64 - 1])
def test_matches_rlp_reference(nonce: int) -> None:
    for deployer in (FRESH_DEVNET_DEPLOYER, "0x" + "00" * 20, "0x" + "ff" * 20):
        assert contract_address(deployer, nonce) == reference_address(deployer, nonce)


def test_fresh_devnet_constants_follow_from_account_zero() -> None:
    assert contract_address(FRESH_DEVNET_DEPLOYER, 0) == FRESH_DEVNET_MULTICALL3
    assert contract_address(FRESH_DEVNET_DEPLOYER, 1) == FRESH_DEVNET_TEST_TOKEN


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        contract_address(FRESH_DEVNET_DEPLOYER, -1)
    with pytest.raises(InvalidAddressError):
        contract_address("0x1234", 0)
