"""The policy engine: each rule at its boundary, and properties over random amounts and calldata."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mcp_servers.policy import (
    MAX_UINT256,
    NATIVE_ASSET,
    SELECTOR_APPROVE,
    SELECTOR_INCREASE_ALLOWANCE,
    SELECTOR_SET_APPROVAL_FOR_ALL,
    SELECTOR_TRANSFER,
    AssetCaps,
    PolicyConfig,
    SpendState,
    TokenCaps,
    TransferIntent,
    asset_of,
    evaluate,
)
from zerog_client.tx.unsigned import UnsignedTx

pytestmark = pytest.mark.unit

CHAIN = 16602
ALICE = "user:alice"
BOB = "0x" + "b0" * 20
CAROL = "0x" + "ca" * 20
TOKEN = "0x" + "70" * 20
OTHER_TOKEN = "0x" + "71" * 20
ETHER = 10**18
GWEI = 10**9

CONFIG = PolicyConfig(
    chain_ids=frozenset({CHAIN}),
    native=AssetCaps(per_tx=1 * ETHER, per_24h=3 * ETHER),
    tokens=(TokenCaps(address=TOKEN, per_tx=100, per_24h=250),),
    max_fee_per_gas=100 * GWEI,
    max_total_fee=21_000 * 100 * GWEI,
)
ALLOWLISTED = CONFIG.model_copy(update={"recipient_allowlist": frozenset({BOB})})
EMPTY = SpendState(ALICE)


def native(value: int = ETHER, **changes: Any) -> TransferIntent:
    intent = TransferIntent(
        principal=ALICE,
        chain_id=CHAIN,
        tx_type=2,
        to=BOB,
        value=value,
        data=b"",
        gas=21_000,
        max_fee_per_gas=10 * GWEI,
    )
    return dataclasses.replace(intent, **changes)


def call(selector: bytes, first: str, second: int, *, token: str = TOKEN, **changes: Any) -> TransferIntent:
    data = selector + bytes.fromhex(first[2:]).rjust(32, b"\0") + second.to_bytes(32, "big")
    return native(0, to=token, data=data, gas=60_000, max_fee_per_gas=10 * GWEI, **changes)


def transfer(amount: int, to: str = BOB, **changes: Any) -> TransferIntent:
    return call(SELECTOR_TRANSFER, to, amount, **changes)


def spent(native_spent: int = 0, token_spent: int = 0) -> SpendState:
    return SpendState(ALICE, {NATIVE_ASSET: native_spent, TOKEN: token_spent})


def rule(intent: TransferIntent, state: SpendState = EMPTY, config: PolicyConfig = CONFIG) -> str:
    decision = evaluate(intent, state, config)
    return ("allow:" if decision.allowed else "deny:") + decision.rule_id


# --- allow paths -----------------------------------------------------------------------------------


def test_a_native_transfer_within_every_limit_is_allowed() -> None:
    assert rule(native(ETHER)) == "allow:native_transfer"


def test_a_token_transfer_within_its_caps_is_allowed() -> None:
    assert rule(transfer(100)) == "allow:erc20_transfer"


def test_an_intent_built_from_an_unsigned_tx_is_judged_the_same() -> None:
    tx = UnsignedTx(CHAIN, 0, BOB, ETHER, b"", 21_000, max_fee_per_gas=GWEI, max_priority_fee_per_gas=GWEI)
    assert evaluate(TransferIntent.from_unsigned(ALICE, tx), EMPTY, CONFIG).allowed
    legacy = UnsignedTx(CHAIN, 0, BOB, ETHER, b"", 21_000, gas_price=GWEI)
    assert TransferIntent.from_unsigned(ALICE, legacy).tx_type == 0
    assert evaluate(TransferIntent.from_unsigned(ALICE, legacy), EMPTY, CONFIG).allowed


# --- (a) chain ------------------------------------------------------------------------------------


def test_another_chain_is_denied() -> None:
    assert rule(native(chain_id=16661)) == "deny:chain_not_allowed"


# --- (b) caps --------------------------------------------------------------------------------------


def test_native_per_transaction_cap_boundary() -> None:
    assert rule(native(ETHER)) == "allow:native_transfer"
    assert rule(native(ETHER + 1)) == "deny:per_tx_cap"


def test_native_rolling_24h_cap_boundary() -> None:
    assert rule(native(ETHER), spent(native_spent=2 * ETHER)) == "allow:native_transfer"
    assert rule(native(ETHER), spent(native_spent=2 * ETHER + 1)) == "deny:daily_cap"


def test_token_caps_are_their_own() -> None:
    assert rule(transfer(101)) == "deny:per_tx_cap"
    assert rule(transfer(100), spent(token_spent=150)) == "allow:erc20_transfer"
    assert rule(transfer(100), spent(token_spent=151)) == "deny:daily_cap"
    # Native spending does not eat into the token's allowance, nor the reverse.
    assert rule(transfer(100), spent(native_spent=3 * ETHER)) == "allow:erc20_transfer"
    assert rule(native(ETHER), spent(token_spent=250)) == "allow:native_transfer"


def test_a_token_without_caps_is_denied() -> None:
    assert rule(transfer(1, token=OTHER_TOKEN)) == "deny:asset_not_allowed"


def test_spending_of_another_principal_is_refused() -> None:
    assert rule(native(), SpendState("user:mallory")) == "deny:spend_state_mismatch"


@given(excess=st.integers(min_value=1, max_value=MAX_UINT256 - ETHER))
def test_any_native_amount_over_the_cap_is_denied(excess: int) -> None:
    decision = evaluate(native(ETHER + excess), EMPTY, CONFIG)
    assert not decision.allowed
    assert "per_tx_cap" in decision.violations


@given(
    amount=st.integers(min_value=0, max_value=MAX_UINT256),
    already=st.integers(min_value=0, max_value=10**6),
)
def test_token_amounts_are_allowed_exactly_when_within_both_caps(amount: int, already: int) -> None:
    decision = evaluate(transfer(amount), spent(token_spent=already), CONFIG)
    assert decision.allowed == (amount <= 100 and already + amount <= 250)


# --- (d) recipients --------------------------------------------------------------------------------


def test_recipient_allowlist_when_enabled() -> None:
    assert rule(native(to=BOB), config=ALLOWLISTED) == "allow:native_transfer"
    assert rule(native(to=CAROL), config=ALLOWLISTED) == "deny:recipient_not_allowed"
    # For a token transfer the recipient is the decoded argument, not the token contract.
    assert rule(transfer(1, to=BOB), config=ALLOWLISTED) == "allow:erc20_transfer"
    assert rule(transfer(1, to=CAROL), config=ALLOWLISTED) == "deny:recipient_not_allowed"


def test_recipient_allowlist_is_off_by_default() -> None:
    assert rule(native(to=CAROL)) == "allow:native_transfer"


# --- (f) fees --------------------------------------------------------------------------------------


def test_fee_per_gas_cap_boundary() -> None:
    assert rule(native(max_fee_per_gas=100 * GWEI)) == "allow:native_transfer"
    assert rule(native(max_fee_per_gas=100 * GWEI + 1)) == "deny:fee_per_gas_cap"


def test_total_fee_cap_boundary() -> None:
    config = CONFIG.model_copy(update={"max_total_fee": 21_000 * 10 * GWEI})
    assert rule(native(), config=config) == "allow:native_transfer"
    assert rule(native(gas=21_001), config=config) == "deny:total_fee_cap"


# --- (g) approvals, creation, types, unknown calls -------------------------------------------------


def test_approval_of_exactly_the_needed_amount_is_allowed() -> None:
    assert rule(call(SELECTOR_APPROVE, BOB, 50, approval_needed=50)) == "allow:erc20_approve"
    assert rule(call(SELECTOR_INCREASE_ALLOWANCE, BOB, 50, approval_needed=50)) == "allow:erc20_approve"


@pytest.mark.parametrize("selector", [SELECTOR_APPROVE, SELECTOR_INCREASE_ALLOWANCE])
def test_unlimited_or_oversized_approvals_are_denied(selector: bytes) -> None:
    assert rule(call(selector, BOB, MAX_UINT256, approval_needed=MAX_UINT256)) == "deny:unlimited_approval"
    assert rule(call(selector, BOB, 51, approval_needed=50)) == "deny:unlimited_approval"


def test_set_approval_for_all_true_is_denied_and_false_revokes() -> None:
    assert rule(call(SELECTOR_SET_APPROVAL_FOR_ALL, BOB, 1)) == "deny:unlimited_approval"
    assert rule(call(SELECTOR_SET_APPROVAL_FOR_ALL, BOB, 0)) == "allow:revoke_approval"
    assert rule(call(SELECTOR_SET_APPROVAL_FOR_ALL, BOB, 2)) == "deny:unknown_call"


def test_contract_creation_is_denied() -> None:
    assert rule(native(0, to=None, data=b"\x60\x00")) == "deny:contract_creation"


@pytest.mark.parametrize("tx_type", [1, 3, 4, 0x7E])
def test_only_legacy_and_1559_types_are_allowed(tx_type: int) -> None:
    assert rule(native(tx_type=tx_type)) == "deny:tx_type_not_allowed"
    assert rule(native(tx_type=0)) == "allow:native_transfer"


def test_unknown_or_malformed_calldata_is_denied() -> None:
    assert rule(native(0, data=b"\xde\xad\xbe\xef")) == "deny:unknown_call"
    good = transfer(1).data
    assert rule(native(0, to=TOKEN, data=good + b"\0")) == "deny:unknown_call"
    dirty = good[:4] + b"\x01" + good[5:]  # non-zero padding in the address word
    assert rule(native(0, to=TOKEN, data=dirty)) == "deny:unknown_call"


def test_a_token_call_carrying_native_value_is_denied() -> None:
    assert rule(dataclasses.replace(transfer(1), value=1)) == "deny:value_with_call"


@given(data=st.binary(max_size=100), value=st.integers(min_value=0, max_value=MAX_UINT256))
def test_decoding_random_calldata_never_crashes_and_unknown_selectors_are_denied(
    data: bytes, value: int
) -> None:
    decision = evaluate(native(value, to=TOKEN, data=data), EMPTY, CONFIG)
    known = (SELECTOR_TRANSFER, SELECTOR_APPROVE, SELECTOR_INCREASE_ALLOWANCE, SELECTOR_SET_APPROVAL_FOR_ALL)
    if data and data[:4] not in known:
        assert not decision.allowed
        assert decision.rule_id == "unknown_call"


def test_every_violation_is_reported_and_the_first_wins() -> None:
    decision = evaluate(native(ETHER + 1, chain_id=1, max_fee_per_gas=10**12), EMPTY, CONFIG)
    assert not decision.allowed
    assert decision.rule_id == "chain_not_allowed"
    assert {"chain_not_allowed", "fee_per_gas_cap", "total_fee_cap", "per_tx_cap"} <= set(decision.violations)


def test_asset_of_names_what_the_engine_will_need() -> None:
    assert asset_of(native()) == NATIVE_ASSET
    assert asset_of(transfer(1)) == TOKEN
    assert asset_of(native(0, to=None)) is None
    assert asset_of(native(0, data=b"\x00")) is None


# --- configuration -----------------------------------------------------------------------------------


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        CONFIG.max_fee_per_gas = 1


@pytest.mark.parametrize(
    "changes",
    [
        {"chain_ids": frozenset()},
        {"native": {"per_tx": 2, "per_24h": 1}},
        {"native": {"per_tx": -1, "per_24h": 1}},
        {"native": {"per_tx": 1.5, "per_24h": 2}},
        {"native": {"per_tx": 1, "per_24h": MAX_UINT256 + 1}},
        {"max_fee_per_gas": 0},
        {"recipient_allowlist": ["0xnot-an-address"]},
        {"tokens": [{"address": TOKEN, "per_tx": 1, "per_24h": 1}] * 2},
        {"surprise": True},
    ],
)
def test_invalid_configs_are_refused(changes: dict[str, object]) -> None:
    base = CONFIG.model_dump()
    with pytest.raises(ValidationError):
        PolicyConfig.model_validate({**base, **changes})


def test_config_addresses_compare_case_insensitively() -> None:
    checksummed = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    config = CONFIG.model_copy(update={"recipient_allowlist": None})
    config = PolicyConfig.model_validate({**config.model_dump(), "recipient_allowlist": [checksummed]})
    assert rule(native(to=checksummed.lower()), config=config) == "allow:native_transfer"
