"""`POST /v1/ask` and `GET /healthz` through the real app and runtime against anvil."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from voice_gateway.app import create_app
from zerog_client.devnet import AnvilNode
from zgvoice.runtime import open_runtime
from zgvoice.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
async def client(anvil: AnvilNode) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(chain={"rpc_url": anvil.rpc_url})
    async with open_runtime(settings) as runtime:
        app = create_app(runtime.service, runtime.health, settings.gateway.max_body_bytes)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield http


async def test_healthz_reports_the_chain(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["chain"]["chain_id"] == 1_660_999


async def test_ask_balance_like_curl_does(client: httpx.AsyncClient) -> None:
    # curl -d sends application/x-www-form-urlencoded; the API reads the body as JSON regardless.
    response = await client.post(
        "/v1/ask",
        content=b'{"text":"what is my balance"}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["intent"]["name"] == "balance"
    assert body["reply"].startswith("You have ")
    assert body["tool_results"][0]["ok"] is True
    assert "total_ms" in body["latency_ms"]


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b'{"text":""}', 422, "empty_text"),
        (b'{"text":"   \\n "}', 422, "empty_text"),
        (b'{"text":"' + b"a" * 1_000_000 + b'"}', 413, "body_too_large"),
        (b'{"text":"' + b"a" * 30_000 + b'"}', 413, "text_too_long"),
        (b'{"text":"what is my \xff balance"}', 400, "invalid_encoding"),
        (b"what is my balance", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b'["what is my balance"]', 422, "missing_text"),
        (b'{"question":"hi"}', 422, "missing_text"),
        (b'{"text":42}', 422, "invalid_text"),
        (b'{"text":"hi","voice":"x"}', 422, "unknown_field"),
    ],
)
async def test_bad_input_gets_a_clear_error(
    client: httpx.AsyncClient, content: bytes, status: int, code: str
) -> None:
    response = await client.post("/v1/ask", content=content)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    # The server is still healthy afterwards.
    assert (await client.get("/healthz")).status_code == 200


async def test_unknown_intent_is_a_200_with_a_helpful_reply(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/ask", json={"text": "make me a sandwich"})
    assert response.status_code == 200
    assert response.json()["reply"].startswith("Sorry, I didn't understand")


async def test_unknown_route_and_method_are_json_errors(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong_method = await client.get("/v1/ask")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
