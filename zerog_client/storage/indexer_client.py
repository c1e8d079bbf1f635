"""Choosing storage nodes through an indexer (`indexer_getSelectedNodes`, SPEC §3.3)."""

from __future__ import annotations

from zerog_client.chain.jsonrpc import HttpJsonRpc
from zerog_client.storage.node_client import StorageNodeClient


async def nodes_from_indexer(
    indexer_url: str, expected_replicas: int = 1, method: str = "min", dropped: list[str] | None = None
) -> list[StorageNodeClient]:
    """Clients of the nodes the indexer selects to hold `expected_replicas` copies of every shard.

    Raises:
        ChainUnreachableError: the indexer does not answer.
        JsonRpcError: it cannot select enough nodes.
    """
    rpc = HttpJsonRpc(indexer_url)
    try:
        selected = await rpc.call(
            "indexer_getSelectedNodes", [expected_replicas, method, True, dropped or []]
        )
    finally:
        await rpc.close()
    nodes = [*selected.get("trusted", []), *selected.get("discovered", [])]
    return [StorageNodeClient(str(node["url"])) for node in nodes]
