"""Uploads one file and dies right after the Flow submission, before any segment is sent: the
crash case of "killed between submit and segment upload".

    python -m tests.support.upload_child --rpc URL --flow ADDR --node URL --db PATH --file PATH
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from zerog_client import ChainReader
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import LocalSigner, TransactionManager
from zerog_client.tx.sqlite_outbox import SqliteOutbox

CHAIN_ID = 1_660_999
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil dev account 0


async def _die(*_: Any, **__: Any) -> Any:
    os._exit(9)  # like SIGKILL: no clean-up, nothing flushed beyond what is already durable


async def run(rpc: str, flow: str, node_url: str, db: Path, file: Path) -> None:
    Uploader._send_segments = _die  # type: ignore[method-assign]  # the crash point under test
    outbox = SqliteOutbox(db)
    await outbox.open()
    node = StorageNodeClient(node_url)
    async with (
        ChainReader(rpc, CHAIN_ID) as reader,
        TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager,
    ):
        await Uploader(manager, flow, [node], timeout_s=30).upload(file)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--rpc", "--flow", "--node"):
        parser.add_argument(name, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--file", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(run(args.rpc, args.flow, args.node, args.db, args.file))


if __name__ == "__main__":
    main()
