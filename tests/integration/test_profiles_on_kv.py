"""Encrypted profiles in 0G KV on the devnet's KV node (the cluster adapter): read-your-writes at
once, the node serves the same after replay, and what it serves is ciphertext."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from learning.crypto import EnvelopeCipher, InMemoryKeyStore
from learning.profiles import KvBlobStore, Profile, ProfileStore, profile_key
from tests.integration.test_devnet_process import running_devnet
from zerog_client import ChainReader
from zerog_client.storage.kv_client import KvClient
from zerog_client.storage.kv_streams import stream_id
from zerog_client.storage.kv_writer import KvUploader, KvWriter
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import LocalSigner, TransactionManager
from zerog_client.tx.sqlite_outbox import SqliteOutbox

pytestmark = [pytest.mark.integration, pytest.mark.anyio, pytest.mark.slow]

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def devnet() -> Iterator[dict[str, object]]:
    with running_devnet() as (_, info):
        yield info


@pytest.fixture
async def kv(devnet: dict[str, object], tmp_path: Path) -> AsyncIterator[tuple[KvWriter, KvClient]]:
    contracts = devnet["contracts"]
    assert isinstance(contracts, dict)
    nodes = devnet["storage_nodes"]
    assert isinstance(nodes, list)
    outbox = SqliteOutbox(tmp_path / "outbox.db")
    await outbox.open()
    node = StorageNodeClient(str(nodes[0]))
    client = KvClient(str(devnet["kv"]))
    try:
        async with (
            ChainReader(str(devnet["rpc_url"]), int(str(devnet["chain_id"]))) as reader,
            TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager,
        ):
            uploader = Uploader(manager, str(contracts["flow"]), [node], timeout_s=30)
            yield KvWriter(KvUploader(uploader), client), client
    finally:
        await client.close()
        await node.close()
        await outbox.close()


async def test_profiles_in_0g_kv_read_their_writes_and_stay_encrypted(kv: tuple[KvWriter, KvClient]) -> None:
    writer, client = kv
    store = ProfileStore(KvBlobStore(writer), EnvelopeCipher(bytes(range(32)), InMemoryKeyStore()))
    profile = Profile()
    profile.remember_contact("alice", ALICE)
    await store.save("u1", profile)
    assert (await store.load("u1")).contacts == {"alice": ALICE}  # at once, before the node replays
    # The KV node itself serves the profile once it has replayed the write: ciphertext only.
    deadline = time.monotonic() + 30
    while True:
        served = (await client.get_value(stream_id("zgvoice"), profile_key("u1").encode())).data
        if served:
            break
        assert time.monotonic() < deadline, "the KV node did not serve the profile within 30 s"
        await anyio.sleep(0.2)  # poll interval of a deadline loop
    assert b"alice" not in served
    assert ALICE.encode() not in served
