"""Starting the devnet from settings, and the project-local place the set-up script installs anvil."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from zerog_client import ChainReader, normalize_address
from zerog_client.devnet import AnvilConfig, AnvilNode, DevnetStartError, find_anvil
from zerog_client.devnet.contracts import (
    DevnetContracts,
    contract_address,
    deploy_devnet_contracts,
    devnet_contract_addresses,
)
from zerog_client.devnet.indexer import Indexer
from zerog_client.devnet.kv_node import KvNode, KvNodeConfig
from zerog_client.devnet.storage_node import StorageNode, StorageNodeConfig
from zerog_client.storage.kv_streams import stream_id
from zgvoice.settings import PROJECT_ROOT, DevnetSettings

NPM_TOOLS_DIR = PROJECT_ROOT / "tools" / "npm"


def devnet_node(settings: DevnetSettings) -> AnvilNode:
    """An (unstarted) devnet chain node configured from `settings`.

    Raises:
        DevnetStartError: anvil is not installed.
    """
    binary = find_anvil(settings.anvil_path, search_dirs=(NPM_TOOLS_DIR,))
    return AnvilNode(
        AnvilConfig(
            binary=binary,
            host=settings.host,
            port=settings.port,
            chain_id=settings.chain_id,
            accounts=settings.accounts,
            balance_0g=settings.balance_0g,
            block_time_s=settings.block_time_s,
            state_path=settings.state_path,
            startup_timeout_s=settings.startup_timeout_s,
        )
    )


async def provision_devnet(rpc_url: str, chain_id: int) -> DevnetContracts:
    """Our contracts on a running devnet: deployed from its last dev account (so account 0, "my"
    wallet, keeps its round balance), or found again when the node restored a saved state."""
    async with ChainReader(rpc_url, chain_id) as reader:
        deployer = normalize_address((await reader.node_accounts())[-1])
        multicall = contract_address(deployer, 0)
        if await reader.pool.call("eth_getCode", [multicall, "latest"]) not in ("0x", "0x0", None):
            known = devnet_contract_addresses(chain_id, deployer)
            if await reader.pool.call("eth_getCode", [known.flow, "latest"]) in ("0x", "0x0", None):
                raise DevnetStartError(
                    "this saved devnet state predates the storage contracts; start from a fresh state"
                )
            return known
    return await deploy_devnet_contracts(rpc_url, deployer, expected_chain_id=chain_id)


@dataclass(slots=True)
class DevnetStorage:
    """The storage side of a running devnet."""

    nodes: list[StorageNode]
    indexer: Indexer | None
    kv: KvNode | None

    @property
    def node_urls(self) -> list[str]:
        return [node.url for node in self.nodes]


@asynccontextmanager
async def devnet_storage(
    settings: DevnetSettings, rpc_url: str, contracts: DevnetContracts
) -> AsyncIterator[DevnetStorage]:
    """Storage nodes (full replicas) and an indexer following the devnet's Flow; stopped on exit."""
    with contextlib.ExitStack() as stack:
        base = settings.data_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="zgv-devnet-"))
        )
        nodes: list[StorageNode] = []
        indexer: Indexer | None = None
        kv: KvNode | None = None
        try:
            for i in range(settings.storage_nodes):
                port = settings.storage_port + i if settings.storage_port else 0
                config = StorageNodeConfig(
                    data_dir=base / f"storage-{i}",
                    rpc_url=rpc_url,
                    chain_id=settings.chain_id,
                    flow_address=contracts.flow,
                    port=port,
                )
                node = StorageNode(config)
                await node.start()
                nodes.append(node)
            if nodes:
                indexer = Indexer([n.url for n in nodes])
                await indexer.start(settings.indexer_port)
            if nodes and settings.kv_streams:
                kv = KvNode(
                    KvNodeConfig(
                        data_dir=base / "kv",
                        rpc_url=rpc_url,
                        chain_id=settings.chain_id,
                        flow_address=contracts.flow,
                        storage_nodes=[n.url for n in nodes],
                        stream_ids=["0x" + stream_id(name).hex() for name in settings.kv_streams],
                        port=settings.kv_port,
                    )
                )
                await kv.start()
            yield DevnetStorage(nodes, indexer, kv)
        finally:
            if kv is not None:
                await kv.stop()
            if indexer is not None:
                await indexer.stop()
            for node in reversed(nodes):
                await node.stop()
