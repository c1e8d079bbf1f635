"""Confirmation handles: sealed, bound to one principal and one transaction, short-lived, single use."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from mcp_servers.confirmations import (
    MAX_TTL_S,
    ConfirmationExpired,
    ConfirmationHandles,
    ConfirmationInvalid,
    ConfirmationMismatch,
    ConfirmationUsed,
    InMemoryHandleLedger,
    InMemorySpendLedger,
    spend_state,
)
from mcp_servers.policy import NATIVE_ASSET
from zerog_client.tx.unsigned import UnsignedTx

pytestmark = pytest.mark.unit

SECRET = bytes(range(32))
ALICE = "user:alice"
BOB_ADDRESS = "0x" + "b0" * 20
T0 = 1_700_000_000.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tx(value: int = 10**18, to: str = BOB_ADDRESS) -> UnsignedTx:
    return UnsignedTx(16602, 7, to, value, b"", 21_000, max_fee_per_gas=10**9, max_priority_fee_per_gas=10**8)


DIGEST = tx().digest()
SUMMARY = {"to": BOB_ADDRESS, "amount": "1", "symbol": "0G"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(clock: FakeClock) -> InMemoryHandleLedger:
    # The ledger purges by its own clock, so it must share the test's clock (as replicas share time).
    return InMemoryHandleLedger(clock)


@pytest.fixture
def handles(clock: FakeClock) -> ConfirmationHandles:
    return ConfirmationHandles(SECRET, ttl_s=120, clock=clock)


@pytest.mark.anyio
async def test_round_trip(handles: ConfirmationHandles) -> None:
    handle = handles.mint(ALICE, DIGEST, SUMMARY)
    confirmation = await handles.redeem(handle, ALICE, DIGEST, InMemoryHandleLedger())
    assert confirmation.principal == ALICE
    assert confirmation.tx_digest == DIGEST
    assert confirmation.summary == SUMMARY
    assert confirmation.expires_at == T0 + 120


@pytest.mark.anyio
async def test_a_replica_with_the_same_secret_redeems_it(clock: FakeClock) -> None:
    minted = ConfirmationHandles(SECRET, clock=clock).mint(ALICE, DIGEST, SUMMARY)
    other = ConfirmationHandles(SECRET, clock=clock)
    await other.redeem(minted, ALICE, DIGEST, InMemoryHandleLedger())


@pytest.mark.anyio
async def test_every_tampered_byte_is_invalid(handles: ConfirmationHandles) -> None:
    handle = handles.mint(ALICE, DIGEST, SUMMARY)
    raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
    for index in range(len(raw)):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        with pytest.raises(ConfirmationInvalid) as caught:
            await handles.redeem(forged, ALICE, DIGEST, InMemoryHandleLedger())
        assert caught.value.code == "confirmation_invalid"


@pytest.mark.anyio
@pytest.mark.parametrize("garbage", ["", "x", "!!!!", "A" * 64, "A" * 10_000, "é"])
async def test_garbage_is_invalid(handles: ConfirmationHandles, garbage: str) -> None:
    with pytest.raises(ConfirmationInvalid):
        await handles.redeem(garbage, ALICE, DIGEST, InMemoryHandleLedger())


@pytest.mark.anyio
async def test_another_secret_or_purpose_is_invalid(clock: FakeClock, handles: ConfirmationHandles) -> None:
    handle = handles.mint(ALICE, DIGEST, SUMMARY)
    with pytest.raises(ConfirmationInvalid):
        await ConfirmationHandles(bytes(32), clock=clock).redeem(
            handle, ALICE, DIGEST, InMemoryHandleLedger()
        )
    with pytest.raises(ConfirmationInvalid):
        await ConfirmationHandles(SECRET, clock=clock, purpose="approve").redeem(
            handle, ALICE, DIGEST, InMemoryHandleLedger()
        )


@pytest.mark.anyio
async def test_expiry_boundary(clock: FakeClock, handles: ConfirmationHandles) -> None:
    early = handles.mint(ALICE, DIGEST, SUMMARY)
    late = handles.mint(ALICE, DIGEST, SUMMARY)
    ledger = InMemoryHandleLedger(clock)
    clock.now = T0 + 119.999
    await handles.redeem(early, ALICE, DIGEST, ledger)
    clock.now = T0 + 121
    with pytest.raises(ConfirmationExpired) as caught:
        await handles.redeem(late, ALICE, DIGEST, ledger)
    assert caught.value.code == "confirmation_expired"


@pytest.mark.anyio
async def test_another_principal_is_a_mismatch_and_does_not_burn_the_handle(
    handles: ConfirmationHandles,
) -> None:
    handle = handles.mint(ALICE, DIGEST, SUMMARY)
    ledger = InMemoryHandleLedger()
    with pytest.raises(ConfirmationMismatch) as caught:
        await handles.redeem(handle, "user:mallory", DIGEST, ledger)
    assert caught.value.code == "confirmation_mismatch"
    await handles.redeem(handle, ALICE, DIGEST, ledger)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "changed",
    [
        tx(value=10**18 + 1),
        tx(to="0x" + "ca" * 20),
        dataclasses.replace(tx(), nonce=8),
        dataclasses.replace(tx(), max_fee_per_gas=2 * 10**9),
        dataclasses.replace(tx(), data=b"\x00"),
    ],
    ids=["amount", "recipient", "nonce", "fee", "data"],
)
async def test_another_transaction_is_a_mismatch(handles: ConfirmationHandles, changed: UnsignedTx) -> None:
    handle = handles.mint(ALICE, DIGEST, SUMMARY)
    with pytest.raises(ConfirmationMismatch):
        await handles.redeem(handle, ALICE, changed.digest(), InMemoryHandleLedger())


@pytest.mark.anyio
async def test_a_second_redeem_is_refused(handles: ConfirmationHandles, ledger: InMemoryHandleLedger) -> None:
    handle = handles.mint(ALICE, DIGEST, SUMMARY)
    await handles.redeem(handle, ALICE, DIGEST, ledger)
    with pytest.raises(ConfirmationUsed) as caught:
        await handles.redeem(handle, ALICE, DIGEST, ledger)
    assert caught.value.code == "confirmation_used"


@pytest.mark.parametrize("ttl", [MAX_TTL_S + 0.001, 121, 600, 0, -1, float("inf"), float("nan")])
def test_lifetimes_outside_0_to_120_s_are_refused(ttl: float) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        ConfirmationHandles(SECRET, ttl_s=ttl)


def test_the_secret_must_be_256_bits() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ConfirmationHandles(SECRET[:16])


def test_handles_are_distinct_and_carry_at_least_128_random_bits(handles: ConfirmationHandles) -> None:
    minted = [handles.mint(ALICE, DIGEST, SUMMARY) for _ in range(200)]
    assert len(set(minted)) == len(minted)
    ids = [handles.open(handle).handle_id for handle in minted]
    assert len(set(ids)) == len(ids)
    assert all(len(bytes.fromhex(handle_id)) * 8 >= 128 for handle_id in ids)


def test_handles_are_url_safe_and_reveal_neither_secret_nor_contents(handles: ConfirmationHandles) -> None:
    handle = handles.mint(ALICE, DIGEST, SUMMARY)
    assert set(handle) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
    assert ALICE.encode() not in raw
    assert SECRET not in raw
    assert SECRET.hex() not in repr(handles)


def test_a_summary_that_is_not_small_json_is_refused(handles: ConfirmationHandles) -> None:
    with pytest.raises(ValueError, match="JSON"):
        handles.mint(ALICE, DIGEST, {"x": object()})
    with pytest.raises(ValueError, match="limited"):
        handles.mint(ALICE, DIGEST, {"x": "a" * 5000})


@pytest.mark.anyio
async def test_spend_state_sums_the_rolling_window_per_asset() -> None:
    ledger = InMemorySpendLedger()
    token = "0x" + "70" * 20
    await ledger.record(ALICE, NATIVE_ASSET, 5, at=T0 - 86_400)  # exactly 24 h ago: still inside
    await ledger.record(ALICE, NATIVE_ASSET, 7, at=T0 - 86_401)  # just outside
    await ledger.record(ALICE, NATIVE_ASSET, 11, at=T0)
    await ledger.record(ALICE, token.upper().replace("0X", "0x"), 13, at=T0)
    await ledger.record("user:bob", NATIVE_ASSET, 17, at=T0)
    state = await spend_state(ledger, ALICE, [NATIVE_ASSET, token], now=T0)
    assert state.spent(NATIVE_ASSET) == 16
    assert state.spent(token) == 13
