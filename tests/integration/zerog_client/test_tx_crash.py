"""Crash test: a sender of 1,000 transfers is SIGKILLed at random points, at least five times; after
each restart the manager recovers from its outbox. At the end every intended transfer is on chain
exactly once: nothing lost, nothing duplicated (reconciled by balances and the sender's nonce)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anyio
import pytest

from tests.support.processes import wait_until
from tests.support.tx_child import CHAIN_ID, amount, recipient
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zerog_client.tx import TxRecord, TxStatus
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 1000
KILLS = 6
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ROOT = Path(__file__).resolve().parents[3]


async def reconcile(rpc_url: str, db: Path) -> tuple[list[int], int, list[TxRecord | None]]:
    """What the chain and the outbox say after the last run."""
    async with ChainReader(rpc_url, CHAIN_ID) as reader:
        balances = await reader.balances([recipient(i) for i in range(N)])
        sent = await reader.transaction_count(SENDER, "latest")
    outbox = SqliteOutbox(db)
    await outbox.open()
    try:
        records = [await outbox.get(f"crash-{i}") for i in range(N)]
    finally:
        await outbox.close()
    return balances, sent, records


def sent_count(node: AnvilNode) -> int:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount", "params": [SENDER, "pending"]}
    ).encode()
    request = urllib.request.Request(node.rpc_url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(json.loads(response.read())["result"], 16)


def child(node: AnvilNode, db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.tx_child",
            "--rpc",
            node.rpc_url,
            "--db",
            str(db),
            "--n",
            str(N),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def test_nothing_is_lost_or_duplicated_across_sigkills(node: AnvilNode, tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    # Kill points spread over the run: each kill lands once the chain has seen a random, growing number
    # of the intents, plus a random few milliseconds so it falls anywhere in the sign/persist/send cycle.
    targets = sorted(rng.sample(range(50, N - 100), KILLS))
    kills = 0
    for target in targets:
        with child(node, db) as process:
            wait_until(lambda t=target: sent_count(node) >= t or process.poll() is not None, 60, "progress")
            time.sleep(
                rng.uniform(0, 0.05)
            )  # the random offset of the kill point, not a wait for a condition
            if process.poll() is None:
                process.kill()
                kills += 1
            process.wait()
    with child(node, db) as process:
        out, _ = process.communicate(timeout=300)
    assert process.returncode == 0, f"final run failed (seed {seed})"
    assert b"done" in out
    assert kills >= 5, f"only {kills} kills landed mid-run (seed {seed})"

    balances, sent, records = anyio.run(reconcile, node.rpc_url, db)
    wrong = [i for i in range(N) if balances[i] != amount(i)]
    assert not wrong, f"{len(wrong)} recipients not paid exactly once, e.g. {wrong[:5]} (seed {seed})"
    assert sent == N, f"the sender sent {sent} transactions for {N} intents (seed {seed})"
    assert all(r is not None and r.status is TxStatus.CONFIRMED for r in records)
    assert sorted(r.nonce for r in records if r is not None) == list(range(N))
