"""Batch transfers through the MCP SDK's in-memory client, against a fresh anvil: one handle sends every
line exactly once; the policy sees the batch as the sum of its lines; every refusal sends nothing."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_servers.policy import AssetCaps, TokenCaps
from tests.support.sending_rig import ONE, PRINCIPAL, SENDER, policy, recipient, rig
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import deploy_devnet_contracts
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def lines(*pairs: tuple[int, str]) -> list[dict[str, str]]:
    return [{"to": recipient(i), "amount": amount} for i, amount in pairs]


async def test_batch_tools_are_destructive_and_only_custodial(
    reader: ChainReader, outbox: SqliteOutbox
) -> None:
    async with rig(reader, outbox, policy()) as r:
        tools = {tool.name: tool for tool in (await r.client.list_tools()).tools}
    for name in ("prepare_batch_transfer", "confirm_batch_transfer"):
        hints = tools[name].annotations
        assert hints is not None
        assert (hints.destructive_hint, hints.read_only_hint) == (True, False)
    async with rig(reader, outbox, policy(), custodial=False) as r:
        names = {tool.name for tool in (await r.client.list_tools()).tools}
    assert not names & {"prepare_batch_transfer", "confirm_batch_transfer"}


async def test_one_confirmation_sends_every_line_once(reader: ChainReader, outbox: SqliteOutbox) -> None:
    async with rig(reader, outbox, policy()) as r:
        start = await r.nonce()
        prepared = await r.call(
            "prepare_batch_transfer", transfers=lines((20, "0.1"), (21, "0.25"), (22, "0.05"))
        )
        summary = prepared["summary"]
        assert [(line["to"], line["amount"]) for line in summary["transfers"]] == [
            (recipient(20), "0.1"),
            (recipient(21), "0.25"),
            (recipient(22), "0.05"),
        ]
        assert (summary["asset"], summary["total_amount"]) == ("0G", "0.4")
        gas = sum(line["gas_limit"] for line in summary["transfers"])
        assert int(summary["max_total_fee"]) == gas * int(summary["fee_cap_neuron"])
        assert await r.nonce() == start  # nothing sent yet
        sent = await r.call("confirm_batch_transfer", handle=prepared["handle"])
        assert [line["to"] for line in sent["transfers"]] == [recipient(i) for i in (20, 21, 22)]
        for line in sent["transfers"]:
            mined = await r.call("wait_for_transaction", tx_hash=line["tx_hash"], timeout_s=30)
            assert mined["status"] == "success"
        assert await r.refused("confirm_batch_transfer", handle=prepared["handle"]) == "confirmation_used"
        assert await r.nonce() == start + 3
    assert [await reader.balance(recipient(i)) for i in (20, 21, 22)] == [ONE // 10, ONE // 4, ONE // 20]


async def test_the_daily_cap_counts_the_whole_batch(reader: ChainReader, outbox: SqliteOutbox) -> None:
    # Each line is under the 1 0G per-transaction cap; together they pass the 1.5 0G daily cap.
    async with rig(reader, outbox, policy()) as r:
        code = await r.refused("prepare_batch_transfer", transfers=lines((23, "0.9"), (24, "0.9")))
        assert code == "daily_cap"
        assert await r.refused("prepare_batch_transfer", transfers=lines((23, "1.1"))) == "per_tx_cap"
        # Allowed when prepared, but a single transfer sent meanwhile uses up the day's allowance.
        batch = await r.call("prepare_batch_transfer", transfers=lines((23, "0.4"), (24, "0.4")))
        single = await r.call("prepare_transfer", to=recipient(25), amount="0.9")
        await r.call("confirm_transfer", handle=single["handle"])
        assert await r.refused("confirm_batch_transfer", handle=batch["handle"]) == "daily_cap"
        assert await r.nonce() == 1
    assert await reader.balance(recipient(23)) == 0


async def test_handles_do_not_cross_between_single_and_batch(
    reader: ChainReader, outbox: SqliteOutbox
) -> None:
    async with rig(reader, outbox, policy()) as r:
        batch = await r.call("prepare_batch_transfer", transfers=lines((26, "0.1")))
        single = await r.call("prepare_transfer", to=recipient(26), amount="0.1")
        assert await r.refused("confirm_transfer", handle=batch["handle"]) == "confirmation_invalid"
        assert await r.refused("confirm_batch_transfer", handle=single["handle"]) == "confirmation_invalid"
        # A batch's terms sealed under another batch's digest: refused.
        other = await r.call("prepare_batch_transfer", transfers=lines((26, "0.2")))
        opened, opened_other = r.handles.open(batch["handle"]), r.handles.open(other["handle"])
        swapped = r.handles.mint(PRINCIPAL, opened_other.tx_digest, opened.summary)
        assert await r.refused("confirm_batch_transfer", handle=swapped) == "confirmation_mismatch"
        r.clock.now += 120
        assert await r.refused("confirm_batch_transfer", handle=batch["handle"]) == "confirmation_expired"
        assert await r.nonce() == 0


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"transfers": lines((27, "0.1"), (27, "0.2"))}, "duplicate_recipient"),
        ({"transfers": [{"to": "0x1234", "amount": "0.1"}]}, "invalid_address"),
        ({"transfers": lines((27, "0.1"), (28, "-1"))}, "invalid_amount"),
        ({"transfers": lines((27, "0"))}, "invalid_amount"),
        ({"transfers": lines((27, "0.1")), "asset": "BTC"}, "unknown_asset"),
        ({"transfers": lines((27, "9000"))}, "per_tx_cap"),
    ],
)
async def test_bad_batches_are_refused_with_a_code(
    reader: ChainReader, outbox: SqliteOutbox, arguments: dict[str, Any], code: str
) -> None:
    async with rig(reader, outbox, policy()) as r:
        assert await r.refused("prepare_batch_transfer", **arguments) == code
        assert await r.nonce() == 0


@pytest.mark.parametrize(
    "arguments",
    [
        {"transfers": []},
        {"transfers": lines(*((30 + i, "0.01") for i in range(21)))},
        {"transfers": [{"to": recipient(27)}]},
        {"transfers": [{"to": recipient(27), "amount": "0.1", "memo": "x"}]},
        {"transfers": "everyone"},
    ],
)
async def test_malformed_batches_fail_validation(
    reader: ChainReader, outbox: SqliteOutbox, arguments: dict[str, Any]
) -> None:
    async with rig(reader, outbox, policy()) as r:
        result = await r.client.call_tool("prepare_batch_transfer", arguments)
        assert result.is_error
        assert await r.nonce() == 0


async def test_a_batch_larger_than_the_balance_is_refused(reader: ChainReader, outbox: SqliteOutbox) -> None:
    config = policy(native=AssetCaps(per_tx=9_000 * ONE, per_24h=30_000 * ONE))
    async with rig(reader, outbox, config) as r:
        # Each line fits the 10,000 0G balance alone; together they do not.
        code = await r.refused("prepare_batch_transfer", transfers=lines((40, "6000"), (41, "6000")))
        assert code == "insufficient_funds"
        assert await r.nonce() == 0


async def test_erc20_batch(node: AnvilNode, reader: ChainReader, outbox: SqliteOutbox) -> None:
    contracts = await deploy_devnet_contracts(node.rpc_url, SENDER)
    token = contracts.test_token
    config = policy(tokens=(TokenCaps(address=token, per_tx=100 * 10**6, per_24h=200 * 10**6),))
    async with rig(reader, outbox, config) as r:
        start = await r.nonce()
        prepared = await r.call(
            "prepare_batch_transfer", transfers=lines((42, "1.5"), (43, "2")), asset=token
        )
        assert (prepared["summary"]["symbol"], prepared["summary"]["total_amount"]) == ("TUSD", "3.5")
        sent = await r.call("confirm_batch_transfer", handle=prepared["handle"])
        for line in sent["transfers"]:
            await r.call("wait_for_transaction", tx_hash=line["tx_hash"], timeout_s=30)
        assert await r.nonce() == start + 2
        assert (
            await r.refused(
                "prepare_batch_transfer", transfers=lines((42, "99"), (43, "99"), (44, "3")), asset=token
            )
            == "daily_cap"
        )
    assert [await reader.token_balance(token, recipient(i)) for i in (42, 43)] == [1_500_000, 2_000_000]
