"""Typed errors of the 0G SDK: each carries a stable code and whether a retry can help."""

from __future__ import annotations


class ZeroGError(Exception):
    """Base class of every error this SDK raises on purpose."""

    code: str = "zerog_error"
    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAddressError(ZeroGError, ValueError):
    """An address is malformed or fails its EIP-55 checksum."""

    code = "invalid_address"


class ChainUnreachableError(ZeroGError):
    """No answer from the chain's RPC endpoint (refused, timed out, or not JSON-RPC)."""

    code = "chain_unreachable"
    retryable = True


class WrongChainError(ZeroGError):
    """The endpoint serves a different chain than the one configured; nothing is sent to it."""

    code = "wrong_chain"


class ChainRequestError(ZeroGError):
    """The node answered a request with a JSON-RPC error."""

    code = "chain_request_failed"
