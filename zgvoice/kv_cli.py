"""`zgv kv set|get|list STREAM ...`: 0G KV streams from the command line (text keys and values)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from zerog_client import ChainReader
from zerog_client.storage.kv_client import KvClient
from zerog_client.storage.kv_streams import stream_id
from zerog_client.storage.kv_writer import KvUploader, KvWriter
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import TransactionManager
from zerog_client.tx.sqlite_outbox import SqliteOutbox
from zgvoice.cli_errors import UsageError
from zgvoice.settings import Settings
from zgvoice.storage_cli import flow_address, signer_for

MAX_LIST = 1000


def add_parser(commands: Any) -> None:
    """Register `zgv kv ...`."""
    kv = commands.add_parser("kv", help="0G KV streams: set, get and list keys")
    actions = kv.add_subparsers(dest="kv_command", required=True, metavar="ACTION")
    set_ = actions.add_parser("set", help="write KEY=VALUE pairs to a stream in one transaction")
    set_.add_argument("stream", help="a stream name (its id is keccak256 of the name) or a 0x id")
    set_.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    get = actions.add_parser("get", help="read a key")
    get.add_argument("stream")
    get.add_argument("key")
    list_ = actions.add_parser("list", help="list keys in order (optionally from a prefix)")
    list_.add_argument("stream")
    list_.add_argument("--prefix", default="")
    list_.add_argument("--limit", type=int, default=100)
    for action in (set_, get, list_):
        action.add_argument("--json", action="store_true", help="print JSON")


async def run(settings: Settings, args: argparse.Namespace) -> None:
    """Carry out one `zgv kv` action."""
    try:
        stream = stream_id(args.stream)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    client = KvClient(settings.storage.kv_url)
    try:
        if args.kv_command == "get":
            value = await client.get_value(stream, args.key.encode())
            print(
                json.dumps(
                    {"key": args.key, "value": value.data.decode(errors="replace"), "version": value.version}
                )
                if args.json
                else value.data.decode(errors="replace")
            )
        elif args.kv_command == "list":
            await _list(client, stream, args)
        else:
            await _set(settings, client, stream, args)
    finally:
        await client.close()


async def _list(client: KvClient, stream: bytes, args: argparse.Namespace) -> None:
    if not 1 <= args.limit <= MAX_LIST:
        raise UsageError(f"--limit is 1 to {MAX_LIST}")
    prefix = args.prefix.encode()
    entry = await (client.get_next(stream, prefix, inclusive=True) if prefix else client.get_first(stream))
    rows: list[dict[str, str]] = []
    while entry is not None and len(rows) < args.limit and entry.key.startswith(prefix):
        rows.append({"key": entry.key.decode(errors="replace"), "value": entry.data.decode(errors="replace")})
        entry = await client.get_next(stream, entry.key, inclusive=False)
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['key']}={row['value']}")


async def _set(settings: Settings, client: KvClient, stream: bytes, args: argparse.Namespace) -> None:
    pairs = []
    for pair in args.pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"write pairs as KEY=VALUE (got {pair!r})")
        pairs.append((key.encode(), value.encode()))
    settings.storage.outbox_path.parent.mkdir(parents=True, exist_ok=True)
    outbox = SqliteOutbox(settings.storage.outbox_path)
    await outbox.open()
    nodes = [StorageNodeClient(url) for url in settings.storage.node_urls]
    try:
        async with (
            ChainReader(
                [settings.chain.rpc_url, *settings.chain.fallback_rpc_urls], settings.chain.chain_id
            ) as reader,
            TransactionManager(reader, signer_for(settings), outbox) as manager,
        ):
            uploader = Uploader(manager, await flow_address(settings, reader), nodes)
            writer = KvWriter(KvUploader(uploader), client, max_blob_bytes=settings.storage.kv_max_blob_bytes)
            for key, value in pairs:
                writer.set(stream, key, value)  # limits are checked here, before anything is paid
            result = await writer.flush()
    finally:
        await outbox.close()
        for node in nodes:
            await node.close()
    assert result is not None
    out = {
        "stream": "0x" + stream.hex(),
        "keys": len(pairs),
        "tx_seq": result.tx_seq,
        "tx_hash": result.tx_hash,
    }
    print(json.dumps(out) if args.json else f"wrote {len(pairs)} key(s) in transaction {result.tx_hash}")
