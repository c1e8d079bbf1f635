"""The KV path end to end on a fresh devnet: our writer batches into one blob and one flow
transaction, our devnet KV node replays it from the chain and a storage node, and our client reads
it back over `kv_*` with base64 keys."""

from __future__ import annotations

import pytest

from tests.integration.zerog_client.kv.conftest import OTHER_STREAM, OWNER, STRANGER, STREAM, KvStack
from tests.support.processes import poll_until
from zerog_client import ChainReader
from zerog_client.devnet.kv_node import KvNode
from zerog_client.storage.kv_blob import MAX_KEY_LENGTH
from zerog_client.storage.kv_client import KvClient, KvEntry
from zerog_client.storage.kv_writer import KvLimitError

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TIMEOUT = 30.0


async def applied(client: KvClient, tx_seq: int) -> None:
    async def done() -> bool:
        return (await client.replay_progress()).has_applied(tx_seq)

    await poll_until(done, TIMEOUT, f"the KV node to replay tx {tx_seq}")


async def test_many_keys_in_one_batch_are_one_transaction_and_read_back(
    kv_stack: KvStack, reader: ChainReader
) -> None:
    nonce = await reader.transaction_count(OWNER, "latest")
    for i in range(200):
        kv_stack.owner.set(STREAM, f"key-{i:03d}".encode(), f"value-{i}".encode() * (i % 7 + 1))
    kv_stack.owner.set(OTHER_STREAM, b"elsewhere", b"x" * 300_000)  # a value over one query
    result = await kv_stack.owner.flush()
    assert result is not None
    assert result.writes == 201
    assert await reader.transaction_count(OWNER, "latest") == nonce + 1
    await applied(kv_stack.client, result.tx_seq)
    assert await kv_stack.client.transaction_result(result.tx_seq) == "Commit"
    for i in (0, 57, 199):
        value = await kv_stack.client.get_value(STREAM, f"key-{i:03d}".encode())
        assert value.data == f"value-{i}".encode() * (i % 7 + 1)
        assert value.version == result.tx_seq
    assert (await kv_stack.client.get_value(OTHER_STREAM, b"elsewhere")).data == b"x" * 300_000
    missing = await kv_stack.client.get_value(STREAM, b"never-written")
    assert (missing.version, missing.data) == (0, b"")
    assert await kv_stack.client.is_admin(OWNER, STREAM)
    assert await kv_stack.client.holding_stream_ids() == [STREAM, OTHER_STREAM]
    assert await kv_stack.owner.flush() is None  # nothing queued, nothing paid


async def test_read_your_writes_before_the_node_has_caught_up(kv_stack: KvStack) -> None:
    writer = kv_stack.owner
    writer.set(STREAM, b"greeting", b"hello")
    assert await writer.get(STREAM, b"greeting") == b"hello"  # queued, not even sent
    first = await writer.flush()
    assert first is not None
    assert await writer.get(STREAM, b"greeting") == b"hello"  # sent; node may lag
    writer.set(STREAM, b"greeting", b"hello again")
    second = await writer.flush()
    assert second is not None
    assert await writer.get(STREAM, b"greeting") == b"hello again"
    await applied(kv_stack.client, second.tx_seq)
    assert await writer.get(STREAM, b"greeting") == b"hello again"  # now from the node
    stored = await kv_stack.client.get_value(STREAM, b"greeting")
    assert stored.data == b"hello again"
    old = await kv_stack.client.get_value(STREAM, b"greeting", version=first.tx_seq)
    assert old.data == b"hello"  # snapshot read at the first write's version


async def test_iteration_first_last_next_prev_skips_deleted_keys(kv_stack: KvStack) -> None:
    writer = kv_stack.owner
    for key in (b"b", b"d", b"a", b"c", b"e"):
        writer.set(STREAM, key, key.upper())
    first = await writer.flush()
    assert first is not None
    writer.delete(STREAM, b"c")
    second = await writer.flush()
    assert second is not None
    await applied(kv_stack.client, second.tx_seq)
    client = kv_stack.client
    head = await client.get_first(STREAM)
    tail = await client.get_last(STREAM)
    assert head is not None
    assert (head.key, head.data) == (b"a", b"A")
    assert tail is not None
    assert tail.key == b"e"
    forward = []
    entry: KvEntry | None = head
    while entry is not None:
        forward.append(entry.key)
        entry = await client.get_next(STREAM, entry.key)
    assert forward == [b"a", b"b", b"d", b"e"]
    backward = []
    entry = tail
    while entry is not None:
        backward.append(entry.key)
        entry = await client.get_prev(STREAM, entry.key)
    assert backward == [b"e", b"d", b"b", b"a"]
    at_b = await client.get_next(STREAM, b"b", inclusive=True)
    assert at_b is not None
    assert at_b.key == b"b"
    before_delete = await client.get_next(STREAM, b"b", version=first.tx_seq)
    assert before_delete is not None
    assert before_delete.key == b"c"  # the deleted key still exists in the older snapshot
    assert await client.get_next(STREAM, b"e") is None
    assert await client.get_first(OTHER_STREAM) is None


async def test_a_writer_without_permission_is_refused_by_the_node(kv_stack: KvStack) -> None:
    kv_stack.owner.set(STREAM, b"owned", b"by the owner")
    owned = await kv_stack.owner.flush()
    assert owned is not None
    await applied(kv_stack.client, owned.tx_seq)
    assert not await kv_stack.client.has_write_permission(STRANGER, STREAM, b"owned")
    kv_stack.stranger.set(STREAM, b"owned", b"hijacked")
    refused = await kv_stack.stranger.flush()
    assert refused is not None
    await applied(kv_stack.client, refused.tx_seq)
    assert await kv_stack.client.transaction_result(refused.tx_seq) == "SenderNoWritePermission"
    assert (await kv_stack.client.get_value(STREAM, b"owned")).data == b"by the owner"
    # The stranger's own view gives way to the node once the node has replayed the refused write.
    assert await kv_stack.stranger.get(STREAM, b"owned") == b"by the owner"


async def test_an_oversized_key_is_refused_before_anything_is_sent(
    kv_stack: KvStack, reader: ChainReader
) -> None:
    nonce = await reader.transaction_count(OWNER, "pending")
    with pytest.raises(KvLimitError, match="1 to 16777215 bytes"):
        kv_stack.owner.set(STREAM, b"k" * (MAX_KEY_LENGTH + 1), b"v")
    with pytest.raises(KvLimitError):
        kv_stack.owner.set(STREAM, b"", b"v")
    assert await kv_stack.owner.flush() is None
    assert await reader.transaction_count(OWNER, "pending") == nonce


async def test_a_restarted_kv_node_keeps_its_state(kv_stack: KvStack) -> None:
    kv_stack.owner.set(STREAM, b"durable", b"still here")
    result = await kv_stack.owner.flush()
    assert result is not None
    await applied(kv_stack.client, result.tx_seq)
    await kv_stack.kv.stop()
    restarted = KvNode(kv_stack.kv_config)
    await restarted.start()
    client = KvClient(restarted.url)
    try:
        assert (await client.get_value(STREAM, b"durable")).data == b"still here"
        assert await client.transaction_result(result.tx_seq) == "Commit"
        assert (await client.replay_progress()).has_applied(result.tx_seq)
        # And it keeps following the chain after the restart.
        kv_stack.owner.set(STREAM, b"after", b"restart")
        later = await kv_stack.owner.flush()
        assert later is not None
        await applied(client, later.tx_seq)
        assert (await client.get_value(STREAM, b"after")).data == b"restart"
    finally:
        await client.close()
        await restarted.stop()
