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

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

import anyio
from eth_abi.abi import encode as abi_encode
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from mcp_servers.confirmations import (
    ConfirmationHandles,
    ConfirmationInvalid,
    HandleLedger,
    SpendLedger,
    spend_state,
)
from mcp_servers.policy import (
    NATIVE_ASSET,
    SELECTOR_TRANSFER,
    PolicyConfig,
    TransferIntent,
    asset_of,
    evaluate,
)
from mcp_servers.results import guarded
from zerog_client import (
    ChainReader,
    ZeroGError,
    normalize_address,
    parse_amount,
)
from zerog_client.errors import ChainRequestError
from zerog_client.tx.external import ExternalSender
from zerog_client.tx.manager import TransactionManager
from zerog_client.tx.requests import TxRequest
from zerog_client.tx.unsigned import UnsignedTx, verify_signed

DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)
_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
NATIVE_NAMES = frozenset({"0g", "native"})
MAX_WAIT_S = 60.0
_POLL_S = 0.2
# A signed simple transfer is a few hundred bytes; this bound only stops abuse.
_MAX_SIGNED_HEX = 4096


class UnknownAssetError(ZeroGError):
    """The asset is neither the native coin nor a readable ERC-20 token address."""

    code = "unknown_asset"


class PolicyDeniedError(ZeroGError):
    """The policy engine refused; `code` is the id of the first violated rule."""

    def __init__(self, rule_id: str, message: str) -> None:
        super().__init__(message)
        self.code = rule_id


class WaitTimeoutError(ZeroGError):
    """The transaction was not mined within the wait; it may still be."""

    code = "tx_timeout"
    retryable = True


class InvalidSignedTxError(ZeroGError):
    """The signed transaction is not hex bytes."""

    code = "invalid_signed_tx"


@dataclass(frozen=True, slots=True)
class SendingDeps:
    """What the sending tools need.

    Attributes:
        reader: an open reader of the configured chain.
        external: prepares unsigned transactions (simulation, fees, balance) and accepts signed ones.
        policy: the deployment's policy; never editable through a tool.
        handles: mints and redeems confirmation handles.
        used_handles: the shared record of redeemed handles.
        spends: the spending record behind the policy's 24 h caps.
        principal: returns the verified user of the current call (stdio: a configured string).
        manager: the custodial sender; None selects non-custodial mode.
        wallet: the user's own wallet address, required in non-custodial mode.
        clock: seconds since the epoch, for the spending record.
    """

    reader: ChainReader
    external: ExternalSender
    policy: PolicyConfig
    handles: ConfirmationHandles
    used_handles: HandleLedger
    spends: SpendLedger
    principal: Callable[[], str]
    manager: TransactionManager | None = None
    wallet: str | None = None
    clock: Callable[[], float] = field(default=time.time)


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


def _decimal_text(base_units: int, decimals: int) -> str:
    return format(Decimal(base_units).scaleb(-decimals).normalize(), "f")


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
    if deps.manager is not None:
        sender = deps.manager.sender
    elif deps.wallet is not None:
        sender = normalize_address(deps.wallet)
    else:
        raise ValueError("non-custodial mode needs the user's wallet address")
    custodial = deps.manager is not None
    network = deps.reader.network
    # One send at a time per process: the policy's 24 h check and the spend it records stay atomic.
    send_lock = anyio.Lock()

    async def resolve_asset(asset: str) -> tuple[str, str, str, int]:
        """(asset key, shown asset, symbol, decimals)."""
        text = asset.strip()
        if text.lower() in NATIVE_NAMES or text == network.native_symbol:
            return NATIVE_ASSET, "0G", network.native_symbol, 18
        try:
            token = normalize_address(text)
        except ZeroGError as exc:
            raise UnknownAssetError('the asset is "0G" or an ERC-20 token address') from exc
        try:
            info = await deps.reader.token_info(token)
        except ChainRequestError as exc:
            raise UnknownAssetError(f"{token} is not an ERC-20 token on this chain") from exc
        return token.lower(), info.address, info.symbol, info.decimals

    async def judge(principal: str, tx: UnsignedTx) -> None:
        intent = TransferIntent.from_unsigned(principal, tx)
        asset = asset_of(intent)
        state = await spend_state(deps.spends, principal, [asset] if asset else [], deps.clock())
        decision = evaluate(intent, state, deps.policy)
        if not decision.allowed:
            raise PolicyDeniedError(decision.rule_id, decision.message)

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
            asset_key, shown_asset, symbol, decimals = await resolve_asset(asset)
            base_units = parse_amount(amount, decimals)
            if asset_key == NATIVE_ASSET:
                request = TxRequest("prepare", recipient, base_units)
            else:
                calldata = SELECTOR_TRANSFER + abi_encode(["address", "uint256"], [recipient, base_units])
                request = TxRequest("prepare", shown_asset, 0, calldata)
            tx = await deps.external.prepare(request, sender)
            await judge(principal, tx)
            summary = TransferSummary.model_validate(
                {
                    "chain_id": tx.chain_id,
                    "network": network.name,
                    "from": sender,
                    "to": recipient,
                    "asset": shown_asset,
                    "symbol": symbol,
                    "amount": _decimal_text(base_units, decimals),
                    "amount_base_units": str(base_units),
                    "gas_limit": tx.gas,
                    "fee_cap_neuron": str(tx.fee_cap),
                    "max_total_fee": str(tx.gas * tx.fee_cap),
                }
            )
            handle = deps.handles.mint(principal, tx.digest(), _seal(tx, summary, asset_key, decimals))
            return PreparedTransfer(
                summary=summary,
                handle=handle,
                expires_in_s=int(deps.handles.ttl_s),
                unsigned_tx=None if custodial else tx.as_json(),
            )

        return await guarded(run)

    async def record_spend(principal: str, tx: UnsignedTx) -> None:
        asset = asset_of(TransferIntent.from_unsigned(principal, tx))
        if asset is None:
            return
        sealed_amount = tx.value if asset == NATIVE_ASSET else int.from_bytes(tx.data[36:68], "big")
        await deps.spends.record(principal, asset, sealed_amount, deps.clock())

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
                async with send_lock:
                    await judge(principal, tx)
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
                    await record_spend(principal, tx)
                return SentTransfer(tx_hash=record.latest.tx_hash, status=str(record.status))

            return await guarded(run)

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
                async with send_lock:
                    await judge(principal, tx)
                    record = await deps.external.submit_signed(confirmation.handle_id, raw, tx, sender)
                    await record_spend(principal, tx)
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
