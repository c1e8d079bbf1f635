"""The KV server: 0G key-value streams, limited to a configured set of writable streams.

Keys and values are UTF-8 text. Each `kv_set` or `kv_delete` call is one batch: one blob, one storage
upload and one flow transaction (which pays a storage fee bounded by the per-call size cap). Reads go
to the KV node, which shows a write once it has replayed the transaction.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_servers.results import guarded
from zerog_client.errors import ZeroGError
from zerog_client.storage.kv_client import KvClient
from zerog_client.storage.kv_streams import stream_id
from zerog_client.storage.kv_writer import BlobUploader, KvLimitError, KvWriter

MAX_KEY_BYTES = 1024
MAX_VALUE_BYTES = 64 * 1024
MAX_BATCH_ENTRIES = 256
MAX_BATCH_BYTES = 1024 * 1024
MAX_LIST = 100
_ENTRY_OVERHEAD = 43  # per write in the blob, besides key and value

_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
_PAYS_FEE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)

Stream = Annotated[
    str,
    Field(
        description="stream name (its id is keccak256 of the name) or 0x-prefixed 32-byte id",
        min_length=1,
        max_length=200,
    ),
]
Key = Annotated[str, Field(description="UTF-8 key, 1 to 1024 bytes", min_length=1, max_length=MAX_KEY_BYTES)]


class StreamNotAllowedError(ZeroGError, ValueError):
    """The stream is not one this server is configured to serve."""

    code = "stream_not_allowed"


@dataclass(frozen=True, slots=True)
class KvDeps:
    """What the KV server needs; the caller opens and closes the clients.

    Attributes:
        uploader: pays for and uploads each batch (a `KvUploader`).
        client: the KV node reads go to.
        streams: names or 0x ids of the streams tools may touch.
    """

    uploader: BlobUploader
    client: KvClient
    streams: frozenset[str]


class Entry(BaseModel):
    """One key and its value to write."""

    key: Key
    value: str = Field(description="UTF-8 value, at most 64 KiB; empty deletes", max_length=MAX_VALUE_BYTES)


class Value(BaseModel):
    """A key's value at the latest version the KV node has replayed."""

    stream_id: str
    key: str
    found: bool
    version: int
    encoding: str = Field(description="utf-8 when the bytes are text, else base64")
    value: str


class Batch(BaseModel):
    """A written batch: one flow transaction. Reads show it once the KV node replays `tx_seq`."""

    stream_id: str
    tx_seq: int
    tx_hash: str | None
    root: str
    writes: int


class ListedEntry(BaseModel):
    """A key in the listing."""

    key: str
    version: int
    encoding: str
    value: str


class Listing(BaseModel):
    """Keys with the prefix, in byte order."""

    stream_id: str
    entries: list[ListedEntry]
    truncated: bool = Field(description="more keys with the prefix exist beyond `limit`")


def _text(data: bytes) -> tuple[str, str]:
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(data).decode()


def _key_bytes(key: str) -> bytes:
    data = key.encode("utf-8")
    if not 1 <= len(data) <= MAX_KEY_BYTES:
        raise KvLimitError(f"a key is 1 to {MAX_KEY_BYTES} bytes as UTF-8; this one is {len(data)}")
    return data


def build_kv_server(deps: KvDeps) -> MCPServer:
    """Create the KV MCP server.

    Args:
        deps: the blob uploader, KV node client and allowed streams.
    """
    allowed = {stream_id(s) for s in deps.streams}
    lock = asyncio.Lock()
    server = MCPServer(
        "zgv-kv",
        title="0G key-value",
        instructions=(
            "Read and write 0G KV streams. Writes (kv_set, kv_delete) cost a storage fee in 0G; each call "
            "is one transaction, visible to reads once the KV node has replayed it."
        ),
        version="0.1.0",
    )

    def checked(stream: str) -> bytes:
        sid = stream_id(stream)
        if sid not in allowed:
            raise StreamNotAllowedError("this server does not serve that stream")
        return sid

    async def write(sid: bytes, pairs: Iterable[tuple[bytes, bytes]]) -> Batch:
        # A writer per call: a failed batch never lingers to ride along with a later call.
        writer = KvWriter(deps.uploader, deps.client, max_blob_bytes=MAX_BATCH_BYTES + 64)
        size = 0
        for key, value in pairs:
            size += _ENTRY_OVERHEAD + len(key) + len(value)
            if size > MAX_BATCH_BYTES:
                raise KvLimitError(f"a batch is at most {MAX_BATCH_BYTES} bytes")
            writer.set(sid, key, value)
        async with lock:
            result = await writer.flush()
        assert result is not None  # at least one entry (schema)
        return Batch(
            stream_id="0x" + sid.hex(),
            tx_seq=result.tx_seq,
            tx_hash=result.tx_hash,
            root=result.root,
            writes=result.writes,
        )

    @server.tool(annotations=_READ_ONLY)
    async def kv_get(stream: Stream, key: Key) -> Annotated[CallToolResult, Value]:
        """The value of a key in a stream (found=false when never written or deleted)."""

        async def run() -> Value:
            sid = checked(stream)
            raw = await deps.client.get_value(sid, _key_bytes(key))
            encoding, text = _text(raw.data)
            return Value(
                stream_id="0x" + sid.hex(),
                key=key,
                found=bool(raw.data),
                version=raw.version,
                encoding=encoding,
                value=text,
            )

        return await guarded(run)

    @server.tool(annotations=_PAYS_FEE)
    async def kv_set(
        stream: Stream,
        entries: Annotated[
            list[Entry],
            Field(
                description="keys and values, written together", min_length=1, max_length=MAX_BATCH_ENTRIES
            ),
        ],
    ) -> Annotated[CallToolResult, Batch]:
        """Write keys in one transaction. COSTS A STORAGE FEE in 0G, paid from the server's account."""

        async def run() -> Batch:
            sid = checked(stream)
            pairs = []
            for entry in entries:
                value = entry.value.encode("utf-8")
                if len(value) > MAX_VALUE_BYTES:
                    raise KvLimitError(f"a value is at most {MAX_VALUE_BYTES} bytes as UTF-8")
                pairs.append((_key_bytes(entry.key), value))
            return await write(sid, pairs)

        return await guarded(run)

    @server.tool(annotations=_PAYS_FEE)
    async def kv_delete(
        stream: Stream,
        keys: Annotated[
            list[Key], Field(description="keys to delete", min_length=1, max_length=MAX_BATCH_ENTRIES)
        ],
    ) -> Annotated[CallToolResult, Batch]:
        """Delete keys in one transaction. COSTS A STORAGE FEE in 0G, paid from the server's account."""

        async def run() -> Batch:
            sid = checked(stream)
            return await write(sid, [(_key_bytes(k), b"") for k in keys])

        return await guarded(run)

    @server.tool(annotations=_READ_ONLY)
    async def kv_list(
        stream: Stream,
        prefix: Annotated[
            str, Field(description="only keys starting with this", max_length=MAX_KEY_BYTES)
        ] = "",
        limit: Annotated[int, Field(description="at most this many keys", ge=1, le=MAX_LIST)] = 20,
    ) -> Annotated[CallToolResult, Listing]:
        """Keys (with values) of a stream starting with `prefix`, in byte order."""

        async def run() -> Listing:
            sid = checked(stream)
            start = prefix.encode("utf-8")
            if len(start) > MAX_KEY_BYTES:
                raise KvLimitError(f"a prefix is at most {MAX_KEY_BYTES} bytes as UTF-8")
            entries: list[ListedEntry] = []
            entry = await (
                deps.client.get_next(sid, start, inclusive=True) if start else deps.client.get_first(sid)
            )
            while entry is not None and entry.key.startswith(start):
                if len(entries) == limit:
                    break
                key_encoding, key_text = _text(entry.key)
                encoding, text = _text(entry.data)
                shown = key_text if key_encoding == "utf-8" else "base64:" + key_text
                entries.append(ListedEntry(key=shown, version=entry.version, encoding=encoding, value=text))
                entry = await deps.client.get_next(sid, entry.key)
            truncated = entry is not None and entry.key.startswith(start)
            return Listing(stream_id="0x" + sid.hex(), entries=entries, truncated=truncated)

        return await guarded(run)

    return server


__all__ = ["KvDeps", "build_kv_server"]
