"""What the MCP protocol costs on top of the chain read it wraps.

    python -m benchmarks.mcp_overhead [--n 500] [--out FILE] [--no-record]

Starts its own devnet, then calls the chain server's `get_balance` tool N times over each transport
(in-memory; stdio, with `zgv mcp chain` as a child process; streamable HTTP through our auth stack) and, in
the same run, makes the bare `eth_getBalance` read N times. Reported: p50/p95 per transport, the raw
read's p50/p95, and the overhead (p50 of the tool minus p50 of the raw read).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from benchmarks.report import append_row, summary, write_json
from mcp_servers import build_chain_server
from mcp_servers.auth import mint_token
from mcp_servers.http import HttpServerSettings, build_http_app
from zerog_client import ChainReader
from zerog_client.devnet import AnvilConfig, AnvilNode, find_anvil

NPM_TOOLS = Path(__file__).resolve().parents[1] / "tools" / "npm"
CHAIN_ID = 1_660_999
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


async def _tool_ms(client: Client, n: int) -> list[float]:
    await client.call_tool("get_balance", {"address": ADDRESS})  # warm: schemas, connections
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        result = await client.call_tool("get_balance", {"address": ADDRESS})
        samples.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            raise RuntimeError(f"get_balance failed: {result.content}")
    return samples


async def _http_ms(reader: ChainReader, n: int) -> list[float]:
    """The chain server behind our streamable HTTP stack (auth, Host checks, limits) on loopback."""
    sock = socket.socket()
    # As `serve_http` does for sockets it is handed: no Nagle delay on small requests.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = int(sock.getsockname()[1])
    secret = secrets.token_hex(32)
    settings = HttpServerSettings.model_validate(
        {
            "resource_url": f"http://127.0.0.1:{port}/mcp",
            "token_secret": secret,
            "tools_call_rate_per_s": 1e6,
            "tools_call_burst": 10**6,
        }
    )
    token = mint_token(
        key=secret,
        subject="bench",
        audience=settings.audience,
        scopes=["chain:read"],
        ttl_s=3600,
        issuer=settings.issuer_url,
    )
    app = build_http_app(build_chain_server(reader), settings, host="127.0.0.1", port=port)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None))
    samples: list[float] = []
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve, [sock])
        try:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
                Client(streamable_http_client(settings.audience, http_client=http)) as client,
            ):
                samples = await _tool_ms(client, n)
        finally:
            server.should_exit = True  # the task group then waits for uvicorn to finish
    sock.close()
    return samples


async def _raw_ms(reader: ChainReader, n: int) -> list[float]:
    await reader.balance(ADDRESS)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await reader.balance(ADDRESS)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _measure(n: int) -> dict[str, Any]:
    binary = find_anvil(None, (NPM_TOOLS,))
    with AnvilNode(AnvilConfig(binary=binary, chain_id=CHAIN_ID)) as node:
        async with ChainReader(node.rpc_url, CHAIN_ID) as reader:
            raw = summary(await _raw_ms(reader, n))
            async with Client(build_chain_server(reader)) as client:
                transports = {"in_memory": summary(await _tool_ms(client, n))}
            env = {k: v for k, v in os.environ.items() if not k.startswith("ZGV_")}
            env["ZGV_CHAIN__RPC_URL"] = node.rpc_url
            env["ZGV_LOG__LEVEL"] = "WARNING"
            stdio = StdioServerParameters(
                command=str(Path(sys.executable).parent / "zgv"), args=["mcp", "chain"], env=env
            )
            async with Client(stdio) as client:
                transports["stdio"] = summary(await _tool_ms(client, n))
            transports["http"] = summary(await _http_ms(reader, n))
    return {
        "n": n,
        "raw_rpc_ms": raw,
        "transports": transports,
        "overhead_p50_ms": {name: round(s["p50"] - raw["p50"], 3) for name, s in transports.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mcp_overhead", description=__doc__)
    parser.add_argument("--n", type=int, default=500, help="calls per transport")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    figures = asyncio.run(_measure(args.n))
    raw = figures["raw_rpc_ms"]
    parts = [f"raw eth_getBalance p50 {raw['p50']} ms / p95 {raw['p95']} ms"]
    for name, stats in figures["transports"].items():
        parts.append(
            f"{name} get_balance p50 {stats['p50']} ms / p95 {stats['p95']} ms "
            f"(overhead p50 {figures['overhead_p50_ms'][name]} ms)"
        )
    line = "; ".join(parts)
    print(line)
    write_json(args.out, figures)
    if not args.no_record:
        command = "python -m benchmarks.mcp_overhead " + " ".join(argv if argv is not None else sys.argv[1:])
        append_row("mcp_overhead", command.strip(), line)


if __name__ == "__main__":
    main()
