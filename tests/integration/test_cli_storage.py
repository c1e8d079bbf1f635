"""`zgv storage` as a user runs it against `zgv devnet` (chain, contracts, a storage node, indexer)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_devnet_process import running_devnet
from tests.support.cli import run_zgv, zgv_env
from tests.support.processes import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def devnet_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_devnet() as (_, info):
        nodes = info["storage_nodes"]
        assert isinstance(nodes, list)
        yield zgv_env(
            ZGV_CHAIN__RPC_URL=str(info["rpc_url"]),
            ZGV_STORAGE__NODE_URLS=json.dumps(nodes),
            ZGV_STORAGE__OUTBOX_PATH=str(tmp_path_factory.mktemp("zgv") / "outbox.db"),
            ZGV_STORAGE__MAX_FILE_BYTES=str(2 * 1024 * 1024),
            ZGV_STORAGE__KV_URL=str(info["kv"]),
            ZGV_STORAGE__KV_MAX_BLOB_BYTES="4096",
        )


def zgv_json(env: dict[str, str], *args: str) -> dict[str, object]:
    done = run_zgv(*args, "--json", env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return dict(json.loads(done.stdout))


def test_root_upload_info_download_round_trip(devnet_env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_bytes(os.urandom(300_000))
    local = zgv_json(devnet_env, "storage", "root", str(source))
    uploaded = zgv_json(devnet_env, "storage", "upload", str(source))
    assert uploaded["root"] == local["root"]
    assert uploaded["already_stored"] is False
    again = zgv_json(devnet_env, "storage", "upload", str(source))
    assert again["already_stored"] is True
    info = zgv_json(devnet_env, "storage", "info", str(local["root"]))
    assert info["finalized"] is True
    assert info["size"] == 300_000
    out = tmp_path / "back.txt"
    zgv_json(devnet_env, "storage", "download", str(local["root"]), str(out))
    assert out.read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (("upload", "EMPTY"), "empty_file", 2),
        (("upload", "BIG"), "upload_failed", 1),
        (("upload", "MISSING"), "cannot read", 1),
        (("download", "0x1234", "OUT"), "invalid_root", 2),
        (("info", "0x" + "ab" * 32), "download_failed", 1),
    ],
)
def test_bad_input_is_a_clear_error_and_costs_nothing(
    devnet_env: dict[str, str], tmp_path: Path, args: tuple[str, ...], code: str, exit_code: int
) -> None:
    (tmp_path / "EMPTY").write_bytes(b"")
    (tmp_path / "BIG").write_bytes(b"x" * (2 * 1024 * 1024 + 1))
    resolved = [str(tmp_path / a) if a.isupper() else a for a in args]
    done = run_zgv("storage", *resolved, env=devnet_env, timeout=60)
    assert done.returncode == exit_code, done.stderr.decode()
    assert code in done.stderr.decode()
    assert b"Traceback" not in done.stderr


def test_kv_set_get_list_through_the_devnet_kv_node(devnet_env: dict[str, str]) -> None:
    wrote = zgv_json(
        devnet_env, "kv", "set", "demo", "alice=0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "bob=hi"
    )
    assert wrote["keys"] == 2
    # Read-your-writes is a property of one writer process; a new process reads the node, which replays
    # the transaction within moments: poll for it.
    wait_until(
        lambda: zgv_json(devnet_env, "kv", "get", "demo", "bob")["value"] == "hi", 30, "the KV node to replay"
    )
    assert zgv_json(devnet_env, "kv", "get", "demo", "alice")["value"].startswith("0x7099")  # type: ignore[union-attr]
    listed = json.loads(run_zgv("kv", "list", "demo", "--json", env=devnet_env).stdout)
    assert [row["key"] for row in listed] == ["alice", "bob"]
    assert zgv_json(devnet_env, "kv", "get", "demo", "carol")["value"] == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("kv", "set", "demo", "novalue"), "KEY=VALUE"),
        (("kv", "set", "demo", "big=" + "v" * 5000), "kv_limit_exceeded"),
        (("kv", "set", "demo", "=v"), "KEY=VALUE"),
        (("kv", "list", "demo", "--limit", "0"), "--limit"),
    ],
)
def test_kv_bad_input_is_refused_before_anything_is_paid(
    devnet_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    done = run_zgv(*args, env=devnet_env, timeout=60)
    assert done.returncode == 2, done.stderr.decode()
    assert message in done.stderr.decode()
    assert b"Traceback" not in done.stderr


def test_storage_kv_and_knowledge_servers_run_over_stdio(devnet_env: dict[str, str]) -> None:
    async def scenario() -> None:
        from mcp import Client, StdioServerParameters

        from tests.support.cli import ZGV

        def server(name: str) -> StdioServerParameters:
            return StdioServerParameters(command=str(ZGV), args=["mcp", name], env=devnet_env)

        async with Client(server("storage")) as storage:
            stored = await storage.call_tool("upload_content", {"content": "buy milk", "name": "note.txt"})
            assert not stored.is_error, stored.content
            assert stored.structured_content is not None
            back = await storage.call_tool("download_content", {"root": stored.structured_content["root"]})
            assert back.structured_content is not None
            assert "buy milk" in json.dumps(back.structured_content)
        async with Client(server("kv")) as kv:
            names = {t.name for t in (await kv.list_tools()).tools}
            assert {"kv_get", "kv_set", "kv_list", "kv_delete"} <= names
        async with Client(server("knowledge")) as knowledge:
            found = await knowledge.call_tool("search_docs", {"query": "how do I run the tests", "limit": 3})
            assert not found.is_error
            assert "scripts/test.sh" in json.dumps(found.structured_content)

    import anyio

    anyio.run(scenario)
