"""Signers: a local key (from an encrypted keystore; a plain key only on the devnet). External,
non-custodial signing is `unsigned.verify_signed`: the user's wallet signs, we check the bytes.

Key material never leaves a `LocalSigner`: it is not an attribute, not in any repr or error text,
and the object cannot be pickled or copied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from zerog_client.errors import ZeroGError
from zerog_client.networks import DEVNET
from zerog_client.tx.unsigned import SignedTx, UnsignedTx

MAX_KEYSTORE_BYTES = 64 * 1024


class KeystoreError(ZeroGError):
    """The keystore cannot be used: unreadable, malformed, or the password is wrong."""

    code = "keystore_error"


class SignerError(ZeroGError):
    """A signer refused to sign (for example a dev key asked to sign for a real network)."""

    code = "signer_refused"


class Signer(Protocol):
    """Signs transactions for one address."""

    @property
    def address(self) -> str:
        """The EIP-55 address this signer signs for."""
        ...

    def sign(self, tx: UnsignedTx) -> SignedTx:
        """Sign `tx`.

        Raises:
            SignerError: the signer refuses this transaction.
        """
        ...


class LocalSigner:
    """A key held in memory. Build with `from_keystore` (or `devnet_key` on the devnet only)."""

    __slots__ = ("_account", "_allowed_chain")

    def __init__(self, account: LocalAccount, allowed_chain: int | None) -> None:
        self._account = account
        self._allowed_chain = allowed_chain

    @classmethod
    def from_keystore(cls, path: Path, password: str) -> LocalSigner:
        """Decrypt an eth-account (Web3 Secret Storage v3) keystore file.

        Raises:
            KeystoreError: missing, too large, not a keystore, or the password is wrong.
        """
        try:
            if path.stat().st_size > MAX_KEYSTORE_BYTES:
                raise KeystoreError(f"{path} is too large to be a keystore")
            keystore = json.loads(path.read_text())
        except OSError as exc:
            raise KeystoreError(f"cannot read the keystore {path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise KeystoreError(f"{path} is not a JSON keystore") from exc
        try:
            key = Account.decrypt(keystore, password)
        except ValueError as exc:
            # eth-account says "MAC mismatch" for a wrong password; never echo anything it holds.
            raise KeystoreError("the keystore password is wrong, or the keystore is damaged") from exc
        except (KeyError, TypeError) as exc:
            raise KeystoreError(f"{path} is not a valid keystore") from exc
        return cls(Account.from_key(key), allowed_chain=None)

    @classmethod
    def devnet_key(cls, private_key: str, chain_id: int = DEVNET.chain_id) -> LocalSigner:
        """A plain key, accepted only for the devnet chain: it will refuse to sign for any other.

        Raises:
            SignerError: `chain_id` is not the devnet's.
        """
        if chain_id != DEVNET.chain_id:
            raise SignerError("plain keys are for the devnet only; use an encrypted keystore")
        try:
            account = Account.from_key(private_key)
        except (ValueError, TypeError) as exc:
            raise SignerError("that is not a valid private key") from exc
        return cls(account, allowed_chain=chain_id)

    @property
    def address(self) -> str:
        return to_checksum_address(self._account.address)

    def sign(self, tx: UnsignedTx) -> SignedTx:
        if self._allowed_chain is not None and tx.chain_id != self._allowed_chain:
            raise SignerError(f"this key signs for chain {self._allowed_chain} only")
        signed = self._account.sign_transaction(tx.as_signable())
        raw = bytes(signed.raw_transaction)
        return SignedTx(raw=raw, tx_hash="0x" + bytes(signed.hash).hex(), sender=self.address, tx=tx)

    def __repr__(self) -> str:
        return f"LocalSigner(address={self.address})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a signer cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("a signer cannot be copied")

    def __deepcopy__(self, memo: dict[int, Any]) -> NoReturn:
        raise TypeError("a signer cannot be copied")
