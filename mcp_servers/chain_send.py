"""The chain server's value-moving tools: prepare, confirm (custodial), send signed (non-custodial), wait.

No tool acts on its first call. `prepare_transfer` builds the exact unsigned transaction (simulated
and priced), runs the default-deny policy, and returns what will happen with a server-minted,
single-use handle sealing that transaction; nothing is signed. Only a second call presenting the
handle sends it:

* custodial (`SendingDeps.manager` set): `confirm_transfer(handle)` re-derives the digest from the
  transaction sealed in the handle, redeems the handle once, re-runs the policy against the spending
  recorded *now*, and submits through the `TransactionManager` with the handle id as idempotency key.
* non-custodial (`manager` None): `prepare_transfer` also returns the unsigned transaction for the
  user's own wallet, and `send_signed_transfer(handle, signed_tx_hex)` accepts the signed bytes only
  if they are exactly that transaction, signed by that wallet.

What the handle binds. The digest is `UnsignedTx.digest()` of the prepared transaction: chain, nonce,
recipient/contract, value, calldata, gas limit and fee fields. In non-custodial mode the wallet
signs exactly that. In custodial mode the manager owns nonces and prices at submission, so the sent
transaction has exactly the confirmed chain, recipient, value, calldata and gas limit, a nonce of the
manager's choosing, and fees re-quoted *no higher than the confirmed fee cap per gas* (the request
carries that cap and the manager refuses with `fee_cap_exceeded` rather than pay more).
So the user-visible terms (recipient, amount, asset, chain, largest possible fee) are always exact.

No tool accepts or returns key material: inputs are addresses, amounts, handles and signed bytes.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from mcp_servers.chain_batch import register_batch
from mcp_servers.confirmations import ConfirmationInvalid
from mcp_servers.results import guarded
from mcp_servers.sending import (
    DESTRUCTIVE,
    InvalidSignedTxError,
    PolicyDeniedError,
    SendingCore,
    SendingDeps,
    UnknownAssetError,
    WaitTimeoutError,
    decimal_text,
)
from zerog_client import normalize_address, parse_amount
from zerog_client.tx.requests import TxRequest
from zerog_client.tx.unsigned import UnsignedTx, verify_signed

__all__ = [
    "DESTRUCTIVE",
    "InvalidSignedTxError",
    "PolicyDeniedError",
    "SendingDeps",
    "UnknownAssetError",
    "WaitTimeoutError",
    "register_sending",
]

_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
MAX_WAIT_S = 60.0
_POLL_S = 0.2
# A signed simple transfer is a few hundred bytes; this bound only stops abuse.
_MAX_SIGNED_HEX = 4096


class TransferSummary(BaseModel):
    """Exactly what will happen if the transfer is confirmed."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    chain_id: int
    network: str
    from_: str = Field(alias="from", description="the sending account")
    to: str = Field(description="the recipient, EIP-55 checksummed")
    asset: str = Field(description='"0G" or the ERC-20 token address')
    symbol: str
    amount: str = Field(description="exact decimal amount in whole units of the asset")
    amount_base_units: str
    gas_limit: int
    fee_cap_neuron: str = Field(description="the most paid per gas, in neuron")
    max_total_fee: str = Field(description="the largest possible fee (gas limit x fee cap), in neuron")


class PreparedTransfer(BaseModel):
    """A transfer awaiting confirmation."""

    summary: TransferSummary
    handle: str = Field(description="single-use confirmation handle; present it to send")
    expires_in_s: int
    unsigned_tx: dict[str, Any] | None = Field(
        default=None, description="non-custodial mode: the transaction for the user's wallet to sign"
    )


class SentTransfer(BaseModel):
    """A transfer handed to the network."""

    tx_hash: str
    status: str


class TransactionStatus(BaseModel):
    """Where a transaction stands."""

    tx_hash: str
    status: str = Field(description='"success" or "reverted"')
    block_number: int
    gas_used: int


def _seal(tx: UnsignedTx, summary: TransferSummary, asset_key: str, decimals: int) -> dict[str, Any]:
    # Big integers travel as decimal strings so the sealed JSON is exact for any reader.
    def opt(value: int | None) -> str | None:
        return None if value is None else str(value)

    return {
        "shown": summary.model_dump(mode="json", by_alias=True),
        "asset_key": asset_key,
        "decimals": decimals,
        "tx": {
            "chain_id": tx.chain_id,
            "nonce": tx.nonce,
            "to": tx.to,
            "value": str(tx.value),
            "data": tx.data.hex(),
            "gas": tx.gas,
            "gas_price": opt(tx.gas_price),
            "max_fee_per_gas": opt(tx.max_fee_per_gas),
            "max_priority_fee_per_gas": opt(tx.max_priority_fee_per_gas),
        },
    }


def _unseal(sealed: dict[str, Any]) -> tuple[UnsignedTx, dict[str, Any]]:
    """The sealed transaction and shown summary. Only a handle we minted gets here."""

    def opt(value: Any) -> int | None:
        return None if value is None else int(value)

    if sealed.get("kind") == "batch":
        raise ConfirmationInvalid("this handle confirms a batch; use confirm_batch_transfer")
    try:
        raw = sealed["tx"]
        tx = UnsignedTx(
            chain_id=int(raw["chain_id"]),
            nonce=int(raw["nonce"]),
            to=str(raw["to"]),
            value=int(raw["value"]),
            data=bytes.fromhex(str(raw["data"])),
            gas=int(raw["gas"]),
            gas_price=opt(raw["gas_price"]),
            max_fee_per_gas=opt(raw["max_fee_per_gas"]),
            max_priority_fee_per_gas=opt(raw["max_priority_fee_per_gas"]),
        )
        return tx, dict(sealed["shown"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfirmationInvalid("the confirmation is not valid") from exc


def register_sending(server: MCPServer, deps: SendingDeps) -> None:
    """Add the value-moving tools to `server` (custodial when `deps.manager` is set).

    Raises:
        ValueError: non-custodial mode without a wallet address.
    """
    core = SendingCore(deps)
    sender, network, custodial = core.sender, core.network, deps.manager is not None

    @server.tool(annotations=DESTRUCTIVE)
    async def prepare_transfer(
        to: Annotated[str, Field(description="recipient, 0x-prefixed 20-byte address", max_length=64)],
        amount: Annotated[
            str, Field(description='decimal amount in whole units, e.g. "0.5"', max_length=100)
        ],
        asset: Annotated[
            str, Field(description='"0G" for the native coin, or an ERC-20 token address', max_length=64)
        ] = "0G",
    ) -> Annotated[CallToolResult, PreparedTransfer]:
        """Step 1 of a transfer: describe exactly what would be sent and return a confirmation handle.

        Nothing is signed or sent. Read the summary to the user; only if they agree, call
        confirm_transfer (or, with their own wallet, send_signed_transfer) with the handle.
        """

        async def run() -> PreparedTransfer:
            principal = deps.principal()
            recipient = normalize_address(to)
            resolved = await core.resolve_asset(asset)
            base_units = parse_amount(amount, resolved.decimals)
            tx = await deps.external.prepare(
                core.transfer_request("prepare", recipient, base_units, resolved), sender
            )
            await core.judge(principal, [tx])
            summary = TransferSummary.model_validate(
                {
                    "chain_id": tx.chain_id,
                    "network": network.name,
                    "from": sender,
                    "to": recipient,
                    "asset": resolved.shown,
                    "symbol": resolved.symbol,
                    "amount": decimal_text(base_units, resolved.decimals),
                    "amount_base_units": str(base_units),
                    "gas_limit": tx.gas,
                    "fee_cap_neuron": str(tx.fee_cap),
                    "max_total_fee": str(tx.gas * tx.fee_cap),
                }
            )
            handle = deps.handles.mint(
                principal, tx.digest(), _seal(tx, summary, resolved.key, resolved.decimals)
            )
            return PreparedTransfer(
                summary=summary,
                handle=handle,
                expires_in_s=int(deps.handles.ttl_s),
                unsigned_tx=None if custodial else tx.as_json(),
            )

        return await guarded(run)

    if deps.manager is not None:
        manager = deps.manager

        @server.tool(annotations=DESTRUCTIVE)
        async def confirm_transfer(
            handle: Annotated[
                str, Field(description="the handle prepare_transfer returned", max_length=8192)
            ],
        ) -> Annotated[CallToolResult, SentTransfer]:
            """Step 2: send the transfer the user agreed to. Only after they explicitly confirmed the
            summary of prepare_transfer. Each handle works once and expires within two minutes."""

            async def run() -> SentTransfer:
                principal = deps.principal()
                tx, _ = _unseal(deps.handles.open(handle).summary)
                # The digest is recomputed from the sealed fields: redeem checks binding and expiry
                # before it marks the handle used.
                confirmation = await deps.handles.redeem(handle, principal, tx.digest(), deps.used_handles)
                async with core.send_lock:
                    await core.judge(principal, [tx])
                    # The manager re-quotes fees at submission, capped at the fee the user confirmed.
                    record = await manager.submit(
                        TxRequest(
                            confirmation.handle_id,
                            tx.to,
                            tx.value,
                            tx.data,
                            gas_limit=tx.gas,
                            max_fee_per_gas=tx.fee_cap,
                        )
                    )
                    await core.record_spends(principal, [tx])
                return SentTransfer(tx_hash=record.latest.tx_hash, status=str(record.status))

            return await guarded(run)

        register_batch(server, core, manager)

    else:

        @server.tool(annotations=DESTRUCTIVE)
        async def send_signed_transfer(
            handle: Annotated[
                str, Field(description="the handle prepare_transfer returned", max_length=8192)
            ],
            signed_tx_hex: Annotated[
                str,
                Field(
                    description="the transaction signed by the user's wallet, 0x hex",
                    max_length=_MAX_SIGNED_HEX,
                ),
            ],
        ) -> Annotated[CallToolResult, SentTransfer]:
            """Step 2 with the user's own wallet: broadcast the signed transaction, accepted only if it is
            exactly the one prepare_transfer returned, signed by the configured wallet."""

            async def run() -> SentTransfer:
                principal = deps.principal()
                tx, _ = _unseal(deps.handles.open(handle).summary)
                text = signed_tx_hex.strip()
                text = text[2:] if text[:2].lower() == "0x" else text
                try:
                    raw = bytes.fromhex(text)
                except ValueError as exc:
                    raise InvalidSignedTxError("the signed transaction must be hex bytes") from exc
                # Checked before redeeming, so wrong bytes never burn the user's handle.
                verify_signed(raw, tx, sender)
                confirmation = await deps.handles.redeem(handle, principal, tx.digest(), deps.used_handles)
                async with core.send_lock:
                    await core.judge(principal, [tx])
                    record = await deps.external.submit_signed(confirmation.handle_id, raw, tx, sender)
                    await core.record_spends(principal, [tx])
                return SentTransfer(tx_hash=record.latest.tx_hash, status=str(record.status))

            return await guarded(run)

    @server.tool(annotations=_READ_ONLY)
    async def wait_for_transaction(
        tx_hash: Annotated[str, Field(description="0x-prefixed 32-byte transaction hash", max_length=66)],
        timeout_s: Annotated[float, Field(gt=0, le=MAX_WAIT_S, description="at most 60 s")] = 30.0,
    ) -> Annotated[CallToolResult, TransactionStatus]:
        """Wait until a transaction is mined (at most `timeout_s`), then report success or revert."""

        async def run() -> TransactionStatus:
            with anyio.move_on_after(timeout_s):
                while True:
                    receipt = await deps.reader.receipt(tx_hash)
                    if receipt is not None:
                        return TransactionStatus(
                            tx_hash=receipt.tx_hash,
                            status=receipt.status,
                            block_number=receipt.block_number,
                            gas_used=receipt.gas_used,
                        )
                    await anyio.sleep(_POLL_S)  # polling cadence of the receipt
            raise WaitTimeoutError(f"not mined within {timeout_s:g} s; it may still be mined")

        return await guarded(run)
