"""The storage and KV servers through the MCP SDK's in-memory client, against a devnet of their own:
anvil with the Flow contract, a storage node, a KV node, and a transaction manager paying real fees."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_servers.kv import KvDeps, build_kv_server
from mcp_servers.storage import StorageDeps, build_storage_server
from zerog_client import ChainReader
from zerog_client.devnet import AnvilConfig, AnvilNode, find_anvil
from zerog_client.devnet.contracts import deploy_devnet_contracts
from zerog_client.devnet.kv_node import KvNode, KvNodeConfig
from zerog_client.devnet.storage_node import StorageNode, StorageNodeConfig
from zerog_client.storage.downloader import Downloader
from zerog_client.storage.kv_client import KvClient
from zerog_client.storage.kv_streams import stream_id
from zerog_client.storage.kv_writer import KvUploader
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import LocalSigner, TransactionManager
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN_ID = 1_660_999
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # dev account 0
NPM_TOOLS = Path(__file__).resolve().parents[3] / "tools" / "npm"
STREAM = "zgv-mcp-test"
FORBIDDEN_STREAM = "zgv-mcp-other"  # served by the KV node, but not by our server
MAX_FILE = 300_000
UNKNOWN_ROOT = "0x" + "ab" * 32


@dataclass
class Servers:
    storage: Client
    kv: Client
    allowed: Path
    outside: Path


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    with AnvilNode(AnvilConfig(binary=find_anvil(None, (NPM_TOOLS,)), chain_id=CHAIN_ID)) as running:
        yield running


@pytest.fixture(scope="module")
async def servers(node: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Servers]:
    base = tmp_path_factory.mktemp("mcp-storage")
    allowed = base / "allowed"
    outside = base / "outside"
    allowed.mkdir()
    outside.mkdir()
    async with ChainReader(node.rpc_url, CHAIN_ID) as reader:
        accounts = await reader.node_accounts()
        contracts = await deploy_devnet_contracts(node.rpc_url, accounts[-1])
        storage = StorageNode(
            StorageNodeConfig(
                data_dir=base / "storage",
                rpc_url=node.rpc_url,
                chain_id=CHAIN_ID,
                flow_address=contracts.flow,
                poll_interval_s=0.05,
            )
        )
        await storage.start()
        kv = KvNode(
            KvNodeConfig(
                data_dir=base / "kv",
                rpc_url=node.rpc_url,
                chain_id=CHAIN_ID,
                flow_address=contracts.flow,
                storage_nodes=[storage.url],
                stream_ids=["0x" + stream_id(STREAM).hex(), "0x" + stream_id(FORBIDDEN_STREAM).hex()],
                poll_interval_s=0.05,
            )
        )
        await kv.start()
        node_client = StorageNodeClient(storage.url)
        kv_client = KvClient(kv.url)
        outbox = SqliteOutbox(base / "outbox.db")
        await outbox.open()
        try:
            async with TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager:
                uploader = Uploader(manager, contracts.flow, [node_client], timeout_s=30)
                storage_server = build_storage_server(
                    StorageDeps(
                        uploader=uploader,
                        downloader=Downloader([node_client]),
                        allowed_dir=allowed,
                        ledger_path=base / "ledger.json",
                        max_file_bytes=MAX_FILE,
                    )
                )
                kv_server = build_kv_server(
                    KvDeps(uploader=KvUploader(uploader), client=kv_client, streams=frozenset({STREAM}))
                )
                async with Client(storage_server) as storage_mcp, Client(kv_server) as kv_mcp:
                    yield Servers(storage_mcp, kv_mcp, allowed, outside)
        finally:
            await outbox.close()
            await kv_client.close()
            await node_client.close()
            await kv.stop()
            await storage.stop()


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


async def error_code(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.content
    assert result.structured_content is not None, result.content
    return str(result.structured_content["error"]["code"])


async def test_upload_content_then_download_content(servers: Servers) -> None:
    text = "hello 0G, from the MCP storage server ✓"
    stored = await ok(servers.storage, "upload_content", content=text, name="greeting")
    assert stored["size"] == len(text.encode())
    assert stored["tx_hash"] is not None
    fetched = await ok(servers.storage, "download_content", root=stored["root"])
    assert fetched == {"root": stored["root"], "size": stored["size"], "encoding": "utf-8", "content": text}
    mine = await ok(servers.storage, "my_files")
    assert any(f["root"] == stored["root"] and f["name"] == "greeting" for f in mine["files"])


async def test_upload_file_then_info_then_download_file(servers: Servers) -> None:
    data = os.urandom(270_000)  # two segments, binary
    (servers.allowed / "sub").mkdir()
    (servers.allowed / "sub" / "in.bin").write_bytes(data)
    stored = await ok(servers.storage, "upload_file", path="sub/in.bin")
    assert stored["name"] == "sub/in.bin"
    info = await ok(servers.storage, "file_info", root=stored["root"])
    assert info["size"] == len(data)
    assert info["finalized"]
    assert info["tx_seq"] == stored["tx_seq"]
    got = await ok(
        servers.storage, "download_file", root=stored["root"].upper().replace("0X", "0x"), path="out.bin"
    )
    assert got["path"] == "out.bin"
    assert got["rejected_segments"] == 0
    assert (servers.allowed / "out.bin").read_bytes() == data
    # Too big to return inline, and never overwrites an existing file.
    assert await error_code(servers.storage, "download_content", root=stored["root"]) == "too_large"
    assert await error_code(servers.storage, "download_file", root=stored["root"], path="out.bin") == (
        "local_file_error"
    )
    roots = [f["root"] for f in (await ok(servers.storage, "my_files"))["files"]]
    assert stored["root"] in roots


async def test_storage_paths_outside_the_directory_are_refused(servers: Servers) -> None:
    secret = servers.outside / "secret.txt"
    secret.write_text("not for upload")
    (servers.allowed / "link.txt").symlink_to(secret)
    (servers.allowed / "linkdir").symlink_to(servers.outside, target_is_directory=True)
    for path in [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        str(secret),
        "link.txt",
        "linkdir/secret.txt",
        "/etc/passwd",
        ".",
    ]:
        assert await error_code(servers.storage, "upload_file", path=path) == "path_not_allowed", path
        assert await error_code(servers.storage, "download_file", root=UNKNOWN_ROOT, path=path) == (
            "path_not_allowed"
        ), path
    assert not (servers.outside / "escaped.bin").exists()


async def test_storage_bad_input_is_a_tool_error_with_a_code(servers: Servers) -> None:
    s = servers.storage
    (servers.allowed / "big.bin").write_bytes(b"x" * (MAX_FILE + 1))
    (servers.allowed / "empty.bin").write_bytes(b"")
    (servers.allowed / "adir").mkdir()
    assert await error_code(s, "upload_file", path="big.bin") == "too_large"
    assert await error_code(s, "upload_file", path="empty.bin") == "empty_file"
    assert await error_code(s, "upload_file", path="missing.bin") == "local_file_error"
    assert await error_code(s, "upload_file", path="adir") == "local_file_error"
    # 40,000 characters but 80,000 bytes as UTF-8: over the inline cap.
    assert await error_code(s, "upload_content", content="é" * 40_000, name="big") == "too_large"
    assert await error_code(s, "upload_content", content="hi", name="a/b") == "invalid_name"
    for tool in ("download_content", "file_info"):
        assert await error_code(s, tool, root="0x1234") == "invalid_root"
        assert await error_code(s, tool, root="0x" + "zz" * 32) == "invalid_root"
        assert await error_code(s, tool, root=UNKNOWN_ROOT) == "file_not_found"
    assert await error_code(s, "download_file", root="nope", path="x.bin") == "invalid_root"
    assert await error_code(s, "download_file", root=UNKNOWN_ROOT, path="x.bin") == "file_not_found"
    assert await error_code(s, "download_file", root=UNKNOWN_ROOT, path="nodir/x.bin") == "local_file_error"


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("upload_file", {}),
        ("upload_file", {"path": 5}),
        ("upload_file", {"path": ""}),
        ("upload_content", {"content": "x"}),
        ("upload_content", {"content": "", "name": "x"}),
        ("upload_content", {"content": "x" * 70_000, "name": "x"}),
        ("upload_content", {"content": ["x"], "name": "x"}),
        ("download_file", {"root": UNKNOWN_ROOT}),
        ("download_file", {"root": 7, "path": "x"}),
        ("download_content", {}),
        ("file_info", {"root": None}),
    ],
)
async def test_storage_schema_violations_are_refused(
    servers: Servers, tool: str, arguments: dict[str, Any]
) -> None:
    result = await servers.storage.call_tool(tool, arguments)
    assert result.is_error


async def wait_for(kv: Client, tool: str, check: Any, **arguments: Any) -> dict[str, Any]:
    """Call `tool` until `check(result)` holds; the KV node replays the chain by polling."""
    deadline = time.monotonic() + 30
    while True:
        result = await ok(kv, tool, **arguments)
        if check(result):
            return result
        assert time.monotonic() < deadline, f"the KV node never showed the write: {result}"


async def test_kv_set_get_list_delete(servers: Servers) -> None:
    kv = servers.kv
    batch = await ok(
        kv,
        "kv_set",
        stream=STREAM,
        entries=[
            {"key": "user/1", "value": "alice"},
            {"key": "user/2", "value": "bob"},
            {"key": "zz", "value": "last"},
        ],
    )
    assert batch["writes"] == 3
    assert batch["stream_id"] == "0x" + stream_id(STREAM).hex()
    got = await wait_for(kv, "kv_get", lambda r: r["found"], stream=STREAM, key="user/2")
    assert got["value"] == "bob"
    assert got["encoding"] == "utf-8"
    listing = await ok(kv, "kv_list", stream=STREAM, prefix="user/", limit=10)
    assert [(e["key"], e["value"]) for e in listing["entries"]] == [("user/1", "alice"), ("user/2", "bob")]
    assert not listing["truncated"]
    first = await ok(kv, "kv_list", stream=STREAM, prefix="user/", limit=1)
    assert [e["key"] for e in first["entries"]] == ["user/1"]
    assert first["truncated"]
    everything = await ok(kv, "kv_list", stream=STREAM)
    assert [e["key"] for e in everything["entries"]] == ["user/1", "user/2", "zz"]
    missing = await ok(kv, "kv_get", stream=STREAM, key="never")
    assert not missing["found"]
    await ok(kv, "kv_delete", stream=STREAM, keys=["user/1"])
    await wait_for(kv, "kv_get", lambda r: not r["found"], stream=STREAM, key="user/1")
    listing = await ok(kv, "kv_list", stream=STREAM, prefix="user/")
    assert [e["key"] for e in listing["entries"]] == ["user/2"]


async def test_kv_bad_input_is_a_tool_error_with_a_code(servers: Servers) -> None:
    kv = servers.kv
    for stream in (FORBIDDEN_STREAM, "0x" + "00" * 32):
        assert await error_code(kv, "kv_get", stream=stream, key="k") == "stream_not_allowed"
        assert await error_code(kv, "kv_set", stream=stream, entries=[{"key": "k", "value": "v"}]) == (
            "stream_not_allowed"
        )
        assert await error_code(kv, "kv_list", stream=stream) == "stream_not_allowed"
        assert await error_code(kv, "kv_delete", stream=stream, keys=["k"]) == "stream_not_allowed"
    big_key = "é" * 600  # 600 characters, 1200 bytes
    assert await error_code(kv, "kv_get", stream=STREAM, key=big_key) == "kv_limit_exceeded"
    assert await error_code(kv, "kv_set", stream=STREAM, entries=[{"key": big_key, "value": "v"}]) == (
        "kv_limit_exceeded"
    )
    assert await error_code(kv, "kv_delete", stream=STREAM, keys=[big_key]) == "kv_limit_exceeded"
    assert await error_code(kv, "kv_list", stream=STREAM, prefix=big_key) == "kv_limit_exceeded"
    huge_value = "é" * 40_000  # 80,000 bytes
    assert await error_code(kv, "kv_set", stream=STREAM, entries=[{"key": "k", "value": huge_value}]) == (
        "kv_limit_exceeded"
    )


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("kv_get", {"stream": STREAM}),
        ("kv_get", {"stream": STREAM, "key": ""}),
        ("kv_get", {"stream": STREAM, "key": "k" * 1025}),
        ("kv_get", {"stream": 1, "key": "k"}),
        ("kv_set", {"stream": STREAM, "entries": []}),
        ("kv_set", {"stream": STREAM, "entries": [{"key": "k"}]}),
        ("kv_set", {"stream": STREAM, "entries": [{"key": "", "value": "v"}]}),
        ("kv_set", {"stream": STREAM, "entries": "k=v"}),
        ("kv_list", {"stream": STREAM, "limit": 0}),
        ("kv_list", {"stream": STREAM, "limit": 101}),
        ("kv_delete", {"stream": STREAM, "keys": []}),
        ("kv_delete", {"stream": STREAM, "keys": "k"}),
        ("kv_delete", {"stream": "", "keys": ["k"]}),
    ],
)
async def test_kv_schema_violations_are_refused(
    servers: Servers, tool: str, arguments: dict[str, Any]
) -> None:
    result = await servers.kv.call_tool(tool, arguments)
    assert result.is_error
