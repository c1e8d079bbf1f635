"""The storage server: 0G file storage tools confined to one local directory.

Uploads pay the storage fee through the transaction manager behind the `Uploader`. Storage fees are
bounded by the configured maximum file size and the market's price per sector: no single call can
spend more than `max_file_bytes` worth of sectors. Local paths are accepted only under the configured
directory; `..` components and symlinks anywhere along the path are refused.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_servers.results import guarded
from zerog_client.errors import ZeroGError
from zerog_client.storage.downloader import Downloader, DownloadError, check_root
from zerog_client.storage.node_client import FileInfo
from zerog_client.storage.uploader import Uploader

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_INLINE_BYTES = 64 * 1024
_LOCAL_CALLER = "local"

_PAYS_FEE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)
_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
_WRITES_LOCAL = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

Root = Annotated[
    str, Field(description="file root: 0x followed by 64 hexadecimal characters", min_length=1, max_length=80)
]
LocalPath = Annotated[
    str,
    Field(
        description="path relative to the server's storage directory (absolute paths must lie inside it)",
        min_length=1,
        max_length=1024,
    ),
]
_NAME = re.compile(r"^[^\x00-\x1f/\\]{1,128}$")


class PathNotAllowedError(ZeroGError, ValueError):
    """A local path outside the allowed directory, with `..`, or through a symlink."""

    code = "path_not_allowed"


class LocalFileError(ZeroGError):
    """A local file that is missing, not a regular file, or already exists where a download would go."""

    code = "local_file_error"


class TooLargeError(ZeroGError, ValueError):
    """A file or inline content over the configured cap."""

    code = "too_large"


class InvalidNameError(ZeroGError, ValueError):
    """A display name with control characters or slashes, or over 128 characters."""

    code = "invalid_name"


class FileNotFoundOnNodesError(ZeroGError):
    """No storage node has a finalized file with this root."""

    code = "file_not_found"


@dataclass(frozen=True, slots=True)
class StorageDeps:
    """What the storage server needs; the caller opens and closes the clients.

    Attributes:
        uploader: pays the fee and uploads.
        downloader: fetches and verifies.
        allowed_dir: the only local directory tools may read from or write to.
        ledger_path: the JSON file remembering which roots this server uploaded for whom.
        max_file_bytes: the largest file `upload_file` accepts (this bounds the fee per call).
        max_inline_bytes: the largest `upload_content` / `download_content` payload.
    """

    uploader: Uploader
    downloader: Downloader
    allowed_dir: Path
    ledger_path: Path
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_inline_bytes: int = DEFAULT_MAX_INLINE_BYTES


class Uploaded(BaseModel):
    """A stored file."""

    root: str
    size: int
    tx_seq: int
    tx_hash: str | None = Field(description="the paying transaction; null when the file was already stored")
    already_stored: bool
    name: str


class Downloaded(BaseModel):
    """A file fetched, verified against its root, and written under the storage directory."""

    root: str
    size: int
    path: str = Field(description="where it was written, relative to the storage directory")
    rejected_segments: int


class Content(BaseModel):
    """A small file's content, verified against its root."""

    root: str
    size: int
    encoding: str = Field(description="utf-8 when the bytes are text, else base64")
    content: str


class FileInfoOut(BaseModel):
    """What the storage nodes know of a file."""

    root: str
    size: int
    tx_seq: int
    finalized: bool
    uploaded_segments: int
    pruned: bool


class MyFile(BaseModel):
    """A file this server uploaded for the caller."""

    root: str
    name: str
    size: int
    tx_seq: int
    uploaded_at: int = Field(description="unix seconds")


class MyFiles(BaseModel):
    """The caller's uploads through this server, oldest first."""

    files: list[MyFile]


class Ledger:
    """A small JSON file: caller -> the files uploaded for them. Writes are atomic (rename)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = asyncio.Lock()

    def _load(self) -> dict[str, list[dict[str, object]]]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): list(v) for k, v in dict(raw).items()}

    def _store(self, data: dict[str, list[dict[str, object]]]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".ledger-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(tmp, self._path)

    async def add(self, caller: str, entry: MyFile) -> None:
        async with self._lock:
            data = await asyncio.to_thread(self._load)
            mine = data.setdefault(caller, [])
            if not any(e.get("root") == entry.root for e in mine):
                mine.append(entry.model_dump(mode="json"))
                await asyncio.to_thread(self._store, data)

    async def files(self, caller: str) -> list[MyFile]:
        async with self._lock:
            data = await asyncio.to_thread(self._load)
        return [MyFile.model_validate(e) for e in data.get(caller, [])]


def _caller() -> str:
    token = get_access_token()
    if token is None:
        return _LOCAL_CALLER  # stdio and in-memory: the local user
    return token.subject or token.client_id


def resolve_local(allowed: Path, raw: str) -> Path:
    """The path `raw` names under `allowed` (already resolved), refusing `..`, symlinks and escapes.

    Raises:
        PathNotAllowedError: as described.
    """
    if "\x00" in raw:
        raise PathNotAllowedError("the path contains a NUL character")
    given = Path(raw)
    if given.is_absolute():
        try:
            relative = given.relative_to(allowed)
        except ValueError:
            raise PathNotAllowedError("the path is outside the storage directory") from None
    else:
        relative = given
    parts = PurePosixPath(relative.as_posix()).parts
    if any(part == ".." for part in parts):
        raise PathNotAllowedError("'..' is not allowed in paths")
    parts = tuple(p for p in parts if p not in ("", "."))
    if not parts:
        raise PathNotAllowedError("the path names the storage directory itself")
    current = allowed
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise PathNotAllowedError("symlinks are not followed")
    if not current.resolve().is_relative_to(allowed):
        raise PathNotAllowedError("the path is outside the storage directory")
    return current


def _copy_regular(source: Path, target: Path, limit: int) -> int:
    """Copy a regular file opened without following symlinks; returns its size."""
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise LocalFileError("no such file in the storage directory") from None
    except OSError as exc:
        raise LocalFileError(f"cannot open the file: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise LocalFileError("not a regular file")
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > limit:
            raise TooLargeError(f"the file is {info.st_size} bytes; the limit is {limit}")
        with target.open("wb") as out:
            shutil.copyfileobj(handle, out)
            if out.tell() > limit:
                raise TooLargeError(f"the file grew past the {limit}-byte limit")
            return out.tell()


def build_storage_server(deps: StorageDeps) -> MCPServer:
    """Create the storage MCP server.

    Args:
        deps: the uploader, downloader, allowed directory, ledger file and caps.
    """
    allowed = deps.allowed_dir.resolve(strict=True)
    ledger = Ledger(deps.ledger_path)
    server = MCPServer(
        "zgv-storage",
        title="0G storage",
        instructions=(
            "Store and fetch files on 0G storage. Uploads pay a storage fee in 0G; downloads are verified "
            "against the file root. Local files must be inside the server's storage directory."
        ),
        version="0.1.0",
    )

    async def store(path: Path, name: str) -> Uploaded:
        result = await deps.uploader.upload(path)
        await ledger.add(
            _caller(),
            MyFile(
                root=result.root,
                name=name,
                size=result.size,
                tx_seq=result.tx_seq,
                uploaded_at=int(time.time()),
            ),
        )
        return Uploaded(
            root=result.root,
            size=result.size,
            tx_seq=result.tx_seq,
            tx_hash=result.tx_hash,
            already_stored=result.already_stored,
            name=name,
        )

    async def known(root: str) -> FileInfo:
        checked = check_root(root)
        try:
            return await deps.downloader.info(checked)
        except DownloadError:
            raise FileNotFoundOnNodesError(
                f"no storage node has a finalized file with root {checked}"
            ) from None

    @server.tool(annotations=_PAYS_FEE)
    async def upload_file(path: LocalPath) -> Annotated[CallToolResult, Uploaded]:
        """Store a local file (inside the storage directory) on 0G. COSTS A STORAGE FEE in 0G, paid from
        the server's account, unless the network already holds the same file."""

        async def run() -> Uploaded:
            source = resolve_local(allowed, path)
            with tempfile.TemporaryDirectory() as scratch:
                staged = Path(scratch) / "upload.bin"
                await asyncio.to_thread(_copy_regular, source, staged, deps.max_file_bytes)
                return await store(staged, source.relative_to(allowed).as_posix())

        return await guarded(run)

    @server.tool(annotations=_PAYS_FEE)
    async def upload_content(
        content: Annotated[
            str, Field(description="UTF-8 text to store", min_length=1, max_length=DEFAULT_MAX_INLINE_BYTES)
        ],
        name: Annotated[str, Field(description="a label for my_files", min_length=1, max_length=128)],
    ) -> Annotated[CallToolResult, Uploaded]:
        """Store a small piece of text (at most 64 KiB as UTF-8) on 0G. COSTS A STORAGE FEE in 0G, paid
        from the server's account, unless the network already holds the same bytes."""

        async def run() -> Uploaded:
            if not _NAME.fullmatch(name):
                raise InvalidNameError("a name is 1 to 128 characters without slashes or control characters")
            data = content.encode("utf-8")
            if len(data) > deps.max_inline_bytes:
                raise TooLargeError(f"the content is {len(data)} bytes; the limit is {deps.max_inline_bytes}")
            with tempfile.TemporaryDirectory() as scratch:
                staged = Path(scratch) / "content.bin"
                await asyncio.to_thread(staged.write_bytes, data)
                return await store(staged, name)

        return await guarded(run)

    @server.tool(annotations=_WRITES_LOCAL)
    async def download_file(root: Root, path: LocalPath) -> Annotated[CallToolResult, Downloaded]:
        """Fetch a file by root, verify every segment, and write it to a new file inside the storage
        directory (an existing file is never overwritten)."""

        async def run() -> Downloaded:
            target = resolve_local(allowed, path)
            if not target.parent.is_dir():
                raise LocalFileError("the target's directory does not exist")
            if target.exists():
                raise LocalFileError("a file already exists at the target path")
            info = await known(root)
            if info.size > deps.max_file_bytes:
                raise TooLargeError(f"the file is {info.size} bytes; the limit is {deps.max_file_bytes}")
            result = await deps.downloader.download(info.root, target)
            return Downloaded(
                root=result.root,
                size=result.size,
                path=target.relative_to(allowed).as_posix(),
                rejected_segments=result.rejected_segments,
            )

        return await guarded(run)

    @server.tool(annotations=_READ_ONLY)
    async def download_content(root: Root) -> Annotated[CallToolResult, Content]:
        """Fetch a small file (at most 64 KiB) by root, verified, and return its content inline."""

        async def run() -> Content:
            info = await known(root)
            if info.size > deps.max_inline_bytes:
                raise TooLargeError(
                    f"the file is {info.size} bytes; inline content is at most {deps.max_inline_bytes}"
                )
            with tempfile.TemporaryDirectory() as scratch:
                out = Path(scratch) / "content.bin"
                await deps.downloader.download(info.root, out)
                data = await asyncio.to_thread(out.read_bytes)
            try:
                return Content(root=info.root, size=len(data), encoding="utf-8", content=data.decode("utf-8"))
            except UnicodeDecodeError:
                encoded = base64.b64encode(data).decode()
                return Content(root=info.root, size=len(data), encoding="base64", content=encoded)

        return await guarded(run)

    @server.tool(annotations=_READ_ONLY)
    async def file_info(root: Root) -> Annotated[CallToolResult, FileInfoOut]:
        """What the storage nodes know of a finalized file: size, flow transaction, segments."""

        async def run() -> FileInfoOut:
            info = await known(root)
            return FileInfoOut(
                root=info.root,
                size=info.size,
                tx_seq=info.tx_seq,
                finalized=info.finalized,
                uploaded_segments=info.uploaded_segments,
                pruned=info.pruned,
            )

        return await guarded(run)

    @server.tool(
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        )
    )
    async def my_files() -> Annotated[CallToolResult, MyFiles]:
        """The files this server uploaded for you, oldest first."""

        async def run() -> MyFiles:
            return MyFiles(files=await ledger.files(_caller()))

        return await guarded(run)

    return server


__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_INLINE_BYTES",
    "StorageDeps",
    "build_storage_server",
    "resolve_local",
]
