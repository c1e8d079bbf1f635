"""The vetted definitions of our first-party MCP tools, pinned in `tool_pins.json`.

After reviewing a tool change, re-pin with `python -m zgvoice.pins --write` and commit the file; a
test fails while the pins and the servers disagree, so no definition changes unnoticed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_servers import build_chain_server
from mcp_servers.chain_send import SendingDeps, register_sending
from mcp_servers.confirmations import ConfirmationHandles, InMemoryHandleLedger, InMemorySpendLedger
from mcp_servers.knowledge import DocIndex, Vectors, build_knowledge_server
from mcp_servers.policy import AssetCaps, PolicyConfig
from mcp_servers.storage import StorageDeps, build_storage_server
from task_interpreter.pins import Pins, fingerprint
from zerog_client import DEVNET, ChainReader
from zerog_client.storage.downloader import Downloader
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import LocalSigner, TransactionManager
from zerog_client.tx.external import ExternalSender
from zerog_client.tx.sqlite_outbox import SqliteOutbox
from zgvoice.settings import ANVIL_DEV_KEY_0

PINS_FILE = Path(__file__).with_name("tool_pins.json")


def load_pins(path: Path = PINS_FILE) -> Pins:
    """The committed pins."""
    return dict(json.loads(path.read_text()))


class _NoEmbedder:
    """Definitions only: the knowledge server is never asked to search here."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.zeros((len(texts), 384), dtype=np.float32)


def _definition_servers(workdir: Path) -> dict[str, MCPServer]:
    # Built over clients that are never opened: only the tool definitions are read.
    reader = ChainReader("http://127.0.0.1:9", DEVNET.chain_id)
    outbox = SqliteOutbox(workdir / "outbox.db")
    manager = TransactionManager(reader, LocalSigner.devnet_key(ANVIL_DEV_KEY_0), outbox)
    chain = build_chain_server(reader)
    register_sending(
        chain,
        SendingDeps(
            reader=reader,
            external=ExternalSender(reader, outbox),
            policy=PolicyConfig(
                chain_ids=frozenset({DEVNET.chain_id}),
                native=AssetCaps(per_tx=0, per_24h=0),
                max_fee_per_gas=1,
                max_total_fee=1,
            ),
            handles=ConfirmationHandles(bytes(32)),
            used_handles=InMemoryHandleLedger(),
            spends=InMemorySpendLedger(),
            principal=lambda: "pins",
            manager=manager,
        ),
    )
    nodes = [StorageNodeClient("http://127.0.0.1:9")]
    uploader = Uploader(manager, "0x" + "00" * 20, nodes)
    storage = build_storage_server(StorageDeps(uploader, Downloader(nodes), workdir, workdir / "files.json"))
    knowledge = build_knowledge_server(DocIndex([], _NoEmbedder()))
    return {"chain": chain, "storage": storage, "knowledge": knowledge}


async def current_pins() -> dict[str, dict[str, str]]:
    """Fingerprints of the tools the interpreter uses, as the code defines them now (nothing is
    contacted)."""
    pins: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name, server in _definition_servers(Path(workdir)).items():
            async with Client(server) as client:
                tools = (await client.list_tools()).tools
            pins[name] = {tool.name: fingerprint(tool) for tool in sorted(tools, key=lambda t: t.name)}
    return pins


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m zgvoice.pins", description=__doc__)
    parser.add_argument("--write", action="store_true", help="re-pin: write the current fingerprints")
    args = parser.parse_args()
    pins = asyncio.run(current_pins())
    if args.write:
        PINS_FILE.write_text(json.dumps(pins, indent=2, sort_keys=True) + "\n")
        print(f"pinned {sum(len(t) for t in pins.values())} tools in {PINS_FILE}")
    else:
        print(json.dumps(pins, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
