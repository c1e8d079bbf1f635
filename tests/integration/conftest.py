"""Fresh devnets for tests that count balances and nonces (the shared session anvil is not fresh)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from zerog_client import ChainReader
from zerog_client.devnet import AnvilConfig, AnvilNode, find_anvil
from zerog_client.tx.sqlite_outbox import SqliteOutbox

CHAIN_ID = 1_660_999
NPM_TOOLS = Path(__file__).resolve().parents[2] / "tools" / "npm"


@pytest.fixture
def node() -> Iterator[AnvilNode]:
    """A devnet of its own for one test (starts in well under a second)."""
    with AnvilNode(AnvilConfig(binary=find_anvil(None, (NPM_TOOLS,)), chain_id=CHAIN_ID)) as running:
        yield running


@pytest.fixture
async def reader(node: AnvilNode) -> AsyncIterator[ChainReader]:
    async with ChainReader(node.rpc_url, CHAIN_ID) as live:
        yield live


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[SqliteOutbox]:
    store = SqliteOutbox(tmp_path / "outbox.db")
    await store.open()
    yield store
    await store.close()
