"""Wiring of the embedded mode: chain reader -> MCP chain server (in-memory) -> interpreter -> TTS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mcp_servers import build_chain_server
from task_interpreter import Interpreter, ToolExecutor, TurnContext
from voice_gateway.ask import AskService
from voice_gateway.tts import PiperTTS
from zerog_client import DEVNET, ChainReader, ZeroGError
from zgvoice.settings import Settings


@dataclass(frozen=True, slots=True)
class Runtime:
    """The live components of one embedded process."""

    service: AskService
    reader: ChainReader
    tts: PiperTTS
    user_address: str | None

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the chain answers, with what it says."""
        try:
            block = await self.reader.block_number()
        except ZeroGError as exc:
            return False, {"chain": {"ok": False, "error": exc.code, "rpc_url": self.reader.rpc_url}}
        chain = {"ok": True, "chain_id": self.reader.expected_chain_id, "block_number": block}
        return True, {"chain": chain}


async def _default_user_address(settings: Settings, reader: ChainReader) -> str | None:
    if settings.wallet.address is not None:
        return settings.wallet.address
    if settings.chain.chain_id == DEVNET.chain_id:
        # Without sign-in, "my" on the devnet means the first funded dev account.
        accounts = await reader.node_accounts()
        return accounts[0] if accounts else None
    return None


@asynccontextmanager
async def embedded_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open every component for the embedded profile and close them in reverse order.

    Raises:
        ChainUnreachableError, WrongChainError: the configured chain endpoint is unusable.
    """
    reader = ChainReader(settings.chain.rpc_url, settings.chain.chain_id, settings.chain.request_timeout_s)
    async with reader:
        user_address = await _default_user_address(settings, reader)
        server = build_chain_server(reader)
        async with ToolExecutor({"chain": server}) as executor:
            interpreter = Interpreter(executor, TurnContext(user_address), settings.nlp.max_text_chars)
            tts = PiperTTS()
            yield Runtime(AskService(interpreter, tts), reader, tts, user_address)
