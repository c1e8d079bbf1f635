"""Read-only access to one chain endpoint: chain id check, balances, blocks, gas price.

Failover across several endpoints and batched reads arrive with the RPC pool; this reader is the
single-endpoint building block it will wrap.
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import TracebackType
from typing import TypeVar

import aiohttp
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import Web3Exception, Web3RPCError

from zerog_client.address import normalize_address
from zerog_client.errors import ChainRequestError, ChainUnreachableError, WrongChainError
from zerog_client.networks import Network, network_for_chain_id

_T = TypeVar("_T")


class ChainReader:
    """Reads from one JSON-RPC endpoint after checking that it serves the expected chain.

    Use as an async context manager; `open()` refuses an endpoint whose `eth_chainId` differs from
    `expected_chain_id`, so nothing is ever read from (or later sent to) the wrong network.
    """

    def __init__(self, rpc_url: str, expected_chain_id: int, timeout_s: float = 5.0) -> None:
        """Prepare a reader; no connection is made until `open()`.

        Args:
            rpc_url: HTTP(S) JSON-RPC URL.
            expected_chain_id: the chain this reader must talk to.
            timeout_s: per-request timeout in seconds.
        """
        self.rpc_url = rpc_url
        self.expected_chain_id = expected_chain_id
        self.network: Network = network_for_chain_id(expected_chain_id)
        self._timeout_s = timeout_s
        self._w3 = AsyncWeb3(
            AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout_s)})
        )
        self._chain_checked = False

    def __repr__(self) -> str:
        return f"ChainReader(rpc_url={self.rpc_url!r}, chain_id={self.expected_chain_id})"

    async def __aenter__(self) -> ChainReader:
        try:
            await self.open()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect and verify the chain id.

        Raises:
            ChainUnreachableError: the endpoint does not answer.
            WrongChainError: it answers for another chain.
        """
        await self._ensure_chain()

    async def close(self) -> None:
        """Close the HTTP session."""
        provider = self._w3.provider
        if isinstance(provider, AsyncHTTPProvider):
            await provider.disconnect()

    async def chain_id(self) -> int:
        """The endpoint's `eth_chainId`."""
        return await self._call(self._w3.eth.chain_id)

    async def block_number(self) -> int:
        """Number of the latest block."""
        await self._ensure_chain()
        return await self._call(self._w3.eth.block_number)

    async def balance(self, address: str) -> int:
        """Native balance of `address` at the latest block, in base units (neuron).

        Raises:
            InvalidAddressError: `address` is malformed or its checksum is wrong.
        """
        checksummed = normalize_address(address)
        await self._ensure_chain()
        return await self._call(self._w3.eth.get_balance(checksummed))

    async def gas_price(self) -> int:
        """The node's suggested legacy gas price, in neuron."""
        await self._ensure_chain()
        return await self._call(self._w3.eth.gas_price)

    async def node_accounts(self) -> list[str]:
        """Accounts the node itself manages (the funded dev accounts on a devnet)."""
        await self._ensure_chain()
        return [str(a) for a in await self._call(self._w3.eth.accounts)]

    async def _ensure_chain(self) -> None:
        if self._chain_checked:
            return
        served = await self._call(self._w3.eth.chain_id)
        if served != self.expected_chain_id:
            raise WrongChainError(
                f"{self.rpc_url} serves chain {served}, but chain {self.expected_chain_id} is configured"
            )
        self._chain_checked = True

    async def _call(self, request: Awaitable[_T]) -> _T:
        try:
            return await request
        except Web3RPCError as exc:
            raise ChainRequestError(f"the node refused the request: {exc.message}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ChainUnreachableError(f"cannot reach the chain at {self.rpc_url}") from exc
        except Web3Exception as exc:
            raise ChainRequestError(f"unexpected answer from {self.rpc_url}: {exc}") from exc
