"""EIP-1271: asking a contract wallet whether it accepts a signature, on the chain the message names.

A contract wallet (Safe, smart accounts) has no private key: it answers
`isValidSignature(bytes32 hash, bytes signature)` with the magic value `0x1626ba7e` when it accepts
the signature. EIP-4361 says such accounts are resolved on the message's `chain-id`, so every check
first asks the endpoint for `eth_chainId` and refuses a mismatch: the same address on another chain
may be another contract, or none. A revert, a call to an address without code, or any other answer
means "not valid". Both calls run under one deadline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal, Protocol

import anyio

from zerog_client.chain.jsonrpc import HttpJsonRpc, JsonRpcError
from zerog_client.chain.reader import encode_call
from zerog_client.errors import ZeroGError

MAGIC_VALUE: Final = bytes.fromhex("1626ba7e")
# The function's answer is a bytes4, ABI-encoded: the magic value left-aligned in a 32-byte word.
_VALID_WORD: Final = MAGIC_VALUE + bytes(28)

Verdict = Literal["valid", "invalid", "no_answer"]
"""A wallet's answer: the magic value; a revert or another value; or nothing at all ("0x", which is
what a call to an account without code returns: that address is not a contract wallet)."""


class ContractWalletError(Exception):
    """The check could not be made; `code` is wrong_chain_for_contract or contract_check_unavailable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RpcCaller(Protocol):
    """Anything that makes one JSON-RPC call: `HttpJsonRpc`, `RpcPool`."""

    async def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """The method's result; raises `JsonRpcError` for an error answer."""
        ...


class ContractSignatureChecker(Protocol):
    """The seam `AuthService` uses for contract-wallet sign-ins."""

    async def check(self, chain_id: int, address: str, digest: bytes, signature: bytes) -> Verdict:
        """Whether the contract at `address` on `chain_id` accepts `signature` for `digest`.

        Raises:
            ContractWalletError: the endpoint serves another chain, or cannot answer in time.
        """
        ...


class Eip1271Checker:
    """`ContractSignatureChecker` over JSON-RPC: `eth_chainId`, then `eth_call` at the latest block.

    Args:
        rpc: the endpoint (or pool) of the configured chain.
        timeout_s: deadline for both calls together.
    """

    def __init__(self, rpc: RpcCaller, timeout_s: float = 5.0) -> None:
        self._rpc = rpc
        self._timeout_s = timeout_s
        self._owned: HttpJsonRpc | None = None

    @classmethod
    def from_url(cls, url: str, timeout_s: float = 5.0) -> Eip1271Checker:
        """A checker with its own HTTP transport to `url` (closed by `aclose`)."""
        transport = HttpJsonRpc(url, timeout_s)
        checker = cls(transport, timeout_s)
        checker._owned = transport
        return checker

    async def aclose(self) -> None:
        """Close the transport this checker opened, if any."""
        if self._owned is not None:
            await self._owned.close()

    async def check(self, chain_id: int, address: str, digest: bytes, signature: bytes) -> Verdict:
        """Whether the contract at `address` on `chain_id` accepts `signature` for `digest`.

        Raises:
            ContractWalletError: wrong_chain_for_contract (the endpoint serves another chain) or
                contract_check_unavailable (unreachable, timed out, or a nonsensical answer).
        """
        if len(digest) != 32:
            raise ValueError("the digest is 32 bytes")
        data = encode_call("isValidSignature(bytes32,bytes)", ["bytes32", "bytes"], [digest, signature])
        try:
            with anyio.fail_after(self._timeout_s):
                served = _quantity(await self._rpc.call("eth_chainId", []))
                if served != chain_id:
                    raise ContractWalletError(
                        "wrong_chain_for_contract",
                        f"the contract-wallet endpoint serves chain {served}, the message names {chain_id}",
                    )
                try:
                    answer = await self._rpc.call("eth_call", [{"to": address, "data": data}, "latest"])
                except JsonRpcError:
                    return "invalid"  # a revert is a wallet's "no" (many revert on a bad signature)
        except TimeoutError:
            raise ContractWalletError(
                "contract_check_unavailable", "the contract-wallet check timed out"
            ) from None
        except (ZeroGError, ValueError) as exc:
            raise ContractWalletError(
                "contract_check_unavailable", f"the contract-wallet check failed: {type(exc).__name__}"
            ) from None
        return _verdict(answer)


def _quantity(value: Any) -> int:
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    raise ValueError("eth_chainId did not answer a hex quantity")


def _verdict(answer: Any) -> Verdict:
    if answer in ("0x", ""):
        return "no_answer"
    if not isinstance(answer, str) or not answer.startswith("0x"):
        return "invalid"
    try:
        returned = bytes.fromhex(answer[2:])
    except ValueError:
        return "invalid"
    return "valid" if len(returned) >= 32 and returned[:32] == _VALID_WORD else "invalid"
