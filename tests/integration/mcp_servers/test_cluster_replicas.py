"""Two `zgv mcp chain --http` processes on the cluster profile (Redis handle ledger, PostgreSQL outbox
and spending ledger) behind a round-robin TCP balancer, driven by the SDK's HTTP client: a transfer
prepared on one replica is confirmed on the other exactly once, the daily cap counts both, and every
bad credential or header is refused by whichever replica answers."""

from __future__ import annotations

import contextlib
import json
import secrets
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from eth_account import Account
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_servers.auth import mint_token
from tests.support.cli import ZGV, zgv_env
from tests.support.processes import free_port, wait_listening
from tests.support.tcp_proxy import TcpProxy
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN_ID = 1_660_999
SENDER = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80").address
TO = str(Account.from_key((424242).to_bytes(32, "big")).address)
ONE = 10**18
ACCEPT = {"Accept": "application/json, text/event-stream"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
START_TIMEOUT_S = 60.0


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }


@dataclass
class Cluster:
    url: str
    secret: str
    balancer: TcpProxy
    env: dict[str, str]

    def token(self, **overrides: Any) -> str:
        fields: dict[str, Any] = {
            "key": self.secret,
            "subject": "alice",
            "audience": self.url,
            "scopes": ["chain:read", "tx:prepare", "tx:send"],
            "ttl_s": 600,
            "issuer": self.url.removesuffix("/mcp"),
        }
        fields.update(overrides)
        return mint_token(**fields)

    async def call(self, tool: str, subject: str = "alice", **arguments: Any) -> Any:
        # A connection per call: the balancer hands each to the next replica.
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {self.token(subject=subject)}"}) as http,
            Client(streamable_http_client(self.url, http_client=http)) as client,
        ):
            return await client.call_tool(tool, arguments)


@contextlib.asynccontextmanager
async def cluster(
    node: AnvilNode, postgres_dsn: str, redis_url: str, **settings: str
) -> AsyncIterator[Cluster]:
    ports = [free_port(), free_port()]
    secret = secrets.token_hex(32)
    # The users' master key every replica shares (the cluster profile makes none of its own).
    keys_dir = tempfile.TemporaryDirectory(prefix="zgv-master-")
    master_key = Path(keys_dir.name) / "master.key"
    master_key.write_bytes(secrets.token_bytes(32))
    async with TcpProxy("127.0.0.1", *ports) as balancer, contextlib.AsyncExitStack() as stack:
        stack.callback(keys_dir.cleanup)
        url = f"{balancer.url}/mcp"
        env = zgv_env(
            ZGV_PROFILE="cluster",
            ZGV_CLUSTER__REDIS_URL=redis_url,
            ZGV_CLUSTER__POSTGRES_DSN=postgres_dsn,
            ZGV_CLUSTER__POSTGRES_SCHEMA=f"t_{uuid.uuid4().hex[:20]}",
            ZGV_CHAIN__RPC_URL=node.rpc_url,
            ZGV_MCP__TOKEN_SECRET=secret,
            ZGV_MCP__RESOURCE_URL=url,
            ZGV_MCP_TOOLS__HANDLE_KEY=secrets.token_hex(32),
            ZGV_LOG__LEVEL="WARNING",
            ZGV_PROFILES__MASTER_KEY_PATH=str(master_key),
            **settings,
        )
        processes = [
            await anyio.open_process([str(ZGV), "mcp", "chain", "--http", f"127.0.0.1:{port}"], env=env)
            for port in ports
        ]
        try:
            for port, process in zip(ports, processes, strict=True):
                await wait_listening(port, process, START_TIMEOUT_S)
            yield Cluster(url, secret, balancer, env)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                with anyio.fail_after(20):
                    await process.wait()
                await process.aclose()


def ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return dict(result.structured_content)


def code(result: Any) -> str:
    assert result.is_error, result.content
    return str(result.structured_content["error"]["code"])


async def test_prepare_on_one_replica_and_confirm_on_the_other(
    node: AnvilNode, reader: ChainReader, postgres_dsn: str, redis_url: str
) -> None:
    async with cluster(node, postgres_dsn, redis_url, ZGV_MCP_TOOLS__PER_24H_0G="1") as c:
        prepared = ok(await c.call("prepare_transfer", to=TO, amount="0.75"))
        # Another user's token cannot redeem alice's handle, on either replica (and does not burn it).
        for _ in range(2):
            stolen = await c.call("confirm_transfer", subject="mallory", handle=prepared["handle"])
            assert code(stolen) == "confirmation_mismatch"
        sent = ok(await c.call("confirm_transfer", handle=prepared["handle"]))
        assert ok(await c.call("wait_for_transaction", tx_hash=sent["tx_hash"], timeout_s=30))["status"] == (
            "success"
        )
        for _ in range(2):  # single use on both replicas
            assert code(await c.call("confirm_transfer", handle=prepared["handle"])) == "confirmation_used"
        # The spending ledger is shared: 0.75 + 0.5 passes the 1 0G daily cap whichever replica asks.
        for _ in range(2):
            assert code(await c.call("prepare_transfer", to=TO, amount="0.5")) == "daily_cap"
        assert all(count >= 3 for count in c.balancer.per_target.values()), c.balancer.per_target
    assert await reader.balance(TO) == 3 * ONE // 4
    assert await reader.transaction_count(SENDER, "latest") == 1


async def test_every_replica_refuses_bad_credentials_and_headers(
    node: AnvilNode, postgres_dsn: str, redis_url: str
) -> None:
    async with cluster(node, postgres_dsn, redis_url) as c:
        wrong_audience = c.token(audience="http://127.0.0.1:1/mcp")
        expired = c.token(ttl_s=60, now=time.time() - 3600)
        forged = mint_token(
            secrets.token_hex(32), "alice", c.url, ["chain:read"], 600, issuer=c.url.removesuffix("/mcp")
        )
        # No keep-alive: every request is a new connection, so the balancer alternates replicas.
        one_shot = httpx2.Limits(max_keepalive_connections=0)
        for _ in range(2):  # each refusal from both replicas
            async with httpx2.AsyncClient(headers=ACCEPT, limits=one_shot) as http:
                missing = await http.post(c.url, json=LIST)
                assert missing.status_code == 401
                assert "resource_metadata=" in missing.headers["www-authenticate"]
                for token in (wrong_audience, expired, forged):
                    refused = await http.post(c.url, json=LIST, headers={"Authorization": f"Bearer {token}"})
                    assert refused.status_code == 401
                good = {"Authorization": f"Bearer {c.token()}"}
                origin = await http.post(c.url, json=LIST, headers={**good, "Origin": "https://evil.example"})
                assert origin.status_code == 403
                host = await http.post(c.url, json=LIST, headers={**good, "Host": "evil.example"})
                assert host.status_code == 421
                listed = await http.post(c.url, json=LIST, headers=good)
                assert listed.status_code == 200
                # A read-only token reads, but cannot even prepare a transfer.
                read_only = {"Authorization": f"Bearer {c.token(scopes=['chain:read'])}"}
                read = await http.post(c.url, json=call("get_block_number"), headers=read_only)
                assert read.status_code == 200
                prepare = await http.post(
                    c.url, json=call("prepare_transfer", to=TO, amount="0.1"), headers=read_only
                )
                assert prepare.status_code == 403
                assert 'scope="tx:prepare"' in prepare.headers["www-authenticate"]
        assert all(count >= 9 for count in c.balancer.per_target.values()), c.balancer.per_target


async def test_the_interpreter_reaches_the_tools_over_http_on_the_cluster_profile(
    node: AnvilNode, reader: ChainReader, postgres_dsn: str, redis_url: str
) -> None:
    async with cluster(node, postgres_dsn, redis_url) as c:
        env = {**c.env, "ZGV_CLUSTER__MCP_CHAIN_URL": c.url}
        before = c.balancer.requests
        done = await anyio.run_process(
            [str(ZGV), "ask", "--json", "what is my balance"], env=env, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        turn = json.loads(done.stdout)
        assert [(r["tool"], r["ok"]) for r in turn["tool_results"]] == [("get_balance", True)]
        assert turn["reply"] == "You have 10,000 0G."
        assert c.balancer.requests > before  # the call went through the balancer, over HTTP
        # A gateway holding another key is refused at start-up, with a clear message.
        wrong = {**env, "ZGV_MCP__TOKEN_SECRET": secrets.token_hex(32)}
        refused = await anyio.run_process([str(ZGV), "ask", "what is my balance"], env=wrong, check=False)
        assert refused.returncode != 0
        assert b"tools_unavailable" in refused.stderr
        missing = {k: v for k, v in env.items() if k != "ZGV_CLUSTER__MCP_CHAIN_URL"}
        unset = await anyio.run_process([str(ZGV), "ask", "what is my balance"], env=missing, check=False)
        assert unset.returncode == 2
        assert b"ZGV_CLUSTER__MCP_CHAIN_URL" in unset.stderr
        # Replicas must share the users' master key: the cluster profile never makes one of its own.
        keyless = {**env, "ZGV_PROFILES__MASTER_KEY_PATH": "/nonexistent/master.key"}
        no_key = await anyio.run_process([str(ZGV), "ask", "what is my balance"], env=keyless, check=False)
        assert no_key.returncode == 2
        assert b"ZGV_PROFILES__MASTER_KEY_PATH" in no_key.stderr
