"""`zgv storage root|upload|download|info`: 0G file storage from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from zerog_client import DEVNET, ChainReader
from zerog_client.devnet.contracts import devnet_contract_addresses
from zerog_client.storage import FileTree
from zerog_client.storage.downloader import Downloader
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import LocalSigner, Signer, TransactionManager
from zerog_client.tx.signer import SignerError
from zerog_client.tx.sqlite_outbox import SqliteOutbox
from zgvoice.settings import Settings


def add_parser(commands: Any) -> None:
    """Register `zgv storage ...`."""
    storage = commands.add_parser("storage", help="0G file storage: roots, upload, download, info")
    actions = storage.add_subparsers(dest="storage_command", required=True, metavar="ACTION")
    root = actions.add_parser(
        "root", help="the Merkle root and submission nodes of a file (nothing uploaded)"
    )
    root.add_argument("file", type=Path)
    upload = actions.add_parser("upload", help="store a file on 0G (pays the storage fee)")
    upload.add_argument("file", type=Path)
    download = actions.add_parser("download", help="fetch a file by root, verifying every segment")
    download.add_argument("root")
    download.add_argument("out", type=Path)
    info = actions.add_parser("info", help="what the storage nodes know of a root")
    info.add_argument("root")
    for action in (root, upload, download, info):
        action.add_argument("--json", action="store_true", help="print one JSON object")


def _print(payload: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(payload))
    else:
        for key, value in payload.items():
            print(f"{key}: {value}")


def file_root(path: Path) -> dict[str, Any]:
    """Root, size and submission nodes of a local file."""
    tree = FileTree.from_path(path)
    return {
        "root": "0x" + tree.root.hex(),
        "size": tree.layout.size,
        "nodes": [{"height": n.height, "root": "0x" + n.root.hex()} for n in tree.nodes],
    }


def signer_for(settings: Settings) -> Signer:
    wallet = settings.wallet
    if wallet.keystore_path is not None:
        password = wallet.keystore_password.get_secret_value() if wallet.keystore_password else ""
        return LocalSigner.from_keystore(wallet.keystore_path, password)
    if settings.chain.chain_id != DEVNET.chain_id:
        raise SignerError("set ZGV_WALLET__KEYSTORE_PATH (and its password) to pay on this network")
    return LocalSigner.devnet_key(wallet.devnet_key.get_secret_value(), settings.chain.chain_id)


async def flow_address(settings: Settings, reader: ChainReader) -> str:
    if settings.storage.flow_address is not None:
        return settings.storage.flow_address
    deployer = (await reader.node_accounts())[-1]
    return devnet_contract_addresses(settings.chain.chain_id, deployer).flow


@asynccontextmanager
async def _nodes(settings: Settings) -> AsyncIterator[list[StorageNodeClient]]:
    clients = [StorageNodeClient(url) for url in settings.storage.node_urls]
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


async def run(settings: Settings, args: argparse.Namespace) -> None:
    """Carry out one `zgv storage` action (errors propagate to the CLI's handlers)."""
    action = args.storage_command
    if action == "root":
        _print(file_root(args.file), args.json)
        return
    async with _nodes(settings) as clients:
        if action in ("download", "info"):
            downloader = Downloader(clients)
            if action == "info":
                info = await downloader.info(args.root)
                _print(
                    {
                        "root": info.root,
                        "size": info.size,
                        "tx_seq": info.tx_seq,
                        "finalized": info.finalized,
                    },
                    args.json,
                )
                return
            fetched = await downloader.download(args.root, args.out)
            _print({"root": fetched.root, "size": fetched.size, "path": str(fetched.path)}, args.json)
            return
        settings.storage.outbox_path.parent.mkdir(parents=True, exist_ok=True)
        outbox = SqliteOutbox(settings.storage.outbox_path)
        await outbox.open()
        try:
            urls = [settings.chain.rpc_url, *settings.chain.fallback_rpc_urls]
            async with (
                ChainReader(urls, settings.chain.chain_id) as reader,
                TransactionManager(reader, signer_for(settings), outbox) as manager,
            ):
                uploader = Uploader(
                    manager,
                    await flow_address(settings, reader),
                    clients,
                    expected_replicas=settings.storage.expected_replicas,
                    max_file_bytes=settings.storage.max_file_bytes,
                )
                result = await uploader.upload(args.file, progress=_progress_bar)
        finally:
            await outbox.close()
        print(file=sys.stderr)
        _print(
            {
                "root": result.root,
                "size": result.size,
                "tx_seq": result.tx_seq,
                "tx_hash": result.tx_hash,
                "already_stored": result.already_stored,
            },
            args.json,
        )


def _progress_bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} segments")
    sys.stderr.flush()
