"""The chain server's deeper read tools: ERC-20 tokens, blocks, transactions, receipts, contract reads."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError, EncodingError
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_servers.results import guarded
from zerog_client import ChainReader, ZeroGError, normalize_address
from zerog_client.chain.reader import check_hash, encode_call

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)

Address = Annotated[str, Field(description="0x-prefixed 20-byte address", min_length=42, max_length=42)]
TxHash = Annotated[
    str, Field(description="0x-prefixed 32-byte transaction hash", min_length=66, max_length=66)
]
_SIGNATURE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\((?:[a-z0-9\[\],()]{0,400})\)$")
_ABI_TYPE = re.compile(
    r"^(address|bool|string|bytes([1-9]|[12][0-9]|3[0-2])?|u?int(8|16|24|32|40|48|56|64|72|80|88|96|104|112|120|128|136|144|152|160|168|176|184|192|200|208|216|224|232|240|248|256)?)(\[\d{0,3}\])*$"
)


class TokenBalance(BaseModel):
    """An ERC-20 balance."""

    token: str
    owner: str
    balance_base_units: str = Field(description="exact, in the token's smallest unit")
    balance: str = Field(description="exact decimal in whole tokens")
    symbol: str
    decimals: int


class TokenInfoOut(BaseModel):
    """ERC-20 metadata."""

    token: str
    name: str
    symbol: str
    decimals: int


class BlockOut(BaseModel):
    """A block summary."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int
    transaction_count: int
    gas_used: int
    base_fee_per_gas: str | None


class TransactionOut(BaseModel):
    """A transaction as the chain stores it (null fields: not mined yet)."""

    hash: str
    sender: str
    to: str | None
    value_neuron: str
    nonce: int
    gas: int
    input_bytes: int
    block_number: int | None


class ReceiptOut(BaseModel):
    """A receipt with its status decoded."""

    tx_hash: str
    status: str = Field(description="success or reverted")
    block_number: int
    block_hash: str
    gas_used: int
    effective_gas_price: str | None
    contract_address: str | None
    logs: int


class ContractReadOut(BaseModel):
    """Decoded outputs of a view call, as strings (numbers exact)."""

    outputs: list[str]


class ReadCall(BaseModel):
    """One view call of a multicall."""

    target: Address
    signature: Annotated[str, Field(max_length=500)]
    args: Annotated[list[str | int | bool], Field(max_length=16)] = []
    output_types: Annotated[list[str], Field(min_length=1, max_length=16)]
    allow_failure: bool = True


class ReadResult(BaseModel):
    """One call's outcome: its decoded outputs, or that it failed."""

    success: bool
    outputs: list[str]


class MulticallOut(BaseModel):
    """Outcomes in call order, all read at the same block."""

    results: list[ReadResult]


class NotFoundError(ZeroGError):
    """The chain has no such block or transaction (yet)."""

    code = "not_found"


class InvalidAbiError(ZeroGError, ValueError):
    """A function signature or ABI type list that is not valid."""

    code = "invalid_abi"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def _check_types(types: list[str]) -> None:
    for abi_type in types:
        if not _ABI_TYPE.fullmatch(abi_type):
            raise InvalidAbiError(f"unsupported ABI type {abi_type[:40]!r}")


def _parse_signature(signature: str, args: list[str | int | bool], output_types: list[str]) -> list[str]:
    if not _SIGNATURE.fullmatch(signature):
        raise InvalidAbiError("the signature looks like name(type,type)")
    inner = signature[signature.index("(") + 1 : -1]
    arg_types = [t for t in inner.split(",") if t] if inner else []
    _check_types(arg_types)
    _check_types(output_types)
    if len(arg_types) != len(args):
        raise InvalidAbiError(f"{signature} takes {len(arg_types)} argument(s), {len(args)} given")
    return arg_types


def _values(arg_types: list[str], args: list[str | int | bool]) -> list[Any]:
    return [
        normalize_address(a) if t == "address" and isinstance(a, str) else a
        for t, a in zip(arg_types, args, strict=True)
    ]


def register_reads(server: MCPServer, reader: ChainReader) -> None:
    """Add the token, block, transaction, receipt and contract-read tools to `server`."""

    @server.tool(annotations=READ_ONLY)
    async def get_token_balance(token: Address, owner: Address) -> Annotated[CallToolResult, TokenBalance]:
        """ERC-20 balance of `owner`, exact and in whole tokens."""

        async def run() -> TokenBalance:
            info = await reader.token_info(token)
            amount = await reader.token_balance(info.address, owner)
            whole = Decimal(amount).scaleb(-info.decimals)
            return TokenBalance(
                token=info.address,
                owner=normalize_address(owner),
                balance_base_units=str(amount),
                balance=format(whole.normalize(), "f") if amount else "0",
                symbol=info.symbol,
                decimals=info.decimals,
            )

        return await guarded(run)

    @server.tool(annotations=READ_ONLY)
    async def get_token_info(token: Address) -> Annotated[CallToolResult, TokenInfoOut]:
        """Name, symbol and decimals of an ERC-20 token."""

        async def run() -> TokenInfoOut:
            info = await reader.token_info(token)
            return TokenInfoOut(
                token=info.address, name=info.name, symbol=info.symbol, decimals=info.decimals
            )

        return await guarded(run)

    @server.tool(annotations=READ_ONLY)
    async def get_block(
        number: Annotated[int | None, Field(description="block number; omit for the latest", ge=0)] = None,
    ) -> Annotated[CallToolResult, BlockOut]:
        """A block by number (or the latest)."""

        async def run() -> BlockOut:
            block = await reader.block("latest" if number is None else number)
            if block is None:
                raise NotFoundError(f"block {number} does not exist yet")
            fee = block.base_fee_per_gas
            return BlockOut(
                number=block.number,
                hash=block.hash,
                parent_hash=block.parent_hash,
                timestamp=block.timestamp,
                transaction_count=block.transaction_count,
                gas_used=block.gas_used,
                base_fee_per_gas=str(fee) if fee is not None else None,
            )

        return await guarded(run)

    @server.tool(annotations=READ_ONLY)
    async def get_transaction(tx_hash: TxHash) -> Annotated[CallToolResult, TransactionOut]:
        """A transaction by hash."""

        async def run() -> TransactionOut:
            raw = await reader.transaction(check_hash(tx_hash))
            if raw is None:
                raise NotFoundError("the chain does not know this transaction")
            block = raw.get("blockNumber")
            return TransactionOut(
                hash=str(raw["hash"]),
                sender=normalize_address(str(raw["from"])),
                to=normalize_address(str(raw["to"])) if raw.get("to") else None,
                value_neuron=str(int(str(raw["value"]), 16)),
                nonce=int(str(raw["nonce"]), 16),
                gas=int(str(raw["gas"]), 16),
                input_bytes=(len(str(raw.get("input", "0x"))) - 2) // 2,
                block_number=int(str(block), 16) if block else None,
            )

        return await guarded(run)

    @server.tool(annotations=READ_ONLY)
    async def get_receipt(tx_hash: TxHash) -> Annotated[CallToolResult, ReceiptOut]:
        """The receipt of a mined transaction, with its status decoded."""

        async def run() -> ReceiptOut:
            receipt = await reader.receipt(check_hash(tx_hash))
            if receipt is None:
                raise NotFoundError("no receipt: the transaction is unknown or not mined yet")
            price = receipt.effective_gas_price
            return ReceiptOut(
                tx_hash=receipt.tx_hash,
                status=receipt.status,
                block_number=receipt.block_number,
                block_hash=receipt.block_hash,
                gas_used=receipt.gas_used,
                effective_gas_price=str(price) if price is not None else None,
                contract_address=receipt.contract_address,
                logs=receipt.logs,
            )

        return await guarded(run)

    @server.tool(annotations=READ_ONLY)
    async def read_contract(
        contract: Address,
        signature: Annotated[str, Field(description='e.g. "balanceOf(address)"', max_length=500)],
        args: Annotated[list[str | int | bool], Field(description="arguments in order", max_length=16)],
        output_types: Annotated[
            list[str], Field(description='e.g. ["uint256"]', min_length=1, max_length=16)
        ],
    ) -> Annotated[CallToolResult, ContractReadOut]:
        """Call a view function by its signature and decode the outputs (nothing is sent)."""

        async def run() -> ContractReadOut:
            arg_types = _parse_signature(signature, args, output_types)
            values = _values(arg_types, args)
            try:
                outputs = await reader.read(contract, signature, arg_types, values, output_types)
            except (EncodingError, TypeError, ValueError) as exc:
                raise InvalidAbiError(f"the arguments do not fit {signature}") from exc
            return ContractReadOut(outputs=[_text(o) for o in outputs])

        return await guarded(run)

    @server.tool(annotations=READ_ONLY)
    async def multicall_read(
        multicall: Annotated[Address, Field(description="a Multicall3-compatible aggregator")],
        calls: Annotated[list[ReadCall], Field(min_length=1, max_length=50)],
    ) -> Annotated[CallToolResult, MulticallOut]:
        """Many view calls in one `eth_call` through a Multicall3 aggregator, all at the same block."""

        async def run() -> MulticallOut:
            encoded = []
            for call in calls:
                arg_types = _parse_signature(call.signature, call.args, call.output_types)
                try:
                    data = encode_call(call.signature, arg_types, _values(arg_types, call.args))
                except (EncodingError, TypeError, ValueError) as exc:
                    raise InvalidAbiError(f"the arguments do not fit {call.signature}") from exc
                encoded.append((call.target, bytes.fromhex(data[2:]), call.allow_failure))
            answers = await reader.multicall(multicall, encoded)
            results = []
            for call, (ok, raw) in zip(calls, answers, strict=True):
                if not ok:
                    results.append(ReadResult(success=False, outputs=[]))
                    continue
                try:
                    outputs = abi_decode(call.output_types, raw)
                except DecodingError:
                    results.append(ReadResult(success=False, outputs=[]))
                    continue
                results.append(ReadResult(success=True, outputs=[_text(o) for o in outputs]))
            return MulticallOut(results=results)

        return await guarded(run)
