"""The 0G networks this SDK knows, and the local devnet's chain id."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Network:
    """A chain the SDK can talk to."""

    name: str
    chain_id: int
    native_symbol: str = "0G"
    native_decimals: int = 18


# The devnet id is deliberately one that no 0G network (16600, 16601, 16602, 16661) or other
# well-known chain uses, so a transaction signed on the devnet can never be replayed on a real one.
DEVNET = Network(name="devnet", chain_id=1_660_999)
GALILEO = Network(name="galileo", chain_id=16602)
MAINNET = Network(name="mainnet", chain_id=16661)

NETWORKS: dict[str, Network] = {n.name: n for n in (DEVNET, GALILEO, MAINNET)}


def network_for_chain_id(chain_id: int) -> Network:
    """Return the known network with this chain id, or an unnamed one with 0G's native token.

    Args:
        chain_id: an EIP-155 chain id.
    """
    for network in NETWORKS.values():
        if network.chain_id == chain_id:
            return network
    return Network(name=f"chain-{chain_id}", chain_id=chain_id)
