"""The value-moving tools through the MCP SDK's in-memory client, against a fresh anvil: nothing moves
on the first call, a handle sends exactly one transaction once, and every refusal sends nothing."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from mcp_servers.confirmations import ConfirmationHandles
from mcp_servers.policy import PolicyConfig, TokenCaps
from tests.support.sending_rig import CHAIN_ID, KEY, ONE, PRINCIPAL, SECRET, SENDER, policy, recipient, rig
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import deploy_devnet_contracts
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_tools_are_marked_destructive(reader: ChainReader, outbox: SqliteOutbox) -> None:
    async with rig(reader, outbox, policy()) as r:
        tools = {tool.name: tool for tool in (await r.client.list_tools()).tools}
    for name in ("prepare_transfer", "confirm_transfer"):
        hints = tools[name].annotations
        assert hints is not None
        assert hints.destructive_hint is True
        assert hints.read_only_hint is False
        assert hints.idempotent_hint is False
    assert "send_signed_transfer" not in tools


async def test_prepare_sends_nothing_and_confirm_sends_exactly_once(
    reader: ChainReader, outbox: SqliteOutbox
) -> None:
    to = recipient(1)
    async with rig(reader, outbox, policy()) as r:
        before = await r.nonce()
        prepared = await r.call("prepare_transfer", to=to.lower(), amount="0.25", asset="0G")
        summary = prepared["summary"]
        assert summary["chain_id"] == CHAIN_ID
        assert summary["network"] == "devnet"
        assert summary["from"] == SENDER
        assert summary["to"] == to
        assert (summary["asset"], summary["amount"], summary["amount_base_units"]) == (
            "0G",
            "0.25",
            str(ONE // 4),
        )
        assert int(summary["max_total_fee"]) == summary["gas_limit"] * int(summary["fee_cap_neuron"])
        assert 0 < prepared["expires_in_s"] <= 120
        assert prepared["unsigned_tx"] is None
        assert await r.nonce() == before
        assert await reader.balance(to) == 0

        sent = await r.call("confirm_transfer", handle=prepared["handle"])
        mined = await r.call("wait_for_transaction", tx_hash=sent["tx_hash"], timeout_s=30)
        assert mined["status"] == "success"
        assert await reader.balance(to) == ONE // 4
        assert await r.nonce() == before + 1

        assert await r.refused("confirm_transfer", handle=prepared["handle"]) == "confirmation_used"
        assert await r.nonce() == before + 1
        assert await reader.balance(to) == ONE // 4


async def test_expired_handle_sends_nothing(reader: ChainReader, outbox: SqliteOutbox) -> None:
    async with rig(reader, outbox, policy()) as r:
        prepared = await r.call("prepare_transfer", to=recipient(2), amount="0.1")
        r.clock.now += 120
        assert await r.refused("confirm_transfer", handle=prepared["handle"]) == "confirmation_expired"
        assert await r.nonce() == 0
        assert await reader.balance(recipient(2)) == 0


async def test_handles_are_bound_to_transaction_principal_and_secret(
    reader: ChainReader, outbox: SqliteOutbox
) -> None:
    async with rig(reader, outbox, policy()) as r:
        small = await r.call("prepare_transfer", to=recipient(3), amount="0.1")
        large = await r.call("prepare_transfer", to=recipient(4), amount="0.9")
        opened_small = r.handles.open(small["handle"])
        opened_large = r.handles.open(large["handle"])
        # The 0.1 transfer's sealed terms, bound to the digest of the 0.9 one: refused, not sent.
        swapped = r.handles.mint(PRINCIPAL, opened_large.tx_digest, opened_small.summary)
        assert await r.refused("confirm_transfer", handle=swapped) == "confirmation_mismatch"
        someone_else = r.handles.mint("mallory", opened_small.tx_digest, opened_small.summary)
        assert await r.refused("confirm_transfer", handle=someone_else) == "confirmation_mismatch"
        foreign = ConfirmationHandles(bytes(32), clock=r.clock).mint(
            PRINCIPAL, opened_small.tx_digest, opened_small.summary
        )
        assert await r.refused("confirm_transfer", handle=foreign) == "confirmation_invalid"
        other_purpose = ConfirmationHandles(SECRET, clock=r.clock, purpose="storage").mint(
            PRINCIPAL, opened_small.tx_digest, opened_small.summary
        )
        assert await r.refused("confirm_transfer", handle=other_purpose) == "confirmation_invalid"
        assert await r.refused("confirm_transfer", handle="not-a-handle") == "confirmation_invalid"
        assert await r.nonce() == 0
        # None of the refusals burned the genuine handle.
        await r.call("confirm_transfer", handle=small["handle"])
        assert await r.nonce() == 1


@pytest.mark.parametrize(
    ("config", "amount", "to", "code"),
    [
        (policy(), "1.5", recipient(5), "per_tx_cap"),
        (policy(recipient_allowlist=frozenset({recipient(6)})), "0.1", recipient(5), "recipient_not_allowed"),
        (policy(max_fee_per_gas=1), "0.1", recipient(5), "fee_per_gas_cap"),
        (policy(max_total_fee=21_000), "0.1", recipient(5), "total_fee_cap"),
    ],
)
async def test_policy_refusals_sign_nothing(
    reader: ChainReader, outbox: SqliteOutbox, config: PolicyConfig, amount: str, to: str, code: str
) -> None:
    async with rig(reader, outbox, config) as r:
        assert await r.refused("prepare_transfer", to=to, amount=amount) == code
        assert await r.nonce() == 0
    assert await outbox.get("prepare") is None


async def test_daily_cap_is_checked_again_at_confirmation(reader: ChainReader, outbox: SqliteOutbox) -> None:
    async with rig(reader, outbox, policy()) as r:
        first = await r.call("prepare_transfer", to=recipient(7), amount="0.8")
        second = await r.call("prepare_transfer", to=recipient(8), amount="0.8")
        await r.call("confirm_transfer", handle=first["handle"])
        # 0.8 + 0.8 exceeds the 1.5 daily cap, though each was allowed when prepared.
        assert await r.refused("confirm_transfer", handle=second["handle"]) == "daily_cap"
        assert await r.nonce() == 1
        assert await r.refused("prepare_transfer", to=recipient(8), amount="0.8") == "daily_cap"


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"to": "0x1234", "amount": "1"}, "invalid_address"),
        ({"to": recipient(1).lower()[:-1] + "g", "amount": "1"}, "invalid_address"),
        ({"to": recipient(1), "amount": "-1"}, "invalid_amount"),
        ({"to": recipient(1), "amount": "0"}, "invalid_amount"),
        ({"to": recipient(1), "amount": "0.0000000000000000001"}, "invalid_amount"),
        ({"to": recipient(1), "amount": "1e-3"}, "invalid_amount"),
        ({"to": recipient(1), "amount": "1", "asset": "BTC"}, "unknown_asset"),
        ({"to": recipient(1), "amount": "1", "asset": recipient(2)}, "unknown_asset"),
    ],
)
async def test_bad_input_is_refused_with_a_code(
    reader: ChainReader, outbox: SqliteOutbox, arguments: dict[str, str], code: str
) -> None:
    async with rig(reader, outbox, policy()) as r:
        assert await r.refused("prepare_transfer", **arguments) == code
        assert await r.nonce() == 0


async def test_erc20_transfer(node: AnvilNode, reader: ChainReader, outbox: SqliteOutbox) -> None:
    contracts = await deploy_devnet_contracts(node.rpc_url, SENDER)
    token = contracts.test_token
    config = policy(tokens=(TokenCaps(address=token, per_tx=100 * 10**6, per_24h=200 * 10**6),))
    to = recipient(9)
    async with rig(reader, outbox, config) as r:
        before = await r.nonce()
        assert (
            await r.refused("prepare_transfer", to=to, amount="12.0000001", asset=token) == "invalid_amount"
        )
        assert await r.refused("prepare_transfer", to=to, amount="101", asset=token) == "per_tx_cap"
        prepared = await r.call("prepare_transfer", to=to, amount="12.5", asset=token)
        summary = prepared["summary"]
        assert (summary["asset"], summary["symbol"], summary["amount"]) == (token, "TUSD", "12.5")
        assert summary["amount_base_units"] == str(12_500_000)
        sent = await r.call("confirm_transfer", handle=prepared["handle"])
        mined = await r.call("wait_for_transaction", tx_hash=sent["tx_hash"], timeout_s=30)
        assert mined["status"] == "success"
        assert await reader.token_balance(token, to) == 12_500_000
        assert await r.nonce() == before + 1


def sign(unsigned: dict[str, Any]) -> str:
    tx: dict[str, Any] = {
        key: (int(value, 16) if key not in ("to", "data") else value) for key, value in unsigned.items()
    }
    signed = Account.sign_transaction(tx, KEY)
    return "0x" + bytes(signed.raw_transaction).hex()


async def test_non_custodial_accepts_only_the_prepared_transaction(
    reader: ChainReader, outbox: SqliteOutbox
) -> None:
    async with rig(reader, outbox, policy(), custodial=False) as r:
        tools = {tool.name for tool in (await r.client.list_tools()).tools}
        assert "confirm_transfer" not in tools
        assert "send_signed_transfer" in tools
        wanted = await r.call("prepare_transfer", to=recipient(10), amount="0.3")
        other = await r.call("prepare_transfer", to=recipient(11), amount="0.9")
        assert wanted["unsigned_tx"]["to"] == recipient(10)
        # The wallet signed another transfer: refused, nothing sent, the handle still valid.
        code = await r.refused(
            "send_signed_transfer", handle=wanted["handle"], signed_tx_hex=sign(other["unsigned_tx"])
        )
        assert code == "signature_mismatch"
        assert (
            await r.refused("send_signed_transfer", handle=wanted["handle"], signed_tx_hex="0xzz")
            == "invalid_signed_tx"
        )
        assert await r.nonce() == 0
        sent = await r.call(
            "send_signed_transfer", handle=wanted["handle"], signed_tx_hex=sign(wanted["unsigned_tx"])
        )
        mined = await r.call("wait_for_transaction", tx_hash=sent["tx_hash"], timeout_s=30)
        assert mined["status"] == "success"
        assert await reader.balance(recipient(10)) == 3 * ONE // 10
        again = await r.refused(
            "send_signed_transfer", handle=wanted["handle"], signed_tx_hex=sign(wanted["unsigned_tx"])
        )
        assert again == "confirmation_used"
        assert await r.nonce() == 1
