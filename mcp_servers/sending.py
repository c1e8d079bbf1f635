"""What the value-moving tools share: their dependencies, their errors, and `SendingCore`, which
resolves assets, judges transactions against the policy and records what was spent."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import anyio
from eth_abi.abi import encode as abi_encode
from mcp.types import ToolAnnotations

from mcp_servers.confirmations import ConfirmationHandles, HandleLedger, SpendLedger, spend_state
from mcp_servers.policy import (
    NATIVE_ASSET,
    SELECTOR_TRANSFER,
    PolicyConfig,
    SpendState,
    TransferIntent,
    asset_of,
    evaluate,
)
from zerog_client import ChainReader, ZeroGError, normalize_address
from zerog_client.errors import ChainRequestError
from zerog_client.tx.external import ExternalSender
from zerog_client.tx.manager import TransactionManager
from zerog_client.tx.requests import TxRequest
from zerog_client.tx.unsigned import UnsignedTx

NATIVE_NAMES = frozenset({"0g", "native"})
DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)


def decimal_text(base_units: int, decimals: int) -> str:
    """`base_units` as an exact decimal in whole units, without trailing zeros."""
    return format(Decimal(base_units).scaleb(-decimals).normalize(), "f")


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


@dataclass(frozen=True, slots=True)
class ResolvedAsset:
    """An asset as the tools use it: its policy key, how it is shown, its symbol and decimals."""

    key: str
    shown: str
    symbol: str
    decimals: int

    @property
    def native(self) -> bool:
        """True for the chain's own coin."""
        return self.key == NATIVE_ASSET


class SendingCore:
    """The logic every value-moving tool shares, over one `SendingDeps`.

    Raises:
        ValueError: non-custodial mode without a wallet address.
    """

    def __init__(self, deps: SendingDeps) -> None:
        if deps.manager is not None:
            self.sender = deps.manager.sender
        elif deps.wallet is not None:
            self.sender = normalize_address(deps.wallet)
        else:
            raise ValueError("non-custodial mode needs the user's wallet address")
        self.deps = deps
        self.network = deps.reader.network
        # One send at a time per process: the policy's 24 h check and the spend it records stay atomic.
        self.send_lock = anyio.Lock()

    async def resolve_asset(self, asset: str) -> ResolvedAsset:
        """The native coin (by name or symbol) or a readable ERC-20 token.

        Raises:
            UnknownAssetError: neither.
        """
        text = asset.strip()
        if text.lower() in NATIVE_NAMES or text == self.network.native_symbol:
            return ResolvedAsset(NATIVE_ASSET, "0G", self.network.native_symbol, 18)
        try:
            token = normalize_address(text)
        except ZeroGError as exc:
            raise UnknownAssetError('the asset is "0G" or an ERC-20 token address') from exc
        try:
            info = await self.deps.reader.token_info(token)
        except ChainRequestError as exc:
            raise UnknownAssetError(f"{token} is not an ERC-20 token on this chain") from exc
        return ResolvedAsset(token.lower(), info.address, info.symbol, info.decimals)

    @staticmethod
    def transfer_request(key: str, recipient: str, base_units: int, asset: ResolvedAsset) -> TxRequest:
        """The request moving `base_units` of `asset` to `recipient`."""
        if asset.native:
            return TxRequest(key, recipient, base_units)
        calldata = SELECTOR_TRANSFER + abi_encode(["address", "uint256"], [recipient, base_units])
        return TxRequest(key, asset.shown, 0, calldata)

    async def judge(self, principal: str, txs: Sequence[UnsignedTx]) -> None:
        """Run the policy on each transaction, counting the earlier ones as already spent, so a batch
        is held to the same 24 h caps as the same transfers sent one by one.

        Raises:
            PolicyDeniedError: the first refusal.
        """
        intents = [TransferIntent.from_unsigned(principal, tx) for tx in txs]
        assets = sorted({asset for asset in map(asset_of, intents) if asset is not None})
        state = await spend_state(self.deps.spends, principal, assets, self.deps.clock())
        spent = dict(state.spent_24h)
        for intent, tx in zip(intents, txs, strict=True):
            decision = evaluate(intent, SpendState(principal, dict(spent)), self.deps.policy)
            if not decision.allowed:
                raise PolicyDeniedError(decision.rule_id, decision.message)
            asset = asset_of(intent)
            if asset is not None:
                spent[asset] = spent.get(asset, 0) + moved_amount(asset, tx)

    async def record_spends(self, principal: str, txs: Sequence[UnsignedTx]) -> None:
        """Record what `txs` moved, against the 24 h caps."""
        for tx in txs:
            asset = asset_of(TransferIntent.from_unsigned(principal, tx))
            if asset is not None:
                await self.deps.spends.record(principal, asset, moved_amount(asset, tx), self.deps.clock())


def moved_amount(asset: str, tx: UnsignedTx) -> int:
    """Base units `tx` moves: its value for the native coin, the ERC-20 call's amount otherwise."""
    return tx.value if asset == NATIVE_ASSET else int.from_bytes(tx.data[36:68], "big")
