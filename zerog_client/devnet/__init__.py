"""A local 0G devnet: the chain node today; storage and KV nodes join it later."""

from zerog_client.devnet.anvil import AnvilConfig, AnvilNode, DevnetStartError, find_anvil

__all__ = ["AnvilConfig", "AnvilNode", "DevnetStartError", "find_anvil"]
