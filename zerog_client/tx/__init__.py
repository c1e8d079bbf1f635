"""Transactions: signing (local keystore or the user's wallet), the persistent outbox, and the
manager that sends, tracks, bumps and recovers them."""

from zerog_client.tx.fees import FeeCapExceededError, FeeQuote
from zerog_client.tx.manager import InsufficientFundsError, ManagerConfig, TransactionManager, TxTimeoutError
from zerog_client.tx.outbox import NonceConflict, Outbox, OutboxError
from zerog_client.tx.outbox_rules import IntentNotFound, InvalidTransition
from zerog_client.tx.records import NewTx, TxAttempt, TxRecord, TxStatus
from zerog_client.tx.requests import IdempotencyConflictError, InvalidRequestError, TxRequest
from zerog_client.tx.signer import KeystoreError, LocalSigner, Signer, SignerError
from zerog_client.tx.simulation import SimulationError
from zerog_client.tx.unsigned import (
    SignatureMismatchError,
    SignedTx,
    UnsignedTx,
    decode_signed,
    verify_signed,
)

__all__ = [
    "FeeCapExceededError",
    "FeeQuote",
    "IdempotencyConflictError",
    "InsufficientFundsError",
    "IntentNotFound",
    "InvalidTransition",
    "InvalidRequestError",
    "KeystoreError",
    "LocalSigner",
    "ManagerConfig",
    "NewTx",
    "NonceConflict",
    "Outbox",
    "OutboxError",
    "SignatureMismatchError",
    "SignedTx",
    "Signer",
    "SignerError",
    "SimulationError",
    "TransactionManager",
    "TxAttempt",
    "TxRecord",
    "TxRequest",
    "TxStatus",
    "TxTimeoutError",
    "UnsignedTx",
    "decode_signed",
    "verify_signed",
]
