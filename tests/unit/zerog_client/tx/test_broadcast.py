"""`classify`: what a node's answer to `eth_sendRawTransaction` means, for the texts nodes really send.

The geth texts are those of its transaction pool (core/txpool and core/error.go); the anvil texts
were captured from anvil and are checked against a running node in the integration test; the
Cosmos-SDK/ethermint one is its ante handler's sequence check.
"""

from __future__ import annotations

import pytest

from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.tx.broadcast import SendOutcome, classify

pytestmark = pytest.mark.unit


def error(message: str, code: int = -32000) -> JsonRpcError:
    return JsonRpcError("eth_sendRawTransaction", code, message)


def test_no_error_is_accepted() -> None:
    assert classify(None) is SendOutcome.ACCEPTED


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        # geth
        ("already known", SendOutcome.ACCEPTED),
        ("nonce too low", SendOutcome.NONCE_USED),
        ("nonce too low: next nonce 5, tx nonce 3", SendOutcome.NONCE_USED),
        ("replacement transaction underpriced", SendOutcome.UNDERPRICED),
        ("transaction underpriced: tip needed 1, tip permitted 0", SendOutcome.UNDERPRICED),
        ("insufficient funds for gas * price + value", SendOutcome.REJECTED),
        ("intrinsic gas too low", SendOutcome.REJECTED),
        ("exceeds block gas limit", SendOutcome.REJECTED),
        ("invalid sender", SendOutcome.REJECTED),
        ("nonce too high", SendOutcome.REJECTED),
        ("max fee per gas less than block base fee", SendOutcome.REJECTED),
        ("oversized data", SendOutcome.REJECTED),
        # anvil (exact texts, see the integration test)
        ("transaction already imported", SendOutcome.ACCEPTED),
        ("Insufficient funds for gas * price + value", SendOutcome.REJECTED),
        ("invalid chain id for signer", SendOutcome.REJECTED),
        # Cosmos SDK / ethermint
        ("invalid nonce; got 3, expected 5: invalid sequence", SendOutcome.NONCE_USED),
        ("tx already in mempool", SendOutcome.ACCEPTED),
        # others
        ("known transaction: 0xabc", SendOutcome.ACCEPTED),
        ("Transaction with the same hash was already imported.", SendOutcome.ACCEPTED),
        ("", SendOutcome.REJECTED),
        ("execution reverted", SendOutcome.REJECTED),
    ],
)
def test_node_messages_map_to_their_outcome(message: str, outcome: SendOutcome) -> None:
    assert classify(error(message)) is outcome


@pytest.mark.parametrize(
    "message", ["NONCE TOO LOW", "Nonce Too Low", "ALREADY KNOWN", "Replacement Fee Too Low"]
)
def test_matching_ignores_case(message: str) -> None:
    assert classify(error(message)) is not SendOutcome.REJECTED


def test_the_code_does_not_decide() -> None:
    assert classify(error("nonce too low", code=-32003)) is SendOutcome.NONCE_USED
    assert classify(error("nonce too low", code=3)) is SendOutcome.NONCE_USED
    assert classify(error("something else", code=-32003)) is SendOutcome.REJECTED


def test_already_known_wins_over_other_markers() -> None:
    # A duplicate of our own transaction is in the pool: that is success, not a price problem.
    assert classify(error("already known (underpriced)")) is SendOutcome.ACCEPTED


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ("invalid nonce; got 7, expected 5: invalid sequence", SendOutcome.REJECTED),
        ("invalid nonce; got 3, expected 5: invalid sequence", SendOutcome.NONCE_USED),
    ],
)
def test_cosmos_nonce_messages_tell_a_gap_from_a_used_nonce(message: str, outcome: SendOutcome) -> None:
    assert classify(JsonRpcError("eth_sendRawTransaction", -32000, message)) is outcome
