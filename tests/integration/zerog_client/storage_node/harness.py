"""Test-side tools for the storage node protocol suite: raw JSON-RPC, a Submit-log emitter, vectors.

Requests are built as plain JSON here on purpose: the suite checks the node against the SPEC, so it
must not go through a client library of ours that could share the node's mistakes.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from zerog_client.storage import (
    FileTree,
    FlowSimulator,
    SubmissionData,
    SubmitEvent,
    encode_submit_event,
    identity_digest,
    read_segment,
)

VECTORS = Path("/work/shared/zerog")
SUBMITTER = "0x1111111111111111111111111111111111111111"

# A Solidity-free contract that emits LOG3(topic0, topic1, topic2) with the rest of the calldata as
# the log data, so the suite can produce exact `Submit` logs (including repeated roots) on anvil.
_EMITTER_RUNTIME = bytes.fromhex("604035602035600035606036038060606000376000a300")


def _emitter_init() -> str:
    # PUSH1 len, DUP1, PUSH1 11 (runtime offset), PUSH1 0, CODECOPY, PUSH1 0, RETURN
    init = bytes.fromhex(f"60{len(_EMITTER_RUNTIME):02x}80600b60003960" + "00f3")
    return "0x" + (init + _EMITTER_RUNTIME).hex()


def load_vectors(name: str = "vectors-proofs.json") -> dict[str, Any]:
    """The shared conformance data."""
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def pattern(size: int) -> bytes:
    """The vectors' pattern data: byte i is i % 251."""
    return bytes(i % 251 for i in range(size))


async def rpc(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    """Send one raw JSON-RPC request and return the whole response object."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    # A stream, not bytes: aiohttp warns about large byte bodies, and warnings are errors here.
    headers = {"Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=io.BytesIO(body), headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        reply: dict[str, Any] = await response.json()
    return reply


async def result(url: str, method: str, params: list[Any]) -> Any:
    """The `result` of a call that must succeed."""
    reply = await rpc(url, method, params)
    assert "error" not in reply, reply
    return reply["result"]


async def error(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    """The `error` object of a call that must fail."""
    reply = await rpc(url, method, params)
    assert "error" in reply, reply
    err: dict[str, Any] = reply["error"]
    return err


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll `check` until it holds, failing after `timeout` seconds."""
    with anyio.fail_after(timeout):
        while not await check():  # noqa: ASYNC110 - the condition lives in another process; no event to await
            await anyio.sleep(0.05)


async def mined(rpc_url: str, tx_hash: str) -> dict[str, Any]:
    """Poll for a transaction's receipt."""
    receipt: dict[str, Any] | None = None

    async def ready() -> bool:
        nonlocal receipt
        receipt = await result(rpc_url, "eth_getTransactionReceipt", [tx_hash])
        return receipt is not None

    await wait_until(ready)
    assert receipt is not None
    return receipt


def segment_json(tree: FileTree, data: bytes, index: int) -> dict[str, Any]:
    """The wire `SegmentWithProof` of data segment `index`."""
    payload = read_segment(io.BytesIO(data), tree.layout, index)
    return {
        "root": "0x" + tree.root.hex(),
        "data": base64.b64encode(payload).decode(),
        "index": index,
        "proof": dict(tree.proof_at(index).to_json()),
        "fileSize": len(data),
    }


@dataclass
class Chain:
    """An anvil devnet with an emitter contract standing in for the Flow."""

    rpc_url: str
    account: str
    flow: str
    simulator: FlowSimulator
    next_seq: int = 0

    @classmethod
    async def deploy(cls, rpc_url: str) -> Chain:
        accounts = await result(rpc_url, "eth_accounts", [])
        tx = await result(rpc_url, "eth_sendTransaction", [{"from": accounts[0], "data": _emitter_init()}])
        receipt = await mined(rpc_url, tx)
        return cls(rpc_url, accounts[0], receipt["contractAddress"], FlowSimulator())

    async def submit(self, tree: FileTree) -> int:
        """Emit the `Submit` log the Flow would for this file; returns its txSeq."""
        placement = self.simulator.submit([node.height for node in tree.nodes])
        data = SubmissionData(tree.layout.size, b"", tree.nodes)
        event = SubmitEvent(
            SUBMITTER, identity_digest(tree.nodes), self.next_seq, placement.start_pos, data.sectors, data
        )
        topics, log_data = encode_submit_event(event)
        calldata = "0x" + b"".join(topics).hex() + log_data.hex()
        tx = await result(
            self.rpc_url, "eth_sendTransaction", [{"from": self.account, "to": self.flow, "data": calldata}]
        )
        receipt = await mined(self.rpc_url, tx)
        assert receipt["status"] == "0x1"
        assert len(receipt["logs"]) == 1
        self.next_seq += 1
        return event.submission_index
