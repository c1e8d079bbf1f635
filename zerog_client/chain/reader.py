"""Reads from the chain through an `RpcPool`: balances (native and ERC-20, one or many at once),
token metadata, blocks, transactions, receipts, gas price, and contract reads by ABI."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import function_signature_to_4byte_selector

from zerog_client.address import normalize_address
from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.chain.pool import PoolConfig, RpcPool
from zerog_client.errors import ChainRequestError, InvalidAddressError, ZeroGError
from zerog_client.networks import Network, network_for_chain_id

_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


class InvalidHashError(ZeroGError, ValueError):
    """A transaction or block hash that is not 32 bytes of hex."""

    code = "invalid_hash"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """ERC-20 metadata."""

    address: str
    name: str
    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class BlockSummary:
    """The parts of a block people ask about."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int
    transaction_count: int
    gas_used: int
    base_fee_per_gas: int | None


@dataclass(frozen=True, slots=True)
class ReceiptSummary:
    """A receipt with its status decoded."""

    tx_hash: str
    status: str  # "success" | "reverted"
    block_number: int
    block_hash: str
    gas_used: int
    effective_gas_price: int | None
    contract_address: str | None
    logs: int


def _hex_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def check_hash(value: str) -> str:
    """Validate a 32-byte hex hash; return it lower-cased.

    Raises:
        InvalidHashError: not 0x + 64 hex characters.
    """
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise InvalidHashError("a hash is 0x followed by 64 hexadecimal characters")
    return value.lower()


def encode_call(signature: str, types: Sequence[str], args: Sequence[Any]) -> str:
    """Calldata for `signature` (e.g. "balanceOf(address)") with ABI-encoded `args`."""
    return (
        "0x" + (function_signature_to_4byte_selector(signature) + abi_encode(list(types), list(args))).hex()
    )


class ChainReader:
    """Reads through a pool of endpoints that all serve `expected_chain_id`.

    Use as an async context manager; opening checks the chain id of every endpoint and fails closed.
    """

    def __init__(
        self,
        rpc_urls: str | Sequence[str],
        expected_chain_id: int,
        timeout_s: float = 5.0,
        pool_config: PoolConfig | None = None,
    ) -> None:
        """Prepare a reader; nothing is contacted until `open()`.

        Args:
            rpc_urls: one URL or several of the same chain (the pool fails over between them).
            expected_chain_id: the chain every endpoint must serve.
            timeout_s: per-request timeout.
            pool_config: retry and health settings (its timeout wins over `timeout_s`).
        """
        urls = [rpc_urls] if isinstance(rpc_urls, str) else list(rpc_urls)
        self.pool = RpcPool(urls, expected_chain_id, pool_config or PoolConfig(timeout_s=timeout_s))
        self.rpc_url = urls[0]
        self.expected_chain_id = expected_chain_id
        self.network: Network = network_for_chain_id(expected_chain_id)

    def __repr__(self) -> str:
        return f"ChainReader(rpc_urls={list(self.pool.urls)!r}, chain_id={self.expected_chain_id})"

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
        """Connect and verify the chain id of every endpoint.

        Raises:
            ChainUnreachableError: no endpoint answers.
            WrongChainError: the endpoints answer for another chain.
        """
        await self.pool.open()

    async def close(self) -> None:
        """Close the pool."""
        await self.pool.close()

    async def chain_id(self) -> int:
        """The served `eth_chainId`."""
        return _hex_int(await self.pool.call("eth_chainId"))

    async def block_number(self) -> int:
        """Number of the latest block."""
        return _hex_int(await self.pool.call("eth_blockNumber"))

    async def balance(self, address: str, block: str = "latest") -> int:
        """Native balance in base units (neuron).

        Raises:
            InvalidAddressError: malformed address or wrong checksum.
        """
        return _hex_int(await self.pool.call("eth_getBalance", [normalize_address(address), block]))

    async def balances(self, addresses: Sequence[str], block: str = "latest") -> list[int]:
        """Native balances of many addresses in one JSON-RPC batch, in order."""
        checked = [normalize_address(a) for a in addresses]
        results = await self.pool.batch([("eth_getBalance", [a, block]) for a in checked])
        return [_hex_int(_unwrap(r)) for r in results]

    async def gas_price(self) -> int:
        """The node's suggested legacy gas price, in neuron."""
        return _hex_int(await self.pool.call("eth_gasPrice"))

    async def transaction_count(self, address: str, block: str = "pending") -> int:
        """The sender's next nonce as the node sees it (`pending` includes its mempool)."""
        return _hex_int(await self.pool.call("eth_getTransactionCount", [normalize_address(address), block]))

    async def node_accounts(self) -> list[str]:
        """Accounts the node itself manages (the funded dev accounts on a devnet)."""
        return [normalize_address(a) for a in await self.pool.call("eth_accounts")]

    async def call(self, to: str, data: str, block: str = "latest", sender: str | None = None) -> bytes:
        """Raw `eth_call` result.

        Raises:
            ChainRequestError: the call reverted (its reason in the message).
        """
        request: dict[str, str] = {"to": normalize_address(to), "data": data}
        if sender is not None:
            request["from"] = normalize_address(sender)
        result = await self.pool.call("eth_call", [request, block])
        return bytes.fromhex(str(result)[2:])

    async def read(
        self,
        contract: str,
        signature: str,
        arg_types: Sequence[str],
        args: Sequence[Any],
        out_types: Sequence[str],
    ) -> tuple[Any, ...]:
        """Call a view function by its ABI signature and decode the outputs.

        Example: `read(token, "balanceOf(address)", ["address"], [owner], ["uint256"])`.

        Raises:
            ChainRequestError: the call reverted or returned data that does not decode.
        """
        raw = await self.call(contract, encode_call(signature, arg_types, args))
        try:
            return tuple(abi_decode(list(out_types), raw))
        except DecodingError as exc:
            raise ChainRequestError(f"{signature} at {contract} returned undecodable data") from exc

    async def multicall(
        self, multicall: str, calls: Sequence[tuple[str, bytes, bool]]
    ) -> list[tuple[bool, bytes]]:
        """Many contract reads in one `eth_call` through a Multicall3-compatible aggregator.

        Args:
            multicall: the aggregator's address (the devnet deploys one).
            calls: (target, calldata, allow_failure) per read.

        Returns:
            (success, return data) per call, in order.

        Raises:
            ChainRequestError: a call that may not fail failed (the whole aggregate reverts).
        """
        payload = [(normalize_address(target), allow, data) for target, data, allow in calls]
        raw = await self.call(
            multicall,
            encode_call("aggregate3((address,bool,bytes)[])", ["(address,bool,bytes)[]"], [payload]),
        )
        try:
            (results,) = abi_decode(["(bool,bytes)[]"], raw)
        except DecodingError as exc:
            raise ChainRequestError(f"{multicall} did not answer like a Multicall3 aggregator") from exc
        return [(bool(ok), bytes(data)) for ok, data in results]

    async def token_balance(self, token: str, owner: str) -> int:
        """ERC-20 balance of `owner` in the token's base units."""
        (amount,) = await self.read(
            token, "balanceOf(address)", ["address"], [normalize_address(owner)], ["uint256"]
        )
        return int(amount)

    async def token_info(self, token: str) -> TokenInfo:
        """Name, symbol and decimals of an ERC-20, read in one batch.

        Raises:
            ChainRequestError: not an ERC-20 (a call reverted or did not decode).
        """
        address = normalize_address(token)
        calls = [
            ("eth_call", [{"to": address, "data": encode_call(sig, [], [])}, "latest"])
            for sig in ("name()", "symbol()", "decimals()")
        ]
        name_raw, symbol_raw, decimals_raw = (
            bytes.fromhex(str(_unwrap(r))[2:]) for r in await self.pool.batch(calls)
        )
        try:
            (name,) = abi_decode(["string"], name_raw)
            (symbol,) = abi_decode(["string"], symbol_raw)
            (decimals,) = abi_decode(["uint8"], decimals_raw)
        except DecodingError as exc:
            raise ChainRequestError(f"{address} does not look like an ERC-20 token") from exc
        return TokenInfo(address, str(name), str(symbol), int(decimals))

    async def block(self, number: int | str = "latest") -> BlockSummary | None:
        """A block by number or tag ("latest", "finalized", ...), or None when it does not exist."""
        tag = hex(number) if isinstance(number, int) else number
        raw = await self.pool.call("eth_getBlockByNumber", [tag, False])
        if raw is None:
            return None
        base_fee = raw.get("baseFeePerGas")
        return BlockSummary(
            number=_hex_int(raw["number"]),
            hash=str(raw["hash"]),
            parent_hash=str(raw["parentHash"]),
            timestamp=_hex_int(raw["timestamp"]),
            transaction_count=len(raw.get("transactions", [])),
            gas_used=_hex_int(raw["gasUsed"]),
            base_fee_per_gas=_hex_int(base_fee) if base_fee is not None else None,
        )

    async def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        """A transaction as the node returns it, or None when unknown."""
        result = await self.pool.call("eth_getTransactionByHash", [check_hash(tx_hash)])
        return dict(result) if result is not None else None

    async def receipt(self, tx_hash: str) -> ReceiptSummary | None:
        """The receipt with a decoded status, or None when not mined (yet)."""
        raw = await self.pool.call("eth_getTransactionReceipt", [check_hash(tx_hash)])
        return _receipt(raw) if raw is not None else None

    async def logs_of(self, tx_hash: str) -> list[dict[str, Any]]:
        """The raw logs of a mined transaction ([] when not mined)."""
        raw = await self.pool.call("eth_getTransactionReceipt", [check_hash(tx_hash)])
        return [dict(log) for log in raw.get("logs", [])] if raw is not None else []

    async def receipts(self, tx_hashes: Sequence[str]) -> list[ReceiptSummary | None]:
        """Receipts of many transactions in one batch, in order."""
        checked = [check_hash(h) for h in tx_hashes]
        results = await self.pool.batch([("eth_getTransactionReceipt", [h]) for h in checked])
        return [_receipt(r) if r is not None else None for r in map(_unwrap, results)]


def _unwrap(item: Any) -> Any:
    if isinstance(item, JsonRpcError):
        raise item
    return item


def _receipt(raw: dict[str, Any]) -> ReceiptSummary:
    price = raw.get("effectiveGasPrice")
    return ReceiptSummary(
        tx_hash=str(raw["transactionHash"]),
        status="success" if _hex_int(raw.get("status", "0x1")) == 1 else "reverted",
        block_number=_hex_int(raw["blockNumber"]),
        block_hash=str(raw["blockHash"]),
        gas_used=_hex_int(raw["gasUsed"]),
        effective_gas_price=_hex_int(price) if price is not None else None,
        contract_address=raw.get("contractAddress"),
        logs=len(raw.get("logs", [])),
    )


__all__ = [
    "BlockSummary",
    "ChainReader",
    "InvalidAddressError",
    "InvalidHashError",
    "ReceiptSummary",
    "TokenInfo",
    "check_hash",
    "encode_call",
]
