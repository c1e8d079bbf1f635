"""The benchmark client's bookkeeping, on synthetic message logs (no server, no socket)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.voice_client import (
    AUDIO,
    FRAME_BYTES,
    Clip,
    Inbox,
    Received,
    TurnResult,
    _fill_turn,
    _turn_settled,
)
from benchmarks.voice_latency import _local_url, spread

pytestmark = pytest.mark.unit


def _clip(name: str, voiced: tuple[bool, ...] = (False, True, True, False)) -> Clip:
    return Clip(
        name, "what is my balance", "question", "piper", None, (bytes(FRAME_BYTES),) * len(voiced), voiced
    )


def _inbox(*messages: tuple[float, str, dict[str, Any]]) -> Inbox:
    inbox = Inbox()
    inbox.items = [Received(at, kind, body, 640 if kind == AUDIO else 0) for at, kind, body in messages]
    return inbox


def test_clip_voiced_positions() -> None:
    clip = _clip("a", (False, True, False, True, True, False))
    assert clip.last_voiced == 4
    assert clip.frame_reaching(40) == 3  # two voiced frames of 20 ms
    assert clip.frame_reaching(60) == 4
    assert clip.frame_reaching(1000) == -1


def test_spread_picks_distinct_clips_across_the_list() -> None:
    clips = [_clip(str(i)) for i in range(56)]
    for n in (1, 4, 7, 8, 55):
        picked = [c.file for c in spread(clips, n)]
        assert len(picked) == len(set(picked)) == n
    # A stride of 14 would hit the same position of every group of 7; the nudged step does not.
    assert {int(c.file) % 7 for c in spread(clips, 4)} == {0, 1, 2, 3}
    assert len(spread(clips, 100)) == 56


def test_only_local_urls_are_accepted() -> None:
    assert _local_url("ws://127.0.0.1:8000/v1/voice") == "ws://127.0.0.1:8000/v1/voice"
    for url in ("ws://example.com/v1/voice", "http://127.0.0.1:8000/v1/voice", "ws://10.0.0.1/v1/voice"):
        with pytest.raises(ValueError, match="on this machine"):
            _local_url(url)


def test_a_turn_settles_when_every_heard_utterance_is_answered_or_failed() -> None:
    inbox = _inbox((1, "user_speech_started", {"turn_id": "t1"}))
    assert not _turn_settled(inbox, 0)
    inbox.items.append(Received(2, "user_speech_stopped", {"turn_id": "t1"}))
    assert not _turn_settled(inbox, 0)
    inbox.items.append(Received(3, "metrics", {"turn_id": "t1", "latency_ms": {}}))
    assert _turn_settled(inbox, 0)
    # The server split the clip: a second utterance is still open, then fails without a turn id.
    inbox.items.append(Received(4, "user_speech_started", {"turn_id": "t2"}))
    assert not _turn_settled(inbox, 0)
    inbox.items.append(Received(5, "user_speech_stopped", {"turn_id": "t2"}))
    assert not _turn_settled(inbox, 0)
    inbox.items.append(Received(6, "error", {"code": "no_speech"}))
    assert _turn_settled(inbox, 0)
    assert not _turn_settled(inbox, len(inbox.items))  # nothing heard since


def test_turn_figures_are_measured_from_the_last_voiced_frame() -> None:
    inbox = _inbox(
        (0.5, AUDIO, {}),  # the previous reply's tail: before the origin, ignored
        (1.2, "user_speech_started", {"turn_id": "t1"}),
        (1.3, "transcript", {"turn_id": "t1", "text": "what is my", "final": False}),
        (2.4, "user_speech_stopped", {"turn_id": "t1"}),
        (2.5, "transcript", {"turn_id": "t1", "text": "What's my balance?", "final": True}),
        (2.6, "bot_speech_started", {"turn_id": "t1"}),
        (2.7, AUDIO, {}),
        (3.0, "metrics", {"turn_id": "t1", "latency_ms": {"voice_to_voice_ms": 640.0, "stt_ms": None}}),
    )
    result = TurnResult("a.wav", "what is my balance", "piper", False)
    _fill_turn(result, inbox, 0, origin=2.0)
    assert result.transcript == "What's my balance?"
    assert result.finals == 1
    assert result.final_transcript_ms == pytest.approx(500)
    assert result.voice_to_voice_ms == pytest.approx(700)
    assert result.server_latency_ms == {"voice_to_voice_ms": 640.0}
    assert result.errors == []


@pytest.mark.anyio
async def test_inbox_wait_returns_on_condition_timeout_or_close() -> None:
    inbox = Inbox()
    await inbox.push(Received(1.0, "ready", {}))
    assert await inbox.wait(lambda: len(inbox.items) == 1, 1.0)
    assert not await inbox.wait(lambda: len(inbox.items) == 2, 0.01)
    await inbox.close()
    assert not await inbox.wait(lambda: len(inbox.items) == 2, 5.0)  # returns at once: closed
