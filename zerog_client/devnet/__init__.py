"""A local 0G devnet: the chain node and our contracts; storage and KV nodes join it later."""

from zerog_client.devnet.anvil import AnvilConfig, AnvilNode, DevnetStartError, find_anvil
from zerog_client.devnet.contracts import DevnetContracts, DevnetDeployError, deploy_devnet_contracts

__all__ = [
    "AnvilConfig",
    "AnvilNode",
    "DevnetContracts",
    "DevnetDeployError",
    "DevnetStartError",
    "deploy_devnet_contracts",
    "find_anvil",
]
