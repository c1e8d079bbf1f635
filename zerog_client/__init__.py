"""A standalone Python SDK for the 0G chain (and, later, 0G storage and KV).

It imports nothing else of zgvoice, so it could be published on its own.
"""

from zerog_client.address import normalize_address
from zerog_client.chain.reader import ChainReader
from zerog_client.errors import (
    ChainUnreachableError,
    InvalidAddressError,
    WrongChainError,
    ZeroGError,
)
from zerog_client.networks import DEVNET, GALILEO, MAINNET, NETWORKS, Network, network_for_chain_id
from zerog_client.units import AmountError, format_native, parse_amount, to_native

__all__ = [
    "DEVNET",
    "AmountError",
    "GALILEO",
    "MAINNET",
    "NETWORKS",
    "ChainReader",
    "ChainUnreachableError",
    "InvalidAddressError",
    "Network",
    "WrongChainError",
    "ZeroGError",
    "format_native",
    "network_for_chain_id",
    "normalize_address",
    "parse_amount",
    "to_native",
]
