"""The chain server: read tools over the 0G chain.

Value-moving tools (prepare, confirm, send) arrive with the policy engine and confirmation handles;
until then this server can only read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_servers.chain_reads import register_reads
from mcp_servers.results import guarded
from zerog_client import ChainReader, format_native, normalize_address, to_native

_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
_GWEI = 10**9


class ChainInfo(BaseModel):
    """What chain the server reads from."""

    network: str
    chain_id: int
    native_symbol: str
    latest_block: int


class Balance(BaseModel):
    """A native balance."""

    address: str = Field(description="EIP-55 checksummed address")
    balance_neuron: str = Field(description="exact balance in base units (1 0G = 1e18 neuron), as a string")
    balance: str = Field(description="balance in 0G, exact decimal string")
    display: str = Field(description="balance in 0G rounded down for speaking")
    symbol: str


class BlockNumber(BaseModel):
    """The latest block."""

    block_number: int


class GasPrice(BaseModel):
    """The node's suggested gas price."""

    gas_price_neuron: str
    gas_price_gwei: str


def build_chain_server(reader: ChainReader) -> MCPServer:
    """Create the chain MCP server reading through `reader` (opened and closed by the caller).

    Args:
        reader: an open `ChainReader` for the configured chain.
    """
    server = MCPServer(
        "zgv-chain",
        title="0G chain",
        instructions=(
            "Read the 0G chain: chain info, native and ERC-20 balances, token info, blocks, transactions, "
            "receipts, gas price, and view calls of contracts."
        ),
        version="0.1.0",
    )
    symbol = reader.network.native_symbol

    @server.tool(annotations=_READ_ONLY)
    async def chain_info() -> Annotated[CallToolResult, ChainInfo]:
        """Which network and chain id the server reads, its native token, and the latest block."""

        async def run() -> ChainInfo:
            return ChainInfo(
                network=reader.network.name,
                chain_id=reader.expected_chain_id,
                native_symbol=symbol,
                latest_block=await reader.block_number(),
            )

        return await guarded(run)

    @server.tool(annotations=_READ_ONLY)
    async def get_balance(
        address: Annotated[str, Field(description="0x-prefixed 20-byte address", max_length=64)],
    ) -> Annotated[CallToolResult, Balance]:
        """Native 0G balance of an address at the latest block."""

        async def run() -> Balance:
            checksummed = normalize_address(address)
            neuron = await reader.balance(checksummed)
            return Balance(
                address=checksummed,
                balance_neuron=str(neuron),
                balance=format(to_native(neuron).normalize(), "f"),
                display=format_native(neuron),
                symbol=symbol,
            )

        return await guarded(run)

    @server.tool(annotations=_READ_ONLY)
    async def get_block_number() -> Annotated[CallToolResult, BlockNumber]:
        """Number of the latest block."""

        async def run() -> BlockNumber:
            return BlockNumber(block_number=await reader.block_number())

        return await guarded(run)

    @server.tool(annotations=_READ_ONLY)
    async def get_gas_price() -> Annotated[CallToolResult, GasPrice]:
        """The node's suggested gas price, in neuron and in gwei (1 gwei = 1e9 neuron)."""

        async def run() -> GasPrice:
            price = await reader.gas_price()
            gwei = Decimal(price) / _GWEI
            return GasPrice(gas_price_neuron=str(price), gas_price_gwei=format(gwei.normalize(), "f"))

        return await guarded(run)

    register_reads(server, reader)
    return server
