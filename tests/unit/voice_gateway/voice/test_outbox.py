from __future__ import annotations

import anyio
import pytest

from voice_gateway.voice.outbox import AudioOut, CloseOut, Outbox, OutboxFull, Outgoing

pytestmark = pytest.mark.unit

SHORT = 0.05  # seconds a put may wait when the queue is full and nobody reads
LONG = 5.0  # a deadline that only a broken test reaches


async def drain(outbox: Outbox) -> list[Outgoing]:
    items: list[Outgoing] = []
    with anyio.fail_after(LONG):
        while len(outbox):
            items.append(await outbox.get())
    return items


@pytest.mark.anyio
async def test_items_come_out_in_the_order_they_went_in() -> None:
    outbox = Outbox(max_items=10)
    items: list[Outgoing] = [
        {"type": "user_speech_started", "turn_id": "t1"},
        AudioOut("t1", b"\x01\x00"),
        {"type": "reply_text", "turn_id": "t1", "text": "Hi."},
        AudioOut("t1", b"\x02\x00"),
        CloseOut(1000, "bye"),
    ]
    for item in items:
        await outbox.put(item, LONG)
    assert len(outbox) == len(items)
    assert await drain(outbox) == items
    assert len(outbox) == 0


@pytest.mark.anyio
async def test_put_raises_outbox_full_when_nobody_reads() -> None:
    outbox = Outbox(max_items=2)
    await outbox.put({"type": "a"}, SHORT)
    await outbox.put({"type": "b"}, SHORT)
    with anyio.fail_after(LONG), pytest.raises(OutboxFull):
        await outbox.put({"type": "c"}, SHORT)
    assert await drain(outbox) == [{"type": "a"}, {"type": "b"}]


@pytest.mark.anyio
async def test_the_outbox_is_usable_after_a_timed_out_put() -> None:
    outbox = Outbox(max_items=1)
    await outbox.put({"type": "a"}, SHORT)
    with pytest.raises(OutboxFull):
        await outbox.put({"type": "b"}, SHORT)
    with anyio.fail_after(LONG):
        assert await outbox.get() == {"type": "a"}
        await outbox.put({"type": "c"}, SHORT)
        assert await outbox.get() == {"type": "c"}


@pytest.mark.anyio
async def test_a_full_put_proceeds_when_the_reader_takes_an_item() -> None:
    outbox = Outbox(max_items=1)
    await outbox.put({"type": "a"}, SHORT)
    done: list[bool] = []

    async def put_late() -> None:
        await outbox.put({"type": "b"}, LONG)
        done.append(True)

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as tg:
            tg.start_soon(put_late)
            await anyio.wait_all_tasks_blocked()
            assert done == [], "the put must wait while the outbox is full"
            assert await outbox.get() == {"type": "a"}
        assert done == [True]
        assert await outbox.get() == {"type": "b"}


@pytest.mark.anyio
async def test_get_waits_for_an_item() -> None:
    outbox = Outbox(max_items=4)
    received: list[Outgoing] = []

    async def reader() -> None:
        received.append(await outbox.get())

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.wait_all_tasks_blocked()
            assert received == []
            await outbox.put({"type": "ready"}, SHORT)
    assert received == [{"type": "ready"}]


@pytest.mark.anyio
async def test_drop_audio_removes_only_that_turns_audio() -> None:
    outbox = Outbox(max_items=20)
    items: list[Outgoing] = [
        {"type": "bot_speech_started", "turn_id": "t1"},
        AudioOut("t1", b"a1"),
        AudioOut("t0", b"old"),
        AudioOut("t1", b"a2"),
        {"type": "reply_text", "turn_id": "t1", "text": "Hi."},
        AudioOut("t2", b"b1"),
        AudioOut("t1", b"a3"),
        CloseOut(1000, "bye"),
    ]
    for item in items:
        await outbox.put(item, SHORT)
    assert await outbox.drop_audio("t1") == 3
    assert await drain(outbox) == [
        {"type": "bot_speech_started", "turn_id": "t1"},
        AudioOut("t0", b"old"),
        {"type": "reply_text", "turn_id": "t1", "text": "Hi."},
        AudioOut("t2", b"b1"),
        CloseOut(1000, "bye"),
    ]


@pytest.mark.anyio
async def test_drop_audio_of_a_turn_without_audio_changes_nothing() -> None:
    outbox = Outbox(max_items=5)
    items: list[Outgoing] = [{"type": "x", "turn_id": "t9"}, AudioOut("t1", b"a")]
    for item in items:
        await outbox.put(item, SHORT)
    assert await outbox.drop_audio("t9") == 0
    assert await drain(outbox) == items


@pytest.mark.anyio
async def test_drop_audio_makes_room_for_a_waiting_put() -> None:
    outbox = Outbox(max_items=2)
    await outbox.put(AudioOut("t1", b"a1"), SHORT)
    await outbox.put(AudioOut("t1", b"a2"), SHORT)
    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.put, {"type": "bot_speech_stopped", "turn_id": "t1"}, LONG)
            await anyio.wait_all_tasks_blocked()
            assert len(outbox) == 2
            assert await outbox.drop_audio("t1") == 2
    assert await drain(outbox) == [{"type": "bot_speech_stopped", "turn_id": "t1"}]
