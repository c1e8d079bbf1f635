"""The devnet KV node's replay rules and `kv_*` answers over a SQLite store, without a chain."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zerog_client.devnet.kv_node.replay import replay, watched_streams
from zerog_client.devnet.kv_node.rpc import KvRpc
from zerog_client.devnet.kv_node.store import KvStore, Role
from zerog_client.devnet.storage_node.errors import RpcError
from zerog_client.storage.kv_blob import (
    STREAM_DOMAIN,
    AccessControl,
    AclOp,
    KvRead,
    KvWrite,
    StreamData,
    encode_stream_data,
    stream_tags,
)

pytestmark = pytest.mark.unit

STREAM = bytes.fromhex("00" * 30 + "f2bd")
OTHER = bytes.fromhex("00" * 30 + "f009")
WATCHED = [STREAM, OTHER]
ALICE = bytes.fromhex("11" * 20)
BOB = bytes.fromhex("22" * 20)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KvStore]:
    kv = KvStore(tmp_path / "kv.sqlite3")
    kv.open()
    yield kv
    kv.close()


def apply(store: KvStore, seq: int, sender: bytes, data: StreamData) -> str:
    streams = watched_streams(stream_tags(data), WATCHED)
    assert streams is not None
    outcome = replay(store, streams, sender, encode_stream_data(data), WATCHED)
    store.finish(seq, outcome.result, outcome.commit)
    return outcome.result


def writes(*pairs: tuple[bytes, bytes], version: int = (1 << 64) - 1) -> StreamData:
    return StreamData(version=version, writes=tuple(KvWrite(STREAM, k, v) for k, v in pairs))


def test_only_kv_tags_naming_watched_streams_are_replayed() -> None:
    assert watched_streams(STREAM_DOMAIN + STREAM, WATCHED) == [STREAM]
    assert watched_streams(STREAM_DOMAIN, WATCHED) is None
    assert watched_streams(STREAM_DOMAIN + STREAM + bytes(32), WATCHED) is None
    assert watched_streams(b"\x00", WATCHED) is None


def test_the_first_writer_of_a_stream_becomes_its_admin_and_others_are_denied(store: KvStore) -> None:
    assert apply(store, 0, ALICE, writes((b"k", b"v"))) == "Commit"
    assert store.has_role(STREAM, Role.ADMIN, 0, account=ALICE)
    denied = apply(store, 1, BOB, writes((b"k", b"bob")))
    assert denied == f"WritePermissionDenied: stream: 0x{STREAM.hex()}, key: 0x{b'k'.hex()}"
    entry = store.value(STREAM, b"k", 1 << 64)
    assert entry is not None
    assert (entry.version, entry.value) == (0, b"v")


def test_granted_writers_may_write_and_special_keys_need_key_writers(store: KvStore) -> None:
    grant = StreamData(
        writes=(KvWrite(STREAM, b"k", b"v"),),
        controls=(
            AccessControl(AclOp.GRANT_WRITER_ROLE, STREAM, account=BOB),
            AccessControl(AclOp.SET_KEY_TO_SPECIAL, STREAM, key=b"vip"),
        ),
    )
    assert apply(store, 0, ALICE, grant) == "Commit"
    assert apply(store, 1, BOB, writes((b"k", b"bob"))) == "Commit"
    assert apply(store, 2, BOB, writes((b"vip", b"x"))).startswith("WritePermissionDenied")
    key_grant = StreamData(
        controls=(AccessControl(AclOp.GRANT_SPECIAL_WRITER_ROLE, STREAM, key=b"vip", account=BOB),)
    )
    assert apply(store, 3, BOB, key_grant).startswith("AccessControlPermissionDenied")
    assert apply(store, 4, ALICE, key_grant) == "Commit"
    assert apply(store, 5, BOB, writes((b"vip", b"x"))) == "Commit"


def test_a_stale_version_is_a_conflict_and_reads_of_unwatched_streams_mismatch(store: KvStore) -> None:
    assert apply(store, 0, ALICE, writes((b"k", b"v"))) == "Commit"
    assert apply(store, 5, ALICE, writes((b"k", b"v2"))) == "Commit"
    assert apply(store, 6, ALICE, writes((b"k", b"v3"), version=4)) == "VersionConfliction"
    assert apply(store, 7, ALICE, writes((b"k", b"v3"), version=5)) == "Commit"
    unwatched = StreamData(reads=(KvRead(bytes(32), b"k"),), writes=(KvWrite(STREAM, b"k", b"x"),))
    assert apply(store, 8, ALICE, unwatched) == "TagsMismatch"


def test_a_malformed_blob_is_a_parse_error(store: KvStore) -> None:
    outcome = replay(store, [STREAM], ALICE, b"\x00" * 5, WATCHED)
    assert outcome.result.startswith("DataParseError: Invalid stream data")
    assert outcome.commit is None


async def call(rpc: KvRpc, method: str, *params: Any) -> Any:
    return await rpc.methods()[method](list(params))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.anyio
async def test_rpc_answers_in_the_node_shapes_with_base64(store: KvStore) -> None:
    apply(store, 0, ALICE, writes((b"a", b"AAAA"), (b"b", b"BB")))
    apply(store, 1, ALICE, writes((b"a", b"")))
    rpc = KvRpc(store, WATCHED)
    sid = "0x" + STREAM.hex()
    assert await call(rpc, "kv_getValue", sid, b64(b"zz"), 0, 10) == {"version": 0, "data": "", "size": 0}
    assert await call(rpc, "kv_getValue", sid, b64(b"a"), 1, 2, 0) == {
        "version": 0,
        "data": b64(b"AA"),
        "size": 4,
    }
    assert await call(rpc, "kv_getFirst", sid, 0, 10) == {
        "version": 0,
        "key": b64(b"b"),
        "data": b64(b"BB"),
        "size": 2,
    }
    assert (await call(rpc, "kv_getFirst", sid, 0, 10, 0))["key"] == b64(b"a")
    assert await call(rpc, "kv_getPrev", sid, b64(b"b"), 0, 10, False) is None
    assert await call(rpc, "kv_getTransactionResult", 1) == "Commit"
    assert await call(rpc, "kv_getTransactionResult", 9) is None
    assert await call(rpc, "kv_getReplayProgress") == {"appliedSeq": 1, "firstTxSeq": 0}
    assert await call(rpc, "kv_getHoldingStreamIds") == [sid, "0x" + OTHER.hex()]
    alice = "0x" + ALICE.hex()
    assert await call(rpc, "kv_isAdmin", alice, sid) is True
    assert await call(rpc, "kv_isAdmin", "0x" + BOB.hex(), sid) is False
    assert await call(rpc, "kv_hasWritePermission", "0x" + BOB.hex(), sid, b64(b"a")) is False
    assert await call(rpc, "kv_hasWritePermission", "0x" + BOB.hex(), "0x" + OTHER.hex(), b64(b"a"))
    with pytest.raises(RpcError, match="query length too large"):
        await call(rpc, "kv_getValue", sid, b64(b"b"), 0, 262_145)
    with pytest.raises(RpcError, match="start index"):
        await call(rpc, "kv_getValue", sid, b64(b"b"), 3, 1)
    with pytest.raises(RpcError, match="base64"):
        await call(rpc, "kv_getValue", sid, "not base64!", 0, 1)
