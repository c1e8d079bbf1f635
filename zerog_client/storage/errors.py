"""Typed errors of the storage layer; each is a ZeroGError with a stable code."""

from __future__ import annotations

from enum import StrEnum

from zerog_client.errors import ZeroGError


class KeccakUnavailableError(ZeroGError, ImportError):
    """No Keccak-256 backend is installed (install `tiny-keccak` or `pycryptodome`)."""

    code = "keccak_unavailable"


class EmptyFileError(ZeroGError, ValueError):
    """0G storage has no representation for zero bytes: the chain rejects a submission without nodes."""

    code = "empty_file"


class FileChangedError(ZeroGError):
    """The file was shorter than announced or changed size while it was being read."""

    code = "file_changed"
    retryable = True


class ProofFailure(StrEnum):
    """Why a Merkle proof was rejected; the values are the storage node's own error texts."""

    FORMAT = "invalid proof"
    POSITION = "wrong position"
    LEAF = "leaf mismatch"
    ROOT = "root mismatch"
    HASH = "validation failed"


class InvalidProofError(ZeroGError, ValueError):
    """A Merkle proof is malformed, is for another position, or does not hash up to the root."""

    code = "invalid_proof"

    def __init__(self, failure: ProofFailure, message: str | None = None) -> None:
        super().__init__(message or failure.value)
        self.failure = failure


class InvalidSegmentError(ZeroGError, ValueError):
    """A segment's index or length does not fit the file it claims to belong to."""

    code = "invalid_segment"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        # Named like the storage node's `Invalid params: <field>` so a dev node can reuse it.
        self.field = field


class InvalidSubmissionError(ZeroGError, ValueError):
    """A submission the Flow contract would revert with "Invalid submission"."""

    code = "invalid_submission"


class AbiDecodeError(ZeroGError, ValueError):
    """Calldata or event data does not follow the Flow ABI."""

    code = "abi_decode_failed"


class KvBlobError(ZeroGError, ValueError):
    """A KV stream-data blob cannot be encoded or parsed (bad key, count, or truncated data)."""

    code = "kv_blob_invalid"
