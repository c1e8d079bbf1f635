"""What callers ask the transaction manager for, validated before anything is signed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from zerog_client.address import normalize_address
from zerog_client.errors import ZeroGError

MAX_UINT256 = 2**256 - 1
MAX_KEY_LENGTH = 200
MAX_DATA_BYTES = 128 * 1024


class InvalidRequestError(ZeroGError, ValueError):
    """A transaction request that cannot be sent as given (nothing was signed)."""

    code = "invalid_request"


class IdempotencyConflictError(ZeroGError):
    """An idempotency key reused for a different transaction."""

    code = "idempotency_conflict"


@dataclass(frozen=True, slots=True)
class TxRequest:
    """One transaction to send. `to=None` creates a contract; `gas_limit=None` estimates it."""

    idempotency_key: str
    to: str | None
    value: int = 0
    data: bytes = b""
    gas_limit: int | None = None
    # The most this transaction may pay per gas (what its sender confirmed); None: the manager's cap.
    max_fee_per_gas: int | None = None

    def validated(self) -> TxRequest:
        """This request with a checksummed recipient.

        Raises:
            InvalidRequestError: empty or oversized key, negative or oversized value, bad gas limit,
                oversized data, or a contract creation without code.
            InvalidAddressError: a malformed or wrongly checksummed recipient.
        """
        if not self.idempotency_key or len(self.idempotency_key) > MAX_KEY_LENGTH:
            raise InvalidRequestError(f"an idempotency key is 1 to {MAX_KEY_LENGTH} characters")
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise InvalidRequestError("the value is a whole number of base units")
        if not 0 <= self.value <= MAX_UINT256:
            raise InvalidRequestError("the value must be between 0 and 2**256-1 base units")
        if len(self.data) > MAX_DATA_BYTES:
            raise InvalidRequestError(f"calldata is limited to {MAX_DATA_BYTES} bytes")
        if self.gas_limit is not None and (
            isinstance(self.gas_limit, bool)
            or not isinstance(self.gas_limit, int)
            or not 21_000 <= self.gas_limit <= 30_000_000
        ):
            raise InvalidRequestError("the gas limit is a whole number between 21,000 and 30,000,000")
        if self.max_fee_per_gas is not None and (
            isinstance(self.max_fee_per_gas, bool)
            or not isinstance(self.max_fee_per_gas, int)
            or self.max_fee_per_gas < 1
        ):
            raise InvalidRequestError("a fee cap is a positive whole number of base units per gas")
        if self.to is None:
            if not self.data:
                raise InvalidRequestError("a contract creation needs code")
            return self
        return dataclasses.replace(self, to=normalize_address(self.to))

    def same_as(self, to: str | None, value: int, data: bytes) -> bool:
        """Whether a stored intent is this request (for idempotent replays)."""
        same_to = (self.to or "").lower() == (to or "").lower()
        return same_to and self.value == value and self.data == data
