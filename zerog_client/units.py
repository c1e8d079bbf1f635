"""Conversions between the base unit (neuron, 1e-18 0G) and decimal amounts of 0G."""

from __future__ import annotations

from decimal import ROUND_DOWN, Context, Decimal

# Enough digits for any uint256 amount with any number of decimals; the default context has only 28.
_EXACT = Context(prec=160)


def to_native(neuron: int, decimals: int = 18) -> Decimal:
    """Exact decimal amount of the native token for a base-unit integer.

    Args:
        neuron: amount in base units (wei-equivalent).
        decimals: the token's decimals; 18 for 0G.
    """
    return _EXACT.divide(Decimal(neuron), _EXACT.power(Decimal(10), decimals))


def format_native(neuron: int, decimals: int = 18, max_fraction_digits: int = 6) -> str:
    """A short human form of an amount: trailing zeros dropped, at most `max_fraction_digits` decimals.

    Rounds down, so a displayed balance is never more than what is there.

    Args:
        neuron: amount in base units.
        decimals: the token's decimals.
        max_fraction_digits: how many decimals to keep at most.
    """
    amount = to_native(neuron, decimals)
    quantum = Decimal(1).scaleb(-max_fraction_digits)
    shown = amount.quantize(quantum, rounding=ROUND_DOWN, context=_EXACT)
    if shown == 0 and amount != 0:
        return f"less than {quantum}"
    return format(shown.normalize(_EXACT), "f") if shown != 0 else "0"


class AmountError(ValueError):
    """An amount that cannot be sent: not a number, not positive, or finer than the token allows."""

    code = "invalid_amount"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_MAX_AMOUNT_CHARS = 100


def parse_amount(text: str, decimals: int = 18) -> int:
    """A positive decimal amount ("0.5", "1e-3" is refused) as base units.

    Raises:
        AmountError: empty, not a plain decimal, zero or negative, or more decimals than `decimals`.
    """
    cleaned = text.strip().replace("_", "")
    if not cleaned or len(cleaned) > _MAX_AMOUNT_CHARS:
        raise AmountError("give the amount as a plain decimal number, like 0.5")
    whole, _, fraction = cleaned.partition(".")
    if cleaned.startswith("-"):
        raise AmountError("the amount must be more than zero")
    if (
        not (whole or fraction)
        or not (whole.isdigit() or whole == "")
        or not (fraction.isdigit() or fraction == "")
    ):
        raise AmountError("give the amount as a plain decimal number, like 0.5")
    if len(fraction.rstrip("0")) > decimals:
        raise AmountError(f"this token has {decimals} decimals; the amount is more precise than that")
    significant = fraction.rstrip("0")
    base = int((whole or "0") + significant.ljust(decimals, "0"))
    if base <= 0:
        raise AmountError("the amount must be more than zero")
    return base
