"""Batch transfers: one confirmation for several recipients of one asset, sent as one burst.

`prepare_batch_transfer` prepares one transaction per recipient (consecutive nonces, simulated and
priced like a single transfer), runs the policy over the batch as if the transfers were sent one
after the other (so a batch cannot slip past the 24 h cap), and returns one handle sealing every
transaction. `confirm_batch_transfer(handle)` redeems it once and hands all the transactions to the
transaction manager in one pipelined burst, keyed by the handle id so a retry never sends twice.

Batches are custodial only: a wallet would have to sign each transaction anyway, so a
non-custodial client prepares them one by one with `prepare_transfer`.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field

from mcp_servers.confirmations import ConfirmationInvalid
from mcp_servers.results import guarded
from mcp_servers.sending import DESTRUCTIVE, ResolvedAsset, SendingCore, decimal_text
from zerog_client import ZeroGError, normalize_address, parse_amount
from zerog_client.tx.manager import InsufficientFundsError, TransactionManager
from zerog_client.tx.requests import TxRequest
from zerog_client.tx.unsigned import UnsignedTx

# Bounds the sealed handle (about 100 bytes a recipient) and the burst sent at once.
MAX_BATCH = 20


class DuplicateRecipientError(ZeroGError):
    """A recipient appears twice in one batch: almost always a slip, so it is refused."""

    code = "duplicate_recipient"


class BatchEntry(BaseModel):
    """One recipient of a batch, as the caller gives it."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="recipient, 0x-prefixed 20-byte address", max_length=64)
    amount: str = Field(description='decimal amount in whole units, e.g. "0.5"', max_length=100)


class BatchLine(BaseModel):
    """One transfer of a prepared batch."""

    to: str = Field(description="the recipient, EIP-55 checksummed")
    amount: str = Field(description="exact decimal amount in whole units of the asset")
    amount_base_units: str
    gas_limit: int


class BatchSummary(BaseModel):
    """Exactly what will happen if the batch is confirmed."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    chain_id: int
    network: str
    from_: str = Field(alias="from", description="the sending account")
    asset: str = Field(description='"0G" or the ERC-20 token address')
    symbol: str
    transfers: list[BatchLine]
    total_amount: str = Field(description="the sum of the amounts, in whole units of the asset")
    fee_cap_neuron: str = Field(description="the most paid per gas, in neuron")
    max_total_fee: str = Field(description="the largest possible fee of the whole batch, in neuron")


class PreparedBatch(BaseModel):
    """A batch awaiting confirmation."""

    summary: BatchSummary
    handle: str = Field(description="single-use confirmation handle for the whole batch")
    expires_in_s: int


class SentLine(BaseModel):
    """One transfer of a confirmed batch, handed to the network."""

    to: str
    amount: str
    tx_hash: str
    status: str


class SentBatch(BaseModel):
    """A batch handed to the network, in the order it was prepared."""

    transfers: list[SentLine]


def batch_digest(txs: list[UnsignedTx]) -> str:
    """One hash binding every transaction of a batch, in order."""
    joined = "|".join(tx.digest() for tx in txs)
    return hashlib.sha256(f"batch|{joined}".encode()).hexdigest()


def _seal(
    asset: ResolvedAsset, txs: list[UnsignedTx], recipients: list[str], units: list[int]
) -> dict[str, Any]:
    # Compact on purpose: the calldata is rebuilt from recipient and amount, the shared fields once.
    first = txs[0]

    def opt(value: int | None) -> str | None:
        return None if value is None else str(value)

    return {
        "kind": "batch",
        "asset": [asset.key, asset.shown, asset.symbol, asset.decimals],
        "chain_id": first.chain_id,
        "fees": [opt(first.gas_price), opt(first.max_fee_per_gas), opt(first.max_priority_fee_per_gas)],
        "items": [
            [to, str(amount), tx.nonce, tx.gas] for to, amount, tx in zip(recipients, units, txs, strict=True)
        ],
    }


def _unseal(sealed: dict[str, Any]) -> tuple[ResolvedAsset, list[tuple[str, int, UnsignedTx]]]:
    """The asset and (recipient, base units, transaction) of each line. Only our handles get here."""
    if sealed.get("kind") != "batch":
        raise ConfirmationInvalid("this handle confirms a single transfer; use confirm_transfer")

    def opt(value: Any) -> int | None:
        return None if value is None else int(value)

    try:
        key, shown, symbol, decimals = sealed["asset"]
        asset = ResolvedAsset(str(key), str(shown), str(symbol), int(decimals))
        gas_price, max_fee, priority = (opt(v) for v in sealed["fees"])
        lines = []
        for to, amount, nonce, gas in sealed["items"]:
            request = SendingCore.transfer_request("sealed", str(to), int(amount), asset).validated()
            tx = UnsignedTx(
                chain_id=int(sealed["chain_id"]),
                nonce=int(nonce),
                to=request.to,
                value=request.value,
                data=request.data,
                gas=int(gas),
                gas_price=gas_price,
                max_fee_per_gas=max_fee,
                max_priority_fee_per_gas=priority,
            )
            lines.append((str(to), int(amount), tx))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfirmationInvalid("the confirmation is not valid") from exc
    return asset, lines


def register_batch(server: MCPServer, core: SendingCore, manager: TransactionManager) -> None:
    """Add `prepare_batch_transfer` and `confirm_batch_transfer` (custodial) to `server`."""
    deps = core.deps

    async def prepare_lines(
        asset: ResolvedAsset, recipients: list[str], units: list[int]
    ) -> list[UnsignedTx]:
        txs: list[UnsignedTx] = []
        for index, (recipient, amount) in enumerate(zip(recipients, units, strict=True)):
            tx = await deps.external.prepare(
                core.transfer_request("prepare", recipient, amount, asset), core.sender
            )
            # Each is priced alone; as a batch they take consecutive nonces and the first quote.
            first = txs[0] if txs else tx
            txs.append(
                UnsignedTx(
                    chain_id=tx.chain_id,
                    nonce=first.nonce + index,
                    to=tx.to,
                    value=tx.value,
                    data=tx.data,
                    gas=tx.gas,
                    gas_price=first.gas_price,
                    max_fee_per_gas=first.max_fee_per_gas,
                    max_priority_fee_per_gas=first.max_priority_fee_per_gas,
                )
            )
        return txs

    async def check_funds(asset: ResolvedAsset, txs: list[UnsignedTx], units: list[int]) -> None:
        # Each line was checked alone; together they must fit too.
        native_need = sum(tx.max_cost for tx in txs)
        if native_need > await deps.reader.balance(core.sender):
            raise InsufficientFundsError(f"{core.sender} cannot cover the batch and its largest fees")
        if not asset.native and sum(units) > await deps.reader.token_balance(asset.shown, core.sender):
            raise InsufficientFundsError(f"{core.sender} holds less {asset.symbol} than the batch sends")

    @server.tool(annotations=DESTRUCTIVE)
    async def prepare_batch_transfer(
        transfers: Annotated[
            list[BatchEntry],
            Field(
                description=f"the recipients and amounts, 1 to {MAX_BATCH}",
                min_length=1,
                max_length=MAX_BATCH,
            ),
        ],
        asset: Annotated[
            str, Field(description='"0G" for the native coin, or an ERC-20 token address', max_length=64)
        ] = "0G",
    ) -> Annotated[CallToolResult, PreparedBatch]:
        """Step 1 of a batch: describe every transfer that would be sent and return one handle.

        Nothing is signed or sent. Read every line to the user; only if they agree, call
        confirm_batch_transfer with the handle. All transfers are of the same asset.
        """

        async def run() -> PreparedBatch:
            principal = deps.principal()
            resolved = await core.resolve_asset(asset)
            recipients = [str(normalize_address(entry.to)) for entry in transfers]
            if len({r.lower() for r in recipients}) != len(recipients):
                raise DuplicateRecipientError("a recipient appears twice; give each one once, with the sum")
            units = [parse_amount(entry.amount, resolved.decimals) for entry in transfers]
            txs = await prepare_lines(resolved, recipients, units)
            await core.judge(principal, txs)
            await check_funds(resolved, txs, units)
            fee_cap = txs[0].fee_cap
            summary = BatchSummary.model_validate(
                {
                    "chain_id": txs[0].chain_id,
                    "network": core.network.name,
                    "from": core.sender,
                    "asset": resolved.shown,
                    "symbol": resolved.symbol,
                    "transfers": [
                        BatchLine(
                            to=to,
                            amount=decimal_text(amount, resolved.decimals),
                            amount_base_units=str(amount),
                            gas_limit=tx.gas,
                        )
                        for to, amount, tx in zip(recipients, units, txs, strict=True)
                    ],
                    "total_amount": decimal_text(sum(units), resolved.decimals),
                    "fee_cap_neuron": str(fee_cap),
                    "max_total_fee": str(sum(tx.gas for tx in txs) * fee_cap),
                }
            )
            handle = deps.handles.mint(principal, batch_digest(txs), _seal(resolved, txs, recipients, units))
            return PreparedBatch(summary=summary, handle=handle, expires_in_s=int(deps.handles.ttl_s))

        return await guarded(run)

    @server.tool(annotations=DESTRUCTIVE)
    async def confirm_batch_transfer(
        handle: Annotated[
            str, Field(description="the handle prepare_batch_transfer returned", max_length=8192)
        ],
    ) -> Annotated[CallToolResult, SentBatch]:
        """Step 2: send every transfer of the batch the user agreed to. Only after they explicitly
        confirmed the summary of prepare_batch_transfer. Each handle works once and expires within
        two minutes."""

        async def run() -> SentBatch:
            principal = deps.principal()
            asset, lines = _unseal(deps.handles.open(handle).summary)
            txs = [tx for _, _, tx in lines]
            confirmation = await deps.handles.redeem(handle, principal, batch_digest(txs), deps.used_handles)
            async with core.send_lock:
                await core.judge(principal, txs)
                records = await manager.submit_many(
                    [
                        TxRequest(
                            f"{confirmation.handle_id}/{index}",
                            tx.to,
                            tx.value,
                            tx.data,
                            gas_limit=tx.gas,
                            max_fee_per_gas=tx.fee_cap,
                        )
                        for index, tx in enumerate(txs)
                    ]
                )
                await core.record_spends(principal, txs)
            return SentBatch(
                transfers=[
                    SentLine(
                        to=normalize_address(to),
                        amount=decimal_text(amount, asset.decimals),
                        tx_hash=record.latest.tx_hash,
                        status=str(record.status),
                    )
                    for (to, amount, _), record in zip(lines, records, strict=True)
                ]
            )

        return await guarded(run)
