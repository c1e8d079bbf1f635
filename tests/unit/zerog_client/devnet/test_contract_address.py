"""CREATE addresses: our hand-rolled RLP against the rlp package, and the documented devnet constants."""

from __future__ import annotations

import pytest
import rlp
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from zerog_client import InvalidAddressError
from zerog_client.devnet.contracts import (
    DEVNET_PRICE_PER_SECTOR,
    FRESH_DEVNET_DEPLOYER,
    FRESH_DEVNET_FLOW,
    FRESH_DEVNET_MARKET,
    FRESH_DEVNET_MULTICALL3,
    FRESH_DEVNET_TEST_TOKEN,
    DevnetContracts,
    contract_address,
    devnet_contract_addresses,
    market_price_per_sector,
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
    assert contract_address(FRESH_DEVNET_DEPLOYER, 2) == FRESH_DEVNET_FLOW
    # The flow creates the market in its constructor, as its first contract (its nonce 1).
    assert contract_address(FRESH_DEVNET_FLOW, 1) == FRESH_DEVNET_MARKET


def test_layout_of_a_fresh_devnet_and_of_a_later_deployment() -> None:
    assert devnet_contract_addresses(1_660_999, FRESH_DEVNET_DEPLOYER.lower()) == DevnetContracts(
        chain_id=1_660_999,
        deployer=FRESH_DEVNET_DEPLOYER,
        multicall3=FRESH_DEVNET_MULTICALL3,
        test_token=FRESH_DEVNET_TEST_TOKEN,
        flow=FRESH_DEVNET_FLOW,
        market=FRESH_DEVNET_MARKET,
    )
    later = devnet_contract_addresses(7, FRESH_DEVNET_DEPLOYER, first_nonce=5)
    assert (later.multicall3, later.test_token, later.flow) == tuple(
        contract_address(FRESH_DEVNET_DEPLOYER, n) for n in (5, 6, 7)
    )
    assert later.market == contract_address(later.flow, 1)


def test_market_price_follows_the_deployment_formula() -> None:
    # SPEC §1.4: the turbo default, the standard network's and the contracts repo's local config.
    assert DEVNET_PRICE_PER_SECTOR == market_price_per_sector(12, 33) == 30_733_644_962
    assert market_price_per_sector(12, 24) == 22_351_741_790
    assert market_price_per_sector(3, 1) == 3 * 10**18 // 2**30 // 12


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        contract_address(FRESH_DEVNET_DEPLOYER, -1)
    with pytest.raises(InvalidAddressError):
        contract_address("0x1234", 0)
