"""What a node's answer to `eth_sendRawTransaction` means for an intent.

A transport failure is ambiguous (the node may have the transaction): never "failed", just re-sent
later. Answers saying the node already has it, or that the nonce is used, are resolved by looking
up receipts, because one of our own attempts may be what used the nonce.
"""

from __future__ import annotations

import re
from enum import StrEnum

from zerog_client.chain.jsonrpc import JsonRpcError


class SendOutcome(StrEnum):
    ACCEPTED = "accepted"  # in the node's pool (or already there)
    NONCE_USED = "nonce_used"  # nonce too low: mined already, by this intent or not; check receipts
    UNDERPRICED = "underpriced"  # a replacement with too small a bump
    REJECTED = "rejected"  # the node will not take it as it is (funds, gas, format)
    AMBIGUOUS = "ambiguous"  # no answer: retry with the same bytes


_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "already exists", "tx already in")
_NONCE_USED = ("nonce too low", "invalid nonce", "nonce has already been used", "old nonce")
_GOT_EXPECTED = re.compile(r"got (\d+),? expected (\d+)")
_UNDERPRICED = ("underpriced", "replacement fee too low", "fee too low")


def classify(error: JsonRpcError | None) -> SendOutcome:
    """Classify a send's outcome from its JSON-RPC error (None: it succeeded)."""
    if error is None:
        return SendOutcome.ACCEPTED
    text = error.rpc_message.lower()
    if any(marker in text for marker in _ALREADY_KNOWN):
        return SendOutcome.ACCEPTED
    gap = _GOT_EXPECTED.search(text)
    if gap is not None and int(gap.group(1)) > int(gap.group(2)):
        # Cosmos-style "invalid nonce; got 7, expected 5": ahead of the account, not used. It waits for
        # the missing nonces to land, so it is not accepted yet either.
        return SendOutcome.REJECTED
    if any(marker in text for marker in _NONCE_USED):
        return SendOutcome.NONCE_USED
    if any(marker in text for marker in _UNDERPRICED):
        return SendOutcome.UNDERPRICED
    return SendOutcome.REJECTED
