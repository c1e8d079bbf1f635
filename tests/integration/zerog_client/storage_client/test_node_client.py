"""The storage node client's handling of busy and "already uploaded" answers, against a real HTTP server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.storage.merkle import Proof
from zerog_client.storage.node_client import SegmentWithProof, StorageNodeClient

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SEGMENT = SegmentWithProof("0x" + "11" * 32, b"\0" * 256, 0, Proof(lemma=(b"\x11" * 32,), path=()), 256)


class ScriptedNode:
    """Answers `zgs_uploadSegmentsByTxSeq` from a script of errors, then with success."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.calls += 1
        if self.errors:
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": self.errors.pop(0)})
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": None})


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def start(node: ScriptedNode) -> str:
        app = web.Application()
        app.router.add_post("/", node.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


BUSY = {"code": -32000, "message": "too many data writing: 128"}


async def test_a_busy_node_is_asked_again(serve: Any) -> None:
    node = ScriptedNode([BUSY, BUSY])
    client = StorageNodeClient(await serve(node))
    await client.upload_segments_by_tx_seq([SEGMENT], 0, busy_wait_s=0.01)
    await client.close()
    assert node.calls == 3


async def test_a_node_busy_for_too_long_is_an_error(serve: Any) -> None:
    node = ScriptedNode([BUSY] * 5)
    client = StorageNodeClient(await serve(node))
    with pytest.raises(JsonRpcError, match="too many data writing"):
        await client.upload_segments_by_tx_seq([SEGMENT], 0, busy_retries=2, busy_wait_s=0.01)
    await client.close()
    assert node.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        {"code": -32000, "message": "segment has already been uploaded or is being uploaded"},
        {"code": -32602, "message": "Invalid params: root", "data": "already uploaded and finalized"},
    ],
)
async def test_already_uploaded_answers_are_success(serve: Any, error: dict[str, Any]) -> None:
    node = ScriptedNode([error])
    client = StorageNodeClient(await serve(node))
    await client.upload_segments_by_tx_seq([SEGMENT], 0)
    await client.close()
    assert node.calls == 1


async def test_other_errors_are_raised_at_once(serve: Any) -> None:
    node = ScriptedNode([{"code": -32602, "message": "Invalid params: proof", "data": "validation failed"}])
    client = StorageNodeClient(await serve(node))
    with pytest.raises(JsonRpcError, match="proof"):
        await client.upload_segments_by_tx_seq([SEGMENT], 0)
    await client.close()
    assert node.calls == 1
