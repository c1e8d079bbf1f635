"""Pinned tool definitions: the interpreter calls only tools whose definition it has vetted.

A server can change a tool's description or schema after it was approved (a "rug pull"), and the
text of a description reaches the model. So each vetted tool is pinned by a hash of its canonical
definition; a tool whose hash differs, or an unknown tool, is refused until re-vetted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from mcp.types import Tool

# Server name -> tool name -> fingerprint.
Pins = Mapping[str, Mapping[str, str]]


def fingerprint(tool: Tool) -> str:
    """sha256 of the tool's name, title, description, schemas and annotations as canonical JSON."""
    definition = tool.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        include={"name", "title", "description", "input_schema", "output_schema", "annotations"},
    )
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
