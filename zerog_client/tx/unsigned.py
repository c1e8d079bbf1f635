"""Unsigned and signed transactions as plain values, and decoding of signed bytes.

One canonical form is signed locally, shown to a user for confirmation, and compared field by field
with what an external wallet signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rlp
from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction as LegacyTransaction
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from zerog_client.errors import ZeroGError


class SignatureMismatchError(ZeroGError):
    """Signed bytes that do not match the prepared transaction (or cannot be decoded at all)."""

    code = "signature_mismatch"


@dataclass(frozen=True, slots=True)
class UnsignedTx:
    """Everything a signature covers. Legacy when `gas_price` is set, EIP-1559 otherwise."""

    chain_id: int
    nonce: int
    to: str | None
    value: int
    data: bytes
    gas: int
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None

    def __post_init__(self) -> None:
        legacy = (
            self.gas_price is not None
            and self.max_fee_per_gas is None
            and self.max_priority_fee_per_gas is None
        )
        dynamic = (
            self.gas_price is None
            and self.max_fee_per_gas is not None
            and self.max_priority_fee_per_gas is not None
        )
        if not (legacy or dynamic):
            raise ValueError("set either gas_price (legacy) or both EIP-1559 fee fields, not a mix")

    @property
    def fee_cap(self) -> int:
        """The most this transaction can pay per gas."""
        return int(self.gas_price if self.gas_price is not None else self.max_fee_per_gas or 0)

    @property
    def max_cost(self) -> int:
        """Value plus the largest possible fee: what the sender's balance must cover."""
        return self.value + self.gas * self.fee_cap

    def as_signable(self) -> dict[str, Any]:
        """The dict eth-account signs."""
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": self.nonce,
            "value": self.value,
            "data": self.data,
            "gas": self.gas,
        }
        if self.to is not None:
            tx["to"] = self.to
        if self.gas_price is not None:
            tx["gasPrice"] = self.gas_price
        else:
            tx["maxFeePerGas"] = self.max_fee_per_gas
            tx["maxPriorityFeePerGas"] = self.max_priority_fee_per_gas
            tx["type"] = 2
        return tx

    def as_json(self) -> dict[str, Any]:
        """A JSON form for a wallet (EIP-1193 `eth_signTransaction` style, hex quantities)."""
        out: dict[str, Any] = {
            "chainId": hex(self.chain_id),
            "nonce": hex(self.nonce),
            "value": hex(self.value),
            "data": "0x" + self.data.hex(),
            "gas": hex(self.gas),
        }
        if self.to is not None:
            out["to"] = self.to
        if self.gas_price is not None:
            out["gasPrice"] = hex(self.gas_price)
        else:
            out["maxFeePerGas"] = hex(self.max_fee_per_gas or 0)
            out["maxPriorityFeePerGas"] = hex(self.max_priority_fee_per_gas or 0)
            out["type"] = "0x2"
        return out

    def digest(self) -> str:
        """A stable hash of every field, to bind a confirmation to exactly this transaction."""
        fields = [
            "legacy" if self.gas_price is not None else "eip1559",
            self.chain_id,
            self.nonce,
            (self.to or "").lower(),
            self.value,
            self.data.hex(),
            self.gas,
            "-" if self.gas_price is None else self.gas_price,
            "-" if self.max_fee_per_gas is None else self.max_fee_per_gas,
            "-" if self.max_priority_fee_per_gas is None else self.max_priority_fee_per_gas,
        ]
        return "0x" + keccak(text="|".join(str(f) for f in fields)).hex()


@dataclass(frozen=True, slots=True)
class SignedTx:
    """Signed bytes, their hash, who signed, and the fields they commit to."""

    raw: bytes
    tx_hash: str
    sender: str
    tx: UnsignedTx


def decode_signed(raw: bytes) -> SignedTx:
    """Decode signed transaction bytes (legacy EIP-155 or EIP-1559) and recover the signer.

    Raises:
        SignatureMismatchError: the bytes are not a signed transaction we understand.
    """
    try:
        sender = to_checksum_address(Account.recover_transaction(raw))
        if raw[:1] == b"\x02":
            fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
            if fields.get("accessList"):
                raise SignatureMismatchError("access lists are not part of prepared transactions")
            if int(fields["v"]) not in (0, 1):
                raise SignatureMismatchError("the signature's y-parity is not 0 or 1")
            _check_low_s(int(fields["s"]))
            to = fields.get("to")
            tx = UnsignedTx(
                chain_id=int(fields["chainId"]),
                nonce=int(fields["nonce"]),
                to=to_checksum_address(to) if to else None,
                value=int(fields["value"]),
                data=bytes(fields["data"]),
                gas=int(fields["gas"]),
                max_fee_per_gas=int(fields["maxFeePerGas"]),
                max_priority_fee_per_gas=int(fields["maxPriorityFeePerGas"]),
            )
        elif raw[:1] and raw[0] >= 0xC0:
            legacy = rlp.decode(raw, LegacyTransaction).as_dict()
            v = int(legacy["v"])
            if v < 35:
                raise SignatureMismatchError("pre-EIP-155 signatures (no chain id) are refused")
            _check_low_s(int(legacy["s"]))
            to_bytes = bytes(legacy["to"])
            tx = UnsignedTx(
                chain_id=(v - 35) // 2,
                nonce=int(legacy["nonce"]),
                to=to_checksum_address(to_bytes) if to_bytes else None,
                value=int(legacy["value"]),
                data=bytes(legacy["data"]),
                gas=int(legacy["gas"]),
                gas_price=int(legacy["gasPrice"]),
            )
        else:
            raise SignatureMismatchError("unsupported transaction type")
    except SignatureMismatchError:
        raise
    except Exception as exc:  # decoding untrusted bytes: every library error means "not a valid transaction"
        raise SignatureMismatchError("the bytes are not a valid signed transaction") from exc
    return SignedTx(raw=raw, tx_hash="0x" + keccak(raw).hex(), sender=sender, tx=tx)


# Half the secp256k1 group order: EIP-2 refuses signatures with a larger s (their malleated twin).
_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def _check_low_s(s: int) -> None:
    if not 0 < s <= _HALF_N:
        raise SignatureMismatchError("the signature is not in canonical (low-s) form")


def verify_signed(raw: bytes, prepared: UnsignedTx, expected_sender: str) -> SignedTx:
    """Accept externally signed bytes only if they are exactly the prepared transaction.

    Raises:
        SignatureMismatchError: naming the first field that differs (or the signer).
    """
    signed = decode_signed(raw)
    if signed.sender.lower() != expected_sender.lower():
        raise SignatureMismatchError("signed by a different account than the one that prepared it")
    for name in (
        "chain_id",
        "nonce",
        "to",
        "value",
        "data",
        "gas",
        "gas_price",
        "max_fee_per_gas",
        "max_priority_fee_per_gas",
    ):
        got, want = getattr(signed.tx, name), getattr(prepared, name)
        if isinstance(got, str) and isinstance(want, str):
            got, want = got.lower(), want.lower()
        if got != want:
            raise SignatureMismatchError(f"the signed {name} differs from the prepared transaction")
    return signed
