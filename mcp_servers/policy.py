"""A pure, default-deny policy engine for value-moving tools (SECURITY.md §3.1, §3.2).

The model only proposes; this module decides, from the exact transaction fields, the principal's
recent spending and a configuration the model cannot touch. Every rule is evaluated; any matching
deny wins over any allow, and an intent no allow rule recognises is denied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, model_validator

from zerog_client.address import normalize_address
from zerog_client.tx.unsigned import UnsignedTx

MAX_UINT256 = 2**256 - 1
# The asset key of the chain's own coin; ERC-20 tokens are keyed by their lowercase address.
NATIVE_ASSET = "native"

# 4-byte selectors of the only contract calls the engine understands; anything else is denied.
SELECTOR_TRANSFER = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
SELECTOR_APPROVE = bytes.fromhex("095ea7b3")  # approve(address,uint256)
SELECTOR_INCREASE_ALLOWANCE = bytes.fromhex("39509351")  # increaseAllowance(address,uint256)
SELECTOR_SET_APPROVAL_FOR_ALL = bytes.fromhex("a22cb465")  # setApprovalForAll(address,bool)

# Records a violated rule: (rule id, human message).
_DenyFn = Callable[[str, str], None]

TX_TYPE_LEGACY = 0
TX_TYPE_EIP1559 = 2
_ALLOWED_TX_TYPES = frozenset({TX_TYPE_LEGACY, TX_TYPE_EIP1559})


# --- configuration ---------------------------------------------------------------------------------


def _lower_address(text: str) -> str:
    # Checksum-validated on the way in, then compared case-insensitively everywhere.
    return normalize_address(text).lower()


Address = Annotated[str, AfterValidator(_lower_address)]
BaseUnits = Annotated[StrictInt, Field(ge=0, le=MAX_UINT256)]
PositiveBaseUnits = Annotated[StrictInt, Field(gt=0, le=MAX_UINT256)]


class AssetCaps(BaseModel):
    """Spending caps of one asset, in its base units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_tx: BaseUnits
    per_24h: BaseUnits

    @model_validator(mode="after")
    def _daily_covers_one(self) -> AssetCaps:
        if self.per_tx > self.per_24h:
            raise ValueError("the per-transaction cap cannot exceed the rolling 24 h cap")
        return self


class TokenCaps(AssetCaps):
    """Caps of one ERC-20 token, identified by its contract address."""

    address: Address


class PolicyConfig(BaseModel):
    """Everything the engine enforces. Immutable, validated, and never editable by the model.

    Attributes:
        chain_ids: the chains this deployment may send on.
        native: caps of the native coin (neuron).
        tokens: caps per ERC-20 token; a token without an entry is denied.
        recipient_allowlist: when set, every recipient (or spender) must be in it; None disables it.
        max_fee_per_gas: the highest fee cap per gas (gas price for legacy transactions), neuron.
        max_total_fee: the highest `gas * fee cap`, neuron.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    chain_ids: frozenset[Annotated[StrictInt, Field(gt=0)]] = Field(min_length=1)
    native: AssetCaps
    tokens: tuple[TokenCaps, ...] = ()
    recipient_allowlist: frozenset[Address] | None = None
    max_fee_per_gas: PositiveBaseUnits
    max_total_fee: PositiveBaseUnits

    @model_validator(mode="after")
    def _unique_tokens(self) -> PolicyConfig:
        addresses = [token.address for token in self.tokens]
        if len(set(addresses)) != len(addresses):
            raise ValueError("a token is listed twice")
        return self

    def caps_for(self, asset: str) -> AssetCaps | None:
        """The caps of `asset` (NATIVE_ASSET or a token address), or None when none are configured."""
        if asset == NATIVE_ASSET:
            return self.native
        wanted = asset.lower()
        return next((token for token in self.tokens if token.address == wanted), None)


# --- inputs and outputs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransferIntent:
    """The exact transaction a principal wants to send, as the engine judges it.

    Attributes:
        principal: the verified user (never something the model supplied).
        chain_id: EIP-155 chain id.
        tx_type: 0 legacy, 2 EIP-1559; anything else is denied.
        to: recipient or contract; None is a contract creation.
        value: native value in neuron.
        data: calldata.
        gas: gas limit.
        max_fee_per_gas: the fee cap per gas (the gas price of a legacy transaction).
        approval_needed: for an ERC-20 approval, the allowance the current operation needs.
    """

    principal: str
    chain_id: int
    tx_type: int
    to: str | None
    value: int
    data: bytes
    gas: int
    max_fee_per_gas: int
    approval_needed: int = 0

    @classmethod
    def from_unsigned(cls, principal: str, tx: UnsignedTx, approval_needed: int = 0) -> TransferIntent:
        """The intent of a prepared unsigned transaction."""
        return cls(
            principal=principal,
            chain_id=tx.chain_id,
            tx_type=TX_TYPE_LEGACY if tx.gas_price is not None else TX_TYPE_EIP1559,
            to=tx.to,
            value=tx.value,
            data=tx.data,
            gas=tx.gas,
            max_fee_per_gas=tx.fee_cap,
            approval_needed=approval_needed,
        )


@dataclass(frozen=True, slots=True)
class SpendState:
    """What `principal` sent in the last 24 hours, per asset key (missing means nothing)."""

    principal: str
    spent_24h: Mapping[str, int] = field(default_factory=dict)

    def spent(self, asset: str) -> int:
        """Base units of `asset` sent in the window."""
        return int(self.spent_24h.get(asset.lower(), 0))


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict: allowed, or denied with the stable id of the first violated rule and why.

    Attributes:
        allowed: whether the intent may proceed (to confirmation; never straight to sending).
        rule_id: the allow rule that matched, or the first deny rule.
        message: one human sentence, safe to show the user.
        violations: every deny rule that matched, in evaluation order.
    """

    allowed: bool
    rule_id: str
    message: str
    violations: tuple[str, ...] = ()

    @classmethod
    def allow(cls, rule_id: str, message: str = "allowed by policy") -> Decision:
        """An allow verdict."""
        return cls(True, rule_id, message)

    @classmethod
    def deny(cls, rule_id: str, message: str, violations: tuple[str, ...] = ()) -> Decision:
        """A deny verdict."""
        return cls(False, rule_id, message, violations or (rule_id,))


# --- calldata --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """What a transaction does, decoded: the asset it moves, to whom, and how much."""

    kind: str  # "native_transfer" | "erc20_transfer" | "erc20_approve" | "revoke_all"
    asset: str
    counterparty: str
    amount: int


class _Undecodable(Exception):
    """Calldata the engine cannot read with certainty."""


def _word(data: bytes, index: int) -> bytes:
    return data[4 + 32 * index : 4 + 32 * (index + 1)]


def _address_arg(data: bytes, index: int) -> str:
    word = _word(data, index)
    # Strict ABI: dirty high bytes mean a crafted or broken encoding; never guess what was meant.
    if word[:12] != bytes(12):
        raise _Undecodable("an address argument has non-zero padding")
    return "0x" + word[12:].hex()


def _uint_arg(data: bytes, index: int) -> int:
    return int.from_bytes(_word(data, index), "big")


def _bool_arg(data: bytes, index: int) -> bool:
    value = _uint_arg(data, index)
    if value not in (0, 1):
        raise _Undecodable("a bool argument is neither 0 nor 1")
    return value == 1


def decode_call(to: str, value: int, data: bytes) -> Call:
    """Decode what a transaction to `to` does.

    Raises:
        _Undecodable: an unknown selector or a malformed encoding (both mean deny).
    """
    if not data:
        return Call("native_transfer", NATIVE_ASSET, to.lower(), value)
    # Every understood call takes exactly two static arguments.
    if len(data) != 4 + 64:
        raise _Undecodable("unexpected calldata length")
    selector = data[:4]
    token = to.lower()
    if selector == SELECTOR_TRANSFER:
        return Call("erc20_transfer", token, _address_arg(data, 0), _uint_arg(data, 1))
    if selector in (SELECTOR_APPROVE, SELECTOR_INCREASE_ALLOWANCE):
        return Call("erc20_approve", token, _address_arg(data, 0), _uint_arg(data, 1))
    if selector == SELECTOR_SET_APPROVAL_FOR_ALL:
        operator, approved = _address_arg(data, 0), _bool_arg(data, 1)
        return Call("approve_all" if approved else "revoke_all", token, operator, 0)
    raise _Undecodable("unknown function selector")


def asset_of(intent: TransferIntent) -> str | None:
    """The asset key whose 24 h spending the engine needs for `intent`, or None if it moves none."""
    if intent.to is None:
        return None
    try:
        call = decode_call(intent.to, intent.value, intent.data)
    except _Undecodable:
        return None
    return call.asset if call.kind in ("native_transfer", "erc20_transfer", "erc20_approve") else None


# --- evaluation ------------------------------------------------------------------------------------


def evaluate(intent: TransferIntent, state: SpendState, config: PolicyConfig) -> Decision:
    """Judge `intent` against `config` given what its principal spent in the last 24 hours.

    Pure and deterministic: no I/O, no clock. Allowed means "may be offered for confirmation".

    Args:
        intent: the exact transaction.
        state: the principal's rolling 24 h spending.
        config: the deployment's policy.

    Returns:
        Allow with the matching allow rule, or deny with the first violated rule.
    """
    denials: list[tuple[str, str]] = []

    def deny(rule_id: str, message: str) -> None:
        denials.append((rule_id, message))

    if state.principal != intent.principal:
        deny("spend_state_mismatch", "the spending record belongs to another user")
    if intent.chain_id not in config.chain_ids:
        deny("chain_not_allowed", f"chain {intent.chain_id} is not enabled in this deployment")
    if intent.tx_type not in _ALLOWED_TX_TYPES:
        deny("tx_type_not_allowed", "only legacy and EIP-1559 transactions are allowed")
    if intent.max_fee_per_gas > config.max_fee_per_gas:
        deny("fee_per_gas_cap", "the fee per gas is above the configured cap")
    if intent.gas * intent.max_fee_per_gas > config.max_total_fee:
        deny("total_fee_cap", "the largest possible fee is above the configured cap")
    if intent.value < 0 or intent.gas < 0 or intent.max_fee_per_gas < 0:
        deny("malformed_intent", "negative amounts are not transactions")

    allow_rule: str | None = None
    if intent.to is None:
        deny("contract_creation", "creating contracts is not allowed")
    else:
        try:
            call = decode_call(intent.to, intent.value, intent.data)
        except _Undecodable:
            deny("unknown_call", "this contract call is not one the assistant may make")
        else:
            allow_rule = _judge_call(call, intent, state, config, deny)

    if denials:
        first_id, first_message = denials[0]
        return Decision.deny(first_id, first_message, tuple(rule_id for rule_id, _ in denials))
    if allow_rule is None:
        return Decision.deny("no_matching_allow", "no policy rule allows this transaction")
    return Decision.allow(allow_rule)


def _judge_call(
    call: Call,
    intent: TransferIntent,
    state: SpendState,
    config: PolicyConfig,
    deny: _DenyFn,
) -> str | None:
    """Apply the call-specific rules; return the allow rule the call matches, if any."""
    if call.kind == "approve_all":
        deny("unlimited_approval", "approving an operator for all assets is not allowed")
        return None
    if call.kind != "native_transfer" and intent.value != 0:
        # A token call that also carries native value moves two assets at once; refuse the ambiguity.
        deny("value_with_call", "a contract call may not also send native value")
    if call.kind == "revoke_all":
        # Revoking moves nothing and only shrinks what others may take.
        return "revoke_approval"
    if call.kind == "erc20_approve":
        if call.amount == MAX_UINT256:
            deny("unlimited_approval", "unlimited token approvals are not allowed")
        elif call.amount > intent.approval_needed:
            deny("unlimited_approval", "the approval is larger than what this operation needs")

    _check_recipient(call.counterparty, config, deny)
    caps = config.caps_for(call.asset)
    if caps is None:
        deny("asset_not_allowed", "this token has no configured limits, so it cannot be sent")
        return None
    # An approval lets the spender pull that amount later, so it counts against the caps like a send.
    if call.amount > caps.per_tx:
        deny("per_tx_cap", "the amount is above the per-transaction limit")
    if state.spent(call.asset) + call.amount > caps.per_24h:
        deny("daily_cap", "this would exceed the 24-hour spending limit")
    return {
        "native_transfer": "native_transfer",
        "erc20_transfer": "erc20_transfer",
        "erc20_approve": "erc20_approve",
    }.get(call.kind)


def _check_recipient(counterparty: str, config: PolicyConfig, deny: _DenyFn) -> None:
    if config.recipient_allowlist is not None and counterparty.lower() not in config.recipient_allowlist:
        deny("recipient_not_allowed", "the recipient is not in the address book")
