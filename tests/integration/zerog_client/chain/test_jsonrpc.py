"""`HttpJsonRpc` against a real HTTP server on 127.0.0.1 that answers the ways nodes do: results,
JSON-RPC errors, HTTP failures, non-JSON, oversized and slowly chunked bodies, and broken batches."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
import anyio
import pytest
from aiohttp import web

from tests.support.processes import free_port
from zerog_client.chain import jsonrpc
from zerog_client.chain.jsonrpc import HttpJsonRpc, JsonRpcError
from zerog_client.errors import ChainRequestError, ChainUnreachableError

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

MIB = 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer(request_item: dict[str, Any]) -> dict[str, Any]:
    """The server's JSON-RPC semantics: `echo` returns its params, `fail` is a JSON-RPC error."""
    method, params = request_item["method"], request_item["params"]
    if method == "fail":
        error = {"code": -32000, "message": f"boom {params}", "data": "0xdead"}
        return {"jsonrpc": "2.0", "id": request_item["id"], "error": error}
    return {"jsonrpc": "2.0", "id": request_item["id"], "result": {"method": method, "params": params}}


@dataclass
class Node:
    """A fake node: each path is one behaviour; `posts` records every request body it got."""

    base: str
    posts: list[Any] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"


async def _stream(request: web.Request, body: bytes, *, chunk: int, chunked: bool) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    if chunked:
        response.enable_chunked_encoding()
    else:
        response.content_length = len(body)
    await response.prepare(request)
    try:
        for start in range(0, len(body), chunk):
            await response.write(body[start : start + chunk])
        await response.write_eof()
    except (ConnectionResetError, aiohttp.ClientConnectionResetError):
        pass  # the client gave up on an oversized body, as it should
    return response


def _routes(node: Node) -> dict[str, Handler]:
    async def normal(request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        node.posts.append(payload)
        if isinstance(payload, list):
            return web.json_response([answer(item) for item in payload])
        return web.json_response(answer(payload))

    async def shuffled(request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        node.posts.append(payload)
        if not isinstance(payload, list):
            return web.json_response(answer(payload))
        answers = [answer(item) for item in payload]
        random.Random(request.query.get("seed")).shuffle(answers)
        return web.json_response(answers)

    async def missing_item(request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        return web.json_response([answer(item) for item in payload[:-1]])

    async def batch_error_object(request: web.Request) -> web.StreamResponse:
        await request.read()
        error = {"code": -32600, "message": "batch requests are not allowed"}
        return web.json_response({"jsonrpc": "2.0", "id": None, "error": error})

    async def fixed(request: web.Request) -> web.StreamResponse:
        await request.read()
        status = int(request.query.get("status", "200"))
        content_type = request.query.get("type", "application/json")
        return web.Response(status=status, text=request.query.get("body", ""), content_type=content_type)

    async def big(request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        size = int(request.query["bytes"])
        body = json.dumps({"jsonrpc": "2.0", "id": payload["id"], "result": "0x" + "ab" * (size // 2)})
        chunk = int(request.query.get("chunk", "65536"))
        return await _stream(request, body.encode(), chunk=chunk, chunked=request.query.get("te") == "1")

    async def hang(request: web.Request) -> web.StreamResponse:
        await request.read()
        await node.release.wait()
        return web.json_response({})

    return {
        "": normal,
        "shuffled": shuffled,
        "missing-item": missing_item,
        "batch-error-object": batch_error_object,
        "fixed": fixed,
        "big": big,
        "hang": hang,
    }


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    app = web.Application(client_max_size=4 * MIB)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    state = Node(base="")
    for path, handler in _routes(state).items():
        app.router.add_post(f"/{path}", handler)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.base = f"http://{host}:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


@pytest.fixture
async def open_client() -> AsyncIterator[Callable[..., HttpJsonRpc]]:
    clients: list[HttpJsonRpc] = []

    def make(url: str, timeout_s: float = 10.0) -> HttpJsonRpc:
        client = HttpJsonRpc(url, timeout_s)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def fixed_url(node: Node, status: int = 200, body: str = "", content_type: str = "application/json") -> str:
    query = quote(body, safe="")
    return node.url(f"fixed?status={status}&type={content_type}&body={query}")


# --- single calls ----------------------------------------------------------------------------------


async def test_call_returns_the_result_and_sends_a_json_rpc_request(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    client = open_client(node.url(""))
    assert await client.call("echo", ["0x1", {"a": 1}]) == {"method": "echo", "params": ["0x1", {"a": 1}]}
    assert await client.call("echo") == {"method": "echo", "params": []}
    first, second = node.posts
    assert first["jsonrpc"] == second["jsonrpc"] == "2.0"
    assert first["id"] != second["id"]


async def test_concurrent_calls_each_get_their_own_answer(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    client = open_client(node.url(""))
    results = await asyncio.gather(*(client.call("echo", [i]) for i in range(50)))
    assert [r["params"] for r in results] == [[i] for i in range(50)]
    assert len({post["id"] for post in node.posts}) == 50


async def test_a_json_rpc_error_is_a_typed_request_error(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    with pytest.raises(JsonRpcError) as info:
        await open_client(node.url("")).call("fail", [7])
    error = info.value
    assert isinstance(error, ChainRequestError)
    assert not isinstance(error, ChainUnreachableError)
    assert (error.method, error.rpc_code, error.rpc_message, error.data) == (
        "fail",
        -32000,
        "boom [7]",
        "0xdead",
    )
    assert "fail" in str(error)
    assert error.retryable is False


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
async def test_server_failures_and_throttling_are_unreachable(
    node: Node, open_client: Callable[..., HttpJsonRpc], status: int
) -> None:
    # Even with a well-formed JSON-RPC body: the status says the node did not serve the request.
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": "0x1"})
    with pytest.raises(ChainUnreachableError, match=f"HTTP {status}") as info:
        await open_client(fixed_url(node, status, body)).call("echo")
    assert info.value.retryable is True


async def test_a_json_rpc_error_in_a_client_error_status_is_still_a_json_rpc_error(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32700, "message": "parse error"}})
    with pytest.raises(JsonRpcError) as info:
        await open_client(fixed_url(node, 400, body)).call("echo")
    assert (info.value.rpc_code, info.value.rpc_message) == (-32700, "parse error")


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, "<html>gateway</html>", "text/html"),
        (404, "not found", "text/plain"),
        (200, "", "application/json"),
        (200, '{"jsonrpc": "2.0", "id": 1', "application/json"),
    ],
)
async def test_anything_but_json_is_unreachable(
    node: Node, open_client: Callable[..., HttpJsonRpc], status: int, body: str, content_type: str
) -> None:
    with pytest.raises(ChainUnreachableError):
        await open_client(fixed_url(node, status, body, content_type)).call("echo")


@pytest.mark.parametrize(
    "body",
    [
        '{"jsonrpc": "2.0", "id": 1}',  # neither result nor error
        '[{"jsonrpc": "2.0", "id": 1, "result": "0x1"}]',  # a batch answer to a single call
        '"0x1"',
        "null",
    ],
)
async def test_json_that_is_not_a_json_rpc_answer_is_unreachable(
    node: Node, open_client: Callable[..., HttpJsonRpc], body: str
) -> None:
    with pytest.raises(ChainUnreachableError):
        await open_client(fixed_url(node, 200, body)).call("echo")


async def test_a_null_result_is_a_result(node: Node, open_client: Callable[..., HttpJsonRpc]) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": None})
    assert await open_client(fixed_url(node, 200, body)).call("eth_getTransactionReceipt") is None


@pytest.mark.parametrize("code", ['"oops"', "null", "[1]"])
async def test_a_malformed_error_code_still_gives_a_typed_error(
    node: Node, open_client: Callable[..., HttpJsonRpc], code: str
) -> None:
    body = '{"jsonrpc": "2.0", "id": 1, "error": {"code": ' + code + ', "message": "m"}}'
    with pytest.raises((ChainUnreachableError, JsonRpcError)):
        await open_client(fixed_url(node, 200, body)).call("echo")


async def test_a_refused_connection_is_unreachable(open_client: Callable[..., HttpJsonRpc]) -> None:
    with pytest.raises(ChainUnreachableError) as info:
        await open_client(f"http://127.0.0.1:{free_port()}").call("echo")
    assert isinstance(info.value.__cause__, aiohttp.ClientError | OSError)


async def test_a_node_that_never_answers_times_out_as_unreachable(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    with pytest.raises(ChainUnreachableError), anyio.fail_after(5):
        await open_client(node.url("hang"), timeout_s=0.3).call("echo")


# --- large bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("transfer_encoding", ["chunked", "content-length"])
@pytest.mark.parametrize("chunk", [997, 16 * 1024])
async def test_a_large_body_in_many_chunks_is_read_whole(
    node: Node, open_client: Callable[..., HttpJsonRpc], transfer_encoding: str, chunk: int
) -> None:
    size = 3 * MIB + 5
    te = "1" if transfer_encoding == "chunked" else "0"
    result = await open_client(node.url(f"big?bytes={size}&chunk={chunk}&te={te}")).call("eth_getLogs")
    assert result == "0x" + "ab" * (size // 2)


async def test_a_body_over_the_limit_is_refused(
    node: Node, open_client: Callable[..., HttpJsonRpc], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonrpc, "MAX_RESPONSE_BYTES", MIB)
    client = open_client(node.url(f"big?bytes={MIB}&chunk=4096&te=1"))
    with pytest.raises(ChainUnreachableError, match="oversized"):
        await client.call("eth_getLogs")
    # The limit is on the body, not on each read: just under it passes.
    under = open_client(node.url(f"big?bytes={MIB - 100}&chunk=4096&te=1"))
    assert len(await under.call("eth_getLogs")) == 2 + 2 * ((MIB - 100) // 2)


async def test_the_real_limit_refuses_a_body_just_over_64_mib(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    assert jsonrpc.MAX_RESPONSE_BYTES == 64 * MIB
    client = open_client(node.url(f"big?bytes={64 * MIB}&chunk={1 << 20}&te=1"))
    with pytest.raises(ChainUnreachableError, match="oversized"):
        await client.call("eth_getLogs")


# --- batches ---------------------------------------------------------------------------------------


async def test_a_batch_keeps_the_order_of_its_calls_with_errors_in_place(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    calls = [("echo", [0]), ("fail", [1]), ("echo", [2]), ("fail", [3])]
    results = await open_client(node.url("")).batch(calls)
    assert results[0] == {"method": "echo", "params": [0]}
    assert results[2] == {"method": "echo", "params": [2]}
    errors = [results[1], results[3]]
    assert all(isinstance(e, JsonRpcError) for e in errors)
    assert [(e.method, e.rpc_message) for e in errors] == [("fail", "boom [1]"), ("fail", "boom [3]")]
    (payload,) = node.posts
    assert [item["method"] for item in payload] == ["echo", "fail", "echo", "fail"]
    assert len({item["id"] for item in payload}) == 4


@pytest.mark.parametrize("seed", ["1", "2", "3", "reverse-ish"])
async def test_answers_in_any_order_come_back_in_call_order(
    node: Node, open_client: Callable[..., HttpJsonRpc], seed: str
) -> None:
    client = open_client(node.url(f"shuffled?seed={seed}"))
    await client.call("echo")  # the batch's ids then do not start at 1
    calls = [("echo", [i]) for i in range(40)]
    results = await client.batch(calls)
    assert results == [{"method": "echo", "params": [i]} for i in range(40)]


async def test_an_empty_batch_sends_nothing(node: Node, open_client: Callable[..., HttpJsonRpc]) -> None:
    assert await open_client(node.url("")).batch([]) == []
    assert node.posts == []


async def test_a_batch_with_an_item_missing_fails_as_a_whole(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    with pytest.raises(ChainUnreachableError, match="unanswered"):
        await open_client(node.url("missing-item")).batch([("echo", [0]), ("echo", [1]), ("echo", [2])])


async def test_a_batch_refused_with_one_error_object_raises_that_error(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    with pytest.raises(JsonRpcError) as info:
        await open_client(node.url("batch-error-object")).batch([("eth_call", []), ("echo", [])])
    assert (info.value.rpc_code, info.value.rpc_message) == (-32600, "batch requests are not allowed")


@pytest.mark.parametrize(
    "body",
    ['{"jsonrpc": "2.0", "id": 1, "result": "0x1"}', '"batch"', "42", "not json"],
)
async def test_a_batch_answered_with_something_else_is_unreachable(
    node: Node, open_client: Callable[..., HttpJsonRpc], body: str
) -> None:
    with pytest.raises(ChainUnreachableError):
        await open_client(fixed_url(node, 200, body)).batch([("echo", [])])


@pytest.mark.parametrize("status", [500, 429])
async def test_a_batch_hit_by_a_server_failure_is_unreachable(
    node: Node, open_client: Callable[..., HttpJsonRpc], status: int
) -> None:
    with pytest.raises(ChainUnreachableError, match=str(status)):
        await open_client(fixed_url(node, status, "[]")).batch([("echo", [])])


async def test_a_batch_item_without_result_or_error_is_not_a_null_result(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    # A fresh client numbers its first request 1, so the canned answer matches the batch's only id.
    client = open_client(fixed_url(node, 200, '[{"jsonrpc": "2.0", "id": 1}]'))
    with pytest.raises(ChainUnreachableError):
        await client.batch([("eth_getTransactionReceipt", ["0x" + "1" * 64])])


async def test_a_batch_item_with_an_unhashable_id_is_unreachable(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    with pytest.raises(ChainUnreachableError):
        await open_client(fixed_url(node, 200, '[{"jsonrpc": "2.0", "id": [1], "result": 1}]')).batch(
            [("echo", [])]
        )


async def test_close_then_reuse_opens_a_new_session(
    node: Node, open_client: Callable[..., HttpJsonRpc]
) -> None:
    client = open_client(node.url(""))
    assert (await client.call("echo", [1]))["params"] == [1]
    await client.close()
    assert (await client.call("echo", [2]))["params"] == [2]
    assert repr(client) == f"HttpJsonRpc({node.url('')!r})"
