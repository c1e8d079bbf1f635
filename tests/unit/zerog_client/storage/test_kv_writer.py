"""The KV batcher without a chain: limits refused before anything is sent, the size it tracks is
the encoded size, one flush is one upload of a decodable blob, and read-your-writes."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zerog_client.storage.kv_blob import (
    MAX_KEY_LENGTH,
    AccessControl,
    AclOp,
    KvWrite,
    StreamData,
    decode_stream_data,
    encode_stream_data,
    parse_stream_tags,
)
from zerog_client.storage.kv_client import KvValue, ReplayProgress
from zerog_client.storage.kv_writer import KvLimitError, KvWriter

pytestmark = pytest.mark.unit

STREAM = bytes.fromhex("00" * 30 + "f2bd")
OTHER = bytes.fromhex("00" * 30 + "f009")


class FakeUploader:
    def __init__(self) -> None:
        self.uploads: list[tuple[bytes, bytes]] = []

    async def upload_tagged(self, path: Path, tags: bytes) -> tuple[str, int, str]:
        self.uploads.append((await anyio.Path(path).read_bytes(), tags))
        return "0x" + "ab" * 32, len(self.uploads) - 1, "0x" + "cd" * 32


class FakeNode:
    def __init__(self) -> None:
        self.applied: int | None = None
        self.values: dict[tuple[bytes, bytes], bytes] = {}

    async def replay_progress(self) -> ReplayProgress:
        return ReplayProgress(self.applied or 0, None if self.applied is None else 0)

    async def get_value(self, stream_id: bytes, key: bytes, version: int | None = None) -> KvValue:
        return KvValue(1, self.values.get((stream_id, key), b""))


def make_writer(max_blob_bytes: int = 1 << 20) -> tuple[KvWriter, FakeUploader, FakeNode]:
    uploader, node = FakeUploader(), FakeNode()
    return KvWriter(uploader, node, max_blob_bytes=max_blob_bytes), uploader, node


def test_keys_outside_the_limits_are_refused() -> None:
    writer, _, _ = make_writer()
    with pytest.raises(KvLimitError, match="1 to 16777215 bytes"):
        writer.set(STREAM, b"k" * (MAX_KEY_LENGTH + 1), b"v")
    with pytest.raises(KvLimitError):
        writer.set(STREAM, b"", b"v")
    with pytest.raises(KvLimitError, match="32 bytes"):
        writer.set(b"short", b"k", b"v")
    with pytest.raises(KvLimitError):
        writer.control(AccessControl(AclOp.SET_KEY_TO_SPECIAL, STREAM, key=b""))
    assert writer.pending_bytes == 20


def test_a_batch_past_the_size_cap_is_refused_and_left_intact() -> None:
    writer, _, _ = make_writer(max_blob_bytes=200)
    writer.set(STREAM, b"a", b"x" * 100)
    before = writer.pending_bytes
    with pytest.raises(KvLimitError, match="exceed 200 bytes"):
        writer.set(STREAM, b"b", b"x" * 100)
    assert writer.pending_bytes == before


@settings(max_examples=50, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from([STREAM, OTHER]), st.binary(min_size=1, max_size=8), st.binary(max_size=40)
        ),
        max_size=30,
    ),
    grants=st.lists(st.binary(min_size=20, max_size=20), max_size=3),
)
def test_the_tracked_size_is_the_encoded_size(
    ops: list[tuple[bytes, bytes, bytes]], grants: list[bytes]
) -> None:
    writer, _, _ = make_writer()
    expected: dict[tuple[bytes, bytes], bytes] = {}
    for stream, key, value in ops:
        writer.set(stream, key, value)
        expected[(stream, key)] = value
    controls = [AccessControl(AclOp.GRANT_WRITER_ROLE, STREAM, account=a) for a in grants]
    for control in controls:
        writer.control(control)
    data = StreamData(
        writes=tuple(KvWrite(s, k, v) for (s, k), v in expected.items()), controls=tuple(controls)
    )
    assert writer.pending_bytes == len(encode_stream_data(data))


@pytest.mark.anyio
async def test_one_flush_is_one_tagged_upload_with_the_last_write_of_each_key() -> None:
    writer, uploader, _ = make_writer()
    for i in range(100):
        writer.set(STREAM, f"k{i}".encode(), b"first")
    writer.set(STREAM, b"k7", b"second")
    writer.set(OTHER, b"k", b"other")
    result = await writer.flush()
    assert result is not None
    assert (result.tx_seq, result.writes) == (0, 101)
    ((blob, tags),) = uploader.uploads
    data = decode_stream_data(blob)
    assert len(data.writes) == 101
    assert {w.key: w.value for w in data.writes if w.stream_id == STREAM}[b"k7"] == b"second"
    assert parse_stream_tags(tags) == [STREAM, OTHER]
    assert await writer.flush() is None
    assert len(uploader.uploads) == 1


@pytest.mark.anyio
async def test_read_your_writes_until_the_node_has_replayed_the_write() -> None:
    writer, _, node = make_writer()
    node.values[(STREAM, b"k")] = b"old"
    assert await writer.get(STREAM, b"k") == b"old"
    writer.set(STREAM, b"k", b"queued")
    assert await writer.get(STREAM, b"k") == b"queued"
    result = await writer.flush()
    assert result is not None
    assert await writer.get(STREAM, b"k") == b"queued"  # node has replayed nothing yet
    node.applied = result.tx_seq
    node.values[(STREAM, b"k")] = b"what the node says"
    assert await writer.get(STREAM, b"k") == b"what the node says"


def test_replay_progress_before_anything_is_applied() -> None:
    assert not ReplayProgress(0, None).has_applied(0)
    assert ReplayProgress(0, 0).has_applied(0)
    assert not ReplayProgress(3, 0).has_applied(4)
