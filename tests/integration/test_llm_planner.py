"""The optional LLM planner against a fake OpenAI-compatible endpoint on loopback (a real model cannot
run here): what it may plan runs through the same tools and confirmation; what it may not is refused."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import uvicorn
from eth_account import Account
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from task_interpreter.dialogue import Dialogue
from task_interpreter.interpreter import StageClock
from zerog_client import ChainReader
from zerog_client.devnet import AnvilNode
from zgvoice.runtime import Runtime, open_runtime
from zgvoice.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ERIN = str(Account.from_key((8181).to_bytes(32, "big")).address)
GIBBERISH = "blorp the zibble for me"  # no rule matches; the classifier is off in these tests


class FakeModel:
    """Answers each chat completion with the next scripted message, and records the requests."""

    def __init__(self) -> None:
        self.script: list[dict[str, Any] | int] = []
        self.requests: list[dict[str, Any]] = []

    async def completions(self, request: Request) -> JSONResponse:
        self.requests.append(await request.json())
        answer = self.script.pop(0)
        if isinstance(answer, int):
            return JSONResponse({"error": "boom"}, status_code=answer)
        return JSONResponse({"choices": [{"message": answer}]})


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {
        "tool_calls": [{"type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]
    }


@pytest.fixture
async def model() -> AsyncIterator[tuple[FakeModel, str]]:
    fake = FakeModel()
    app = Starlette(routes=[Route("/v1/chat/completions", fake.completions, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve, [sock])
        yield fake, f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        server.should_exit = True
    sock.close()


@pytest.fixture
async def runtime(node: AnvilNode, model: tuple[FakeModel, str]) -> AsyncIterator[Runtime]:
    settings = load_settings(
        chain={"rpc_url": node.rpc_url},
        nlp={"classifier": False},
        llm={"enabled": True, "base_url": model[1], "model": "test-model", "api_key": "sk-test"},
    )
    async with open_runtime(settings) as live:
        yield live


async def say(runtime: Runtime, dialogue: Dialogue, text: str) -> str:
    return (await runtime.interpreter.handle(text, StageClock(), dialogue=dialogue)).reply


async def test_a_read_the_model_plans_is_answered(runtime: Runtime, model: tuple[FakeModel, str]) -> None:
    fake, _ = model
    fake.script.append(call("chain__get_balance", address=SENDER))
    assert await say(runtime, Dialogue(), GIBBERISH) == "You have 10,000 0G."
    sent = fake.requests[0]
    offered = {tool["function"]["name"] for tool in sent["tools"]}
    assert "chain__get_balance" in offered
    assert "chain__prepare_transfer" in offered
    assert not offered & {"chain__confirm_transfer", "chain__confirm_batch_transfer"}
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert sent["messages"][1]["content"] == GIBBERISH


async def test_a_transfer_the_model_plans_still_needs_the_users_yes(
    runtime: Runtime, reader: ChainReader, model: tuple[FakeModel, str]
) -> None:
    fake, _ = model
    fake.script.append(call("chain__prepare_transfer", to=ERIN, amount="0.1", asset="0G"))
    dialogue = Dialogue()
    prompt = await say(runtime, dialogue, GIBBERISH)
    assert "Send 0.1 0G to" in prompt
    assert await reader.transaction_count(SENDER, "latest") == 0
    assert (await say(runtime, dialogue, "yes")).startswith("Done: 0.1 0G sent")
    assert await reader.balance(ERIN) == 10**17
    assert len(fake.requests) == 1  # the yes never went to the model


@pytest.mark.parametrize(
    "answer",
    [
        call("chain__confirm_transfer", handle="x"),  # never offered
        call("storage__upload_file", path="/etc/passwd"),  # not a vetted tool here
        {
            "tool_calls": [
                {"type": "function", "function": {"name": "chain__get_balance", "arguments": "{not json"}}
            ]
        },
        500,
        {"content": ""},
    ],
)
async def test_what_the_model_may_not_do_is_refused_and_nothing_runs(
    runtime: Runtime, reader: ChainReader, model: tuple[FakeModel, str], answer: dict[str, Any] | int
) -> None:
    fake, _ = model
    fake.script.append(answer)
    reply = await say(runtime, Dialogue(), GIBBERISH)
    assert reply.startswith("Sorry, I didn't understand")
    assert await reader.transaction_count(SENDER, "latest") == 0


async def test_a_spoken_answer_from_the_model_is_said(runtime: Runtime, model: tuple[FakeModel, str]) -> None:
    fake, _ = model
    fake.script.append({"content": "I can only help with 0G things."})
    assert await say(runtime, Dialogue(), GIBBERISH) == "I can only help with 0G things."
