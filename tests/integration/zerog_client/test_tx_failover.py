"""The primary RPC endpoint dies in the middle of a run: the pool fails over to the second one and
no transaction is lost or sent twice."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from eth_account import Account

from tests.support.tcp_proxy import TcpProxy
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.tx import LocalSigner, TransactionManager, TxRequest, TxStatus
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN_ID = 1_660_999
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SENDER = Account.from_key(KEY).address
N, CHUNK, KILL_AFTER = 300, 30, 3


def recipient(i: int) -> str:
    return str(Account.from_key((i + 5_000).to_bytes(32, "big")).address)


async def test_the_primary_dies_mid_run_and_nothing_is_lost(node: AnvilNode, tmp_path: Path) -> None:
    target = urlsplit(node.rpc_url)
    outbox = SqliteOutbox(tmp_path / "outbox.db")
    await outbox.open()
    async with (
        TcpProxy(str(target.hostname), int(target.port or 0)) as primary,
        ChainReader([primary.url, node.rpc_url], CHAIN_ID) as reader,
        TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager,
    ):
        keys = []
        for chunk in range(N // CHUNK):
            if chunk == KILL_AFTER:
                used_before = primary.requests
                await primary.stop()  # the primary endpoint dies, connections and all
            batch = [
                TxRequest(f"fo-{i}", recipient(i), 10**12 + i)
                for i in range(chunk * CHUNK, (chunk + 1) * CHUNK)
            ]
            keys += [r.idempotency_key for r in await manager.submit_many(batch)]
        done = await manager.wait(keys, TxStatus.CONFIRMED, timeout_s=60)
        balances = await reader.balances([recipient(i) for i in range(N)])
        sent = await reader.transaction_count(SENDER, "latest")
    await outbox.close()
    assert used_before > 0  # the primary really served the first part
    assert all(r.status is TxStatus.CONFIRMED for r in done)
    assert balances == [10**12 + i for i in range(N)]  # each exactly once
    assert sent == N
