"""A devnet indexer: the `indexer_*` JSON-RPC over a fixed set of trusted storage nodes (SPEC §3.3).

Our devnet has no peer discovery, so every node is "trusted" and `discovered` is always empty.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from zerog_client.devnet.storage_node.errors import RpcError, call_error
from zerog_client.devnet.storage_node.jsonrpc_server import JsonRpcServer, params_at
from zerog_client.devnet.storage_node.shard import ShardConfig, select_nodes
from zerog_client.devnet.storage_node.validation import bad_params, parse_hash, parse_uint

SELECT_FAILED = "cannot select a subset from the returned nodes that meets the replication requirement"


@dataclass(frozen=True)
class ShardedNode:
    """A storage node as the indexer lists it.

    Attributes:
        url: its JSON-RPC URL.
        config: its shard.
        latency_ms: measured round trip (0 when unknown).
        since: unix time the indexer learned about it.
    """

    url: str
    config: ShardConfig
    latency_ms: int = 0
    since: int = 0

    def to_json(self) -> dict[str, Any]:
        """The wire form `{"url", "config", "latency", "since"}`."""
        return {
            "url": self.url,
            "config": self.config.to_json(),
            "latency": self.latency_ms,
            "since": self.since,
        }


def select_trusted_and_discovered(
    trusted: Sequence[ShardedNode],
    discovered: Sequence[ShardedNode],
    expected_replica: int,
    method: str,
    full_trusted: bool,
) -> tuple[list[ShardedNode], list[ShardedNode]] | None:
    """`indexer_getSelectedNodes`' choice: discovered nodes take 3/5 of the replicas, trusted the rest.

    Args:
        trusted: the trusted nodes.
        discovered: the discovered nodes.
        expected_replica: replicas wanted of every segment.
        method: "random", "min", "max" or a shard count.
        full_trusted: use trusted nodes only.

    Returns:
        (trusted selection, discovered selection), or None when the replicas cannot be met.

    Raises:
        ValueError: an unknown method.
    """
    chosen_discovered: list[ShardedNode] = []
    remaining = expected_replica
    discovered_replica = 0 if full_trusted else expected_replica * 3 // 5
    if discovered_replica > 0:
        picked = select_nodes(discovered, discovered_replica, method, lambda n: n.config)
        if picked is not None:
            chosen_discovered = picked
            remaining -= discovered_replica
    if remaining <= 0:
        return [], chosen_discovered
    chosen_trusted = select_nodes(trusted, remaining, method, lambda n: n.config)
    if chosen_trusted is None:
        return None
    return chosen_trusted, chosen_discovered


class Indexer:
    """Serves `indexer_getShardedNodes`, `indexer_getSelectedNodes` and `indexer_getFileLocations`."""

    def __init__(self, node_urls: Sequence[str], *, timeout_s: float = 5.0) -> None:
        """Prepare the indexer; `start()` asks each node for its shard config.

        Args:
            node_urls: the storage nodes' JSON-RPC URLs.
            timeout_s: per-request timeout when talking to the nodes.
        """
        self._urls = list(node_urls)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._nodes: list[ShardedNode] = []
        self._session: aiohttp.ClientSession | None = None
        self._server = JsonRpcServer(
            {
                "indexer_getShardedNodes": self.get_sharded_nodes,
                "indexer_getSelectedNodes": self.get_selected_nodes,
                "indexer_getFileLocations": self.get_file_locations,
                "indexer_getNodeLocations": self.get_node_locations,
            }
        )

    @property
    def url(self) -> str:
        """The indexer's JSON-RPC URL (once started)."""
        return self._server.url

    @property
    def nodes(self) -> list[ShardedNode]:
        """The trusted nodes with their shard configs."""
        return list(self._nodes)

    async def start(self, port: int = 0) -> None:
        """Learn the nodes' shard configs and listen on 127.0.0.1.

        Args:
            port: the TCP port, 0 for any free one.

        Raises:
            RpcError: a node answered `zgs_getShardConfig` with an error.
            aiohttp.ClientError: a node is unreachable.
        """
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            now = int(time.time())
            self._nodes = []
            for url in self._urls:
                started = time.monotonic()
                config = await self._call(url, "zgs_getShardConfig", [])
                latency = int((time.monotonic() - started) * 1000)
                shard = ShardConfig(int(config["shardId"]), int(config["numShard"]))
                self._nodes.append(ShardedNode(url, shard, latency, now))
            await self._server.start(port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop listening and close the client session."""
        await self._server.stop()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def get_sharded_nodes(self, params: list[Any]) -> dict[str, Any]:
        """`indexer_getShardedNodes()` -> `{"trusted", "discovered"}`."""
        params_at(params, 0)
        return {"trusted": [n.to_json() for n in self._nodes], "discovered": []}

    async def get_selected_nodes(self, params: list[Any]) -> dict[str, Any]:
        """`indexer_getSelectedNodes(expectedReplica, method, fullTrusted, dropped)`."""
        replica, method, full_trusted, dropped = params_at(params, 4, required=2)
        if not isinstance(method, str):
            raise bad_params("method: expected a string")
        if dropped is not None and not (
            isinstance(dropped, list) and all(isinstance(u, str) for u in dropped)
        ):
            raise bad_params("dropped: expected an array of URLs")
        excluded = set(dropped or [])
        trusted = [n for n in self._nodes if n.url not in excluded]
        try:
            selection = select_trusted_and_discovered(
                trusted, [], max(1, parse_uint(replica, "expectedReplica")), method, bool(full_trusted)
            )
        except ValueError as exc:
            raise bad_params(f"method: {exc}") from None
        if selection is None:
            raise call_error(SELECT_FAILED)
        return {
            "trusted": [n.to_json() for n in selection[0]],
            "discovered": [n.to_json() for n in selection[1]],
        }

    async def get_file_locations(self, params: list[Any]) -> list[dict[str, Any]] | None:
        """`indexer_getFileLocations(root)` -> the nodes holding the finalized file, or null."""
        (root,) = params_at(params, 1)
        root_hex = "0x" + parse_hash(root).hex()
        answers = await asyncio.gather(
            *(self._call(n.url, "zgs_getFileInfo", [root_hex, True]) for n in self._nodes),
            return_exceptions=True,
        )
        holders = [
            node.to_json()
            for node, info in zip(self._nodes, answers, strict=True)
            if isinstance(info, dict) and info.get("finalized") is True
        ]
        return holders or None

    async def get_node_locations(self, params: list[Any]) -> dict[str, Any]:
        """`indexer_getNodeLocations()`: no geolocation on a devnet, so an empty map."""
        params_at(params, 0)
        return {}

    async def _call(self, url: str, method: str, params: list[Any]) -> Any:
        if self._session is None:
            raise RuntimeError("the indexer is not running")
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        async with self._session.post(url, json=body) as response:
            reply = await response.json()
        if "error" in reply:
            error = reply["error"]
            raise RpcError(int(error["code"]), str(error["message"]), error.get("data"))
        return reply.get("result")
