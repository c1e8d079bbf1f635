"""The knowledge server through the MCP SDK's in-memory client, over the repository's own docs with
the packaged all-MiniLM-L6-v2 model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_servers.knowledge import DocIndex, build_knowledge_server, split_sections

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def index() -> DocIndex:
    return DocIndex.from_repo(REPO)


@pytest.fixture
async def client(index: DocIndex) -> AsyncIterator[Client]:
    async with Client(build_knowledge_server(index)) as connected:
        yield connected


def test_sections_split_at_headings_outside_code_fences() -> None:
    text = "# Title\nintro\n## A\nbody a\n```sh\n# not a heading\n```\n### B\nbody b\n"
    sections = split_sections("x.md", text)
    assert [(s.heading, s.text.splitlines()[0]) for s in sections] == [
        ("Title", "intro"),
        ("A", "body a"),
        ("B", "body b"),
    ]


async def test_how_to_run_the_tests_finds_the_readme_section(client: Client) -> None:
    result = await client.call_tool("search_docs", {"query": "how do I run the tests", "limit": 3})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    hits: list[dict[str, Any]] = result.structured_content["results"]
    assert len(hits) == 3
    assert hits[0]["source"] == "README.md"
    assert "scripts/test.sh" in hits[0]["text"]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


async def test_limit_is_honoured(client: Client, index: DocIndex) -> None:
    result = await client.call_tool("search_docs", {"query": "MCP tokens for Claude Desktop", "limit": 10})
    assert result.structured_content is not None
    hits = result.structured_content["results"]
    assert len(hits) == min(10, len(index.sections))
    assert hits[0]["source"] == "docs/mcp.md"


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"query": ""},
        {"query": 5},
        {"query": "x" * 501},
        {"query": "tests", "limit": 0},
        {"query": "tests", "limit": 11},
        {"query": "tests", "limit": "many"},
    ],
)
async def test_schema_violations_are_refused(client: Client, arguments: dict[str, Any]) -> None:
    result = await client.call_tool("search_docs", arguments)
    assert result.is_error
