"""Fee quotes (EIP-1559 or legacy) and replacement bumps that stay under a configured cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from zerog_client.chain.reader import ChainReader
from zerog_client.errors import ZeroGError

FeeMode = Literal["eip1559", "legacy"]

# Nodes require a replacement to raise the price by at least 10%; 12.5% leaves margin for rounding.
BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8


class FeeCapExceededError(ZeroGError):
    """The network asks for more per gas than the configured cap allows; nothing is sent."""

    code = "fee_cap_exceeded"


@dataclass(frozen=True, slots=True)
class FeeQuote:
    """Per-gas prices for new transactions."""

    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None

    @property
    def cap(self) -> int:
        """The most a transaction with this quote pays per gas."""
        return int(self.gas_price if self.gas_price is not None else self.max_fee_per_gas or 0)


def quote(mode: FeeMode, *, gas_price: int, base_fee: int | None, priority_fee: int, cap: int) -> FeeQuote:
    """A quote from the node's figures: legacy uses `eth_gasPrice`; EIP-1559 pays up to twice the
    base fee plus the tip, so it survives several full blocks of base-fee growth.

    Raises:
        FeeCapExceededError: the quote is above `cap`.
    """
    if mode == "legacy" or base_fee is None:
        if gas_price > cap:
            raise FeeCapExceededError(f"the gas price {gas_price} is above the cap {cap}")
        return FeeQuote(gas_price=gas_price)
    max_fee = 2 * base_fee + priority_fee
    if base_fee + priority_fee > cap:
        # Below this a transaction cannot enter the next block at all.
        raise FeeCapExceededError(f"the base fee {base_fee} plus tip {priority_fee} is above the cap {cap}")
    return FeeQuote(max_fee_per_gas=min(max_fee, cap), max_priority_fee_per_gas=priority_fee)


def bump(previous: FeeQuote, cap: int) -> FeeQuote | None:
    """A replacement quote at least 12.5% higher in every field, or None when the cap forbids it."""

    def up(value: int) -> int:
        return max(value + 1, -(-value * BUMP_NUMERATOR // BUMP_DENOMINATOR))

    if previous.gas_price is not None:
        price = up(previous.gas_price)
        return FeeQuote(gas_price=price) if price <= cap else None
    max_fee = up(previous.max_fee_per_gas or 0)
    priority = up(previous.max_priority_fee_per_gas or 0)
    if max_fee > cap or priority > max_fee:
        return None
    return FeeQuote(max_fee_per_gas=max_fee, max_priority_fee_per_gas=priority)


async def quote_from_chain(reader: ChainReader, mode: FeeMode, cap: int) -> FeeQuote:
    """A quote from the chain's latest base fee, suggested tip and gas price.

    Raises:
        FeeCapExceededError: the quote is above `cap`.
    """
    latest = await reader.block("latest")
    base_fee = latest.base_fee_per_gas if latest is not None else None
    priority = 0
    if mode == "eip1559" and base_fee is not None:
        priority = int(await reader.pool.call("eth_maxPriorityFeePerGas"), 16)
    return quote(mode, gas_price=await reader.gas_price(), base_fee=base_fee, priority_fee=priority, cap=cap)
