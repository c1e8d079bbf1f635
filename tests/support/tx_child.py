"""A process that sends N transfers with idempotency keys through the transaction manager, for the
crash test: it is SIGKILLed at random points and started again until everything is sent.

    python -m tests.support.tx_child --rpc URL --db PATH --n 1000 --chunk 50
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from eth_account import Account

from zerog_client import ChainReader
from zerog_client.tx import LocalSigner, TransactionManager, TxRequest, TxStatus
from zerog_client.tx.sqlite_outbox import SqliteOutbox

CHAIN_ID = 1_660_999
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil dev account 0


def recipient(i: int) -> str:
    """The distinct recipient of intent `i`."""
    return str(Account.from_key((i + 100_000).to_bytes(32, "big")).address)


def amount(i: int) -> int:
    """The distinct amount of intent `i` (so a duplicate shows in the recipient's balance)."""
    return 10**12 + i


async def run(rpc: str, db: Path, n: int, chunk: int) -> None:
    outbox = SqliteOutbox(db)
    await outbox.open()
    try:
        async with (
            ChainReader(rpc, CHAIN_ID) as reader,
            TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager,
        ):
            keys = [f"crash-{i}" for i in range(n)]
            for start in range(0, n, chunk):
                batch = range(start, min(n, start + chunk))
                await manager.submit_many([TxRequest(keys[i], recipient(i), amount(i)) for i in batch])
            await manager.wait(keys, TxStatus.CONFIRMED, timeout_s=120)
    finally:
        await outbox.close()
    print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.rpc, args.db, args.n, args.chunk))


if __name__ == "__main__":
    main()
