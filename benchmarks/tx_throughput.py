"""Confirmed transactions per second through the TransactionManager, against a naive baseline
measured in the same run; and batched balance reads against one-by-one reads.

    python -m benchmarks.tx_throughput [--n 1000] [--baseline-n 20] [--block-time 1] [--reads 1000]
        [--out FILE] [--no-record]

Everything runs against a fresh devnet started by the benchmark, mining a block every second by default
(like 0G; `--block-time 0` mines each transaction at once, which flatters sending one at a time). The
manager path persists every intent to a SQLite outbox before broadcasting; the run checks that all N
are CONFIRMED there and that the recipients' balances grew by exactly the amounts sent.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account

from benchmarks.report import append_row, write_json
from zerog_client import ChainReader
from zerog_client.devnet import AnvilConfig, AnvilNode, find_anvil
from zerog_client.tx import LocalSigner, ManagerConfig, TransactionManager, TxRequest, TxStatus
from zerog_client.tx.sqlite_outbox import SqliteOutbox

NPM_TOOLS = Path(__file__).resolve().parents[1] / "tools" / "npm"
CHAIN_ID = 1_660_999
# anvil's well-known dev keys (public test keys of its default mnemonic; devnet only).
SENDER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
BASELINE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
RECIPIENTS = 20


def _recipients() -> list[str]:
    return [Account.from_key((i + 1).to_bytes(32, "big")).address for i in range(RECIPIENTS)]


async def _manager_run(reader: ChainReader, n: int, workdir: Path) -> dict[str, Any]:
    recipients = _recipients()
    before = await reader.balances(recipients)
    outbox = SqliteOutbox(workdir / "outbox.db")
    await outbox.open()
    try:
        signer = LocalSigner.devnet_key(SENDER_KEY)
        requests = [TxRequest(f"bench-{i}", recipients[i % RECIPIENTS], 10**15 + i) for i in range(n)]
        async with TransactionManager(reader, signer, outbox, ManagerConfig()) as manager:
            started = time.perf_counter()
            records = await manager.submit_many(requests)
            submitted = time.perf_counter() - started
            await manager.wait([r.idempotency_key for r in records], TxStatus.CONFIRMED, timeout_s=300)
            elapsed = time.perf_counter() - started
        stored = [await outbox.get(r.idempotency_key) for r in requests]
    finally:
        await outbox.close()
    confirmed = sum(1 for r in stored if r is not None and r.status is TxStatus.CONFIRMED)
    after = await reader.balances(recipients)
    expected = [0] * RECIPIENTS
    for i, request in enumerate(requests):
        expected[i % RECIPIENTS] += request.value
    exact = all(a - b == e for a, b, e in zip(after, before, expected, strict=True))
    return {
        "n": n,
        "seconds": round(elapsed, 3),
        "submit_seconds": round(submitted, 3),
        "confirmed": confirmed,
        "balances_exact": exact,
        "tx_per_s": round(confirmed / elapsed, 1),
    }


async def _baseline_run(rpc_url: str, n: int) -> dict[str, Any]:
    """The naive way: web3 signs, sends, and waits for the receipt, one transaction at a time."""
    from web3 import AsyncHTTPProvider, AsyncWeb3

    w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url))
    account = Account.from_key(BASELINE_KEY)
    recipients = _recipients()
    try:
        nonce = await w3.eth.get_transaction_count(account.address)
        gas_price = await w3.eth.gas_price
        started = time.perf_counter()
        for i in range(n):
            tx = {
                "to": recipients[i % RECIPIENTS],
                "value": 10**15,
                "gas": 21_000,
                "gasPrice": gas_price,
                "nonce": nonce + i,
                "chainId": CHAIN_ID,
            }
            signed = account.sign_transaction(tx)
            tx_hash = await w3.eth.send_raw_transaction(signed.raw_transaction)
            await w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.01)
        elapsed = time.perf_counter() - started
    finally:
        await w3.provider.disconnect()
    return {"n": n, "seconds": round(elapsed, 3), "tx_per_s": round(n / elapsed, 1)}


async def _reads_run(reader: ChainReader, n: int) -> dict[str, Any]:
    addresses = [Account.from_key((i + 1000).to_bytes(32, "big")).address for i in range(n)]
    started = time.perf_counter()
    batched = await reader.balances(addresses)
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    single = [await reader.balance(a) for a in addresses]
    single_s = time.perf_counter() - started
    assert batched == single
    return {
        "n": n,
        "batched_reads_per_s": round(n / batched_s, 1),
        "single_reads_per_s": round(n / single_s, 1),
        "ratio": round(single_s / batched_s, 1),
    }


async def _measure(n: int, baseline_n: int, reads: int, block_time_s: float | None) -> dict[str, Any]:
    binary = find_anvil(None, (NPM_TOOLS,))
    with (
        AnvilNode(AnvilConfig(binary=binary, chain_id=CHAIN_ID, block_time_s=block_time_s)) as node,
        tempfile.TemporaryDirectory() as tmp,
    ):
        async with ChainReader(node.rpc_url, CHAIN_ID) as reader:
            manager = await _manager_run(reader, n, Path(tmp))
            baseline = await _baseline_run(node.rpc_url, baseline_n)
            read_figures = await _reads_run(reader, reads)
    return {
        "block_time_s": block_time_s,
        "manager": manager,
        "baseline": baseline,
        "ratio": round(manager["tx_per_s"] / baseline["tx_per_s"], 1),
        "reads": read_figures,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tx_throughput", description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="transfers through the manager")
    parser.add_argument("--baseline-n", type=int, default=20, help="transfers the naive way")
    parser.add_argument(
        "--block-time",
        type=float,
        default=1.0,
        help="devnet seconds per block (0G makes one about every second); 0 mines each transaction at once",
    )
    parser.add_argument("--reads", type=int, default=1000, help="balance reads each way")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if min(args.n, args.baseline_n, args.reads) < 1:
        parser.error("--n, --baseline-n and --reads must be at least 1")
    figures = asyncio.run(_measure(args.n, args.baseline_n, args.reads, args.block_time or None))
    m, b, r = figures["manager"], figures["baseline"], figures["reads"]
    mining = f"{figures['block_time_s']} s blocks" if figures["block_time_s"] else "automine"
    line = (
        f"devnet {mining}; manager: {m['confirmed']}/{m['n']} confirmed in {m['seconds']} s "
        f"= {m['tx_per_s']} tx/s "
        f"(outbox persisted, balances exact: {m['balances_exact']}); naive baseline {b['tx_per_s']} tx/s "
        f"(n={b['n']}); ratio x{figures['ratio']}; balance reads batched {r['batched_reads_per_s']}/s vs "
        f"one by one {r['single_reads_per_s']}/s (x{r['ratio']})"
    )
    print(line)
    write_json(args.out, figures)
    if not args.no_record:
        command = "python -m benchmarks.tx_throughput " + " ".join(argv if argv is not None else sys.argv[1:])
        append_row("tx_throughput", command.strip(), line)


if __name__ == "__main__":
    main()
