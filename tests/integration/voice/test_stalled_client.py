"""A client that stops reading is disconnected after the send timeout; other sessions carry on."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from tests.support.processes import wait_until_async
from voice_gateway.voice.session import VoiceDeps, VoiceSession
from zerog_client.devnet import AnvilNode
from zgvoice.runtime import open_runtime
from zgvoice.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


class ScriptedTransport:
    """Delivers scripted client messages, then waits for the close; `reads` messages before stalling."""

    def __init__(self, script: list[str], reads: int | None) -> None:
        self._script = list(script)
        self._reads = reads
        self.sent: list[str | bytes] = []
        self.closed_with: int | None = None
        self._closed = asyncio.Event()
        self._never = asyncio.Event()

    async def receive(self) -> bytes | str | None:
        if self._script:
            return self._script.pop(0)
        await self._closed.wait()
        return None

    async def _send(self, data: str | bytes) -> None:
        if self._reads is not None and len(self.sent) >= self._reads:
            await self._never.wait()  # the peer's window is full: a send that never completes
        self.sent.append(data)

    async def send_text(self, data: str) -> None:
        await self._send(data)

    async def send_bytes(self, data: bytes) -> None:
        await self._send(data)

    async def close(self, code: int, reason: str = "") -> None:
        self.closed_with = code
        self._closed.set()


@pytest.fixture
async def deps(anvil: AnvilNode) -> AsyncIterator[VoiceDeps]:
    settings = load_settings(chain={"rpc_url": anvil.rpc_url})
    async with open_runtime(settings) as runtime:
        base = runtime.voice_deps()
        config = dataclasses.replace(base.config, send_timeout_s=0.5, outbound_queue_messages=8)
        yield dataclasses.replace(base, config=config)


async def test_a_client_that_never_reads_is_closed_and_others_are_unaffected(deps: VoiceDeps) -> None:
    start = json.dumps({"type": "start"})
    ask = json.dumps({"type": "text", "text": "help"})
    stalled = ScriptedTransport([start, ask], reads=1)
    healthy = ScriptedTransport([start, ask], reads=None)
    stalled_run = asyncio.ensure_future(VoiceSession(deps, stalled).run())
    healthy_run = asyncio.ensure_future(VoiceSession(deps, healthy).run())
    async with asyncio.timeout(20):
        await stalled_run
    assert stalled.closed_with == 1008
    await wait_until_async(
        lambda: any(isinstance(m, str) and '"bot_speech_stopped"' in m for m in healthy.sent), 30, "the reply"
    )
    assert any(isinstance(m, bytes) for m in healthy.sent)
    await healthy.close(1000)
    async with asyncio.timeout(10):
        await healthy_run
