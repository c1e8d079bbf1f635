"""The vetted definitions of our first-party MCP tools, pinned in `tool_pins.json`.

After reviewing a tool change, re-pin with `python -m zgvoice.pins --write` and commit the file; a
test fails while the pins and the servers disagree, so no definition changes unnoticed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from mcp import Client

from mcp_servers import build_chain_server
from task_interpreter.pins import Pins, fingerprint
from zerog_client import DEVNET, ChainReader

PINS_FILE = Path(__file__).with_name("tool_pins.json")


def load_pins(path: Path = PINS_FILE) -> Pins:
    """The committed pins."""
    return dict(json.loads(path.read_text()))


async def current_pins() -> dict[str, dict[str, str]]:
    """Fingerprints of our servers' tools as the code defines them now (nothing is contacted)."""
    reader = ChainReader("http://127.0.0.1:9", DEVNET.chain_id)  # never opened: definitions only
    async with Client(build_chain_server(reader)) as client:
        tools = (await client.list_tools()).tools
    return {"chain": {tool.name: fingerprint(tool) for tool in sorted(tools, key=lambda t: t.name)}}


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
