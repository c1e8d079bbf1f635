from __future__ import annotations

import pytest

from voice_gateway.voice.registry import SessionRegistry

pytestmark = pytest.mark.unit


def test_sessions_open_until_the_global_cap() -> None:
    registry = SessionRegistry(max_sessions=3, max_per_client=10)
    assert [registry.try_open(f"10.0.0.{i}") for i in range(4)] == [True, True, True, False]
    assert registry.open_sessions == 3


def test_one_client_is_capped_while_others_may_open() -> None:
    registry = SessionRegistry(max_sessions=10, max_per_client=2)
    assert registry.try_open("a")
    assert registry.try_open("a")
    assert not registry.try_open("a")
    assert registry.try_open("b")
    assert registry.open_sessions == 3


def test_a_refused_open_is_not_counted() -> None:
    registry = SessionRegistry(max_sessions=2, max_per_client=1)
    registry.try_open("a")
    for _ in range(5):
        assert not registry.try_open("a")
    assert registry.open_sessions == 1
    assert registry.try_open("b")


def test_closing_frees_a_global_slot() -> None:
    registry = SessionRegistry(max_sessions=2, max_per_client=2)
    registry.try_open("a")
    registry.try_open("b")
    assert not registry.try_open("c")
    registry.close("a")
    assert registry.open_sessions == 1
    assert registry.try_open("c")


def test_closing_frees_a_per_client_slot() -> None:
    registry = SessionRegistry(max_sessions=10, max_per_client=1)
    registry.try_open("a")
    assert not registry.try_open("a")
    registry.close("a")
    assert registry.open_sessions == 0
    assert registry.try_open("a")


def test_closing_one_client_does_not_free_another_clients_slot() -> None:
    registry = SessionRegistry(max_sessions=10, max_per_client=1)
    registry.try_open("a")
    registry.try_open("b")
    registry.close("b")
    assert not registry.try_open("a")
    assert registry.try_open("b")


def test_counts_follow_opens_and_closes() -> None:
    registry = SessionRegistry(max_sessions=100, max_per_client=100)
    for client in ["a", "a", "b", "c", "c", "c"]:
        assert registry.try_open(client)
    assert registry.open_sessions == 6
    for client in ["c", "a", "c"]:
        registry.close(client)
    assert registry.open_sessions == 3


def test_closing_more_than_was_opened_never_goes_negative() -> None:
    registry = SessionRegistry(max_sessions=2, max_per_client=2)
    registry.close("ghost")
    assert registry.open_sessions == 0
    assert registry.try_open("ghost")
    assert registry.try_open("ghost")
    assert not registry.try_open("ghost")
