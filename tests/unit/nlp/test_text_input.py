from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlp import TextInputError, clean_text, decode_text

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_text_is_rejected(text: str) -> None:
    with pytest.raises(TextInputError) as err:
        clean_text(text)
    assert err.value.code == "empty_text"


def test_too_long_text_is_rejected_before_any_work() -> None:
    with pytest.raises(TextInputError) as err:
        clean_text("a" * 1_000_000, max_chars=2000)
    assert err.value.code == "text_too_long"


def test_too_many_bytes_are_rejected_before_decoding() -> None:
    with pytest.raises(TextInputError) as err:
        decode_text(b"\xff" * 1_000_000, max_chars=2000)
    assert err.value.code == "text_too_long"


@pytest.mark.parametrize("raw", [b"\xff\xfe what", b"balance \xc3", b"\xed\xa0\x80"])
def test_non_utf8_bytes_are_rejected(raw: bytes) -> None:
    with pytest.raises(TextInputError) as err:
        decode_text(raw)
    assert err.value.code == "invalid_encoding"


def test_surrogate_escaped_argv_is_rejected() -> None:
    with pytest.raises(TextInputError) as err:
        clean_text("what is \udcff my balance")
    assert err.value.code == "invalid_encoding"


def test_control_characters_and_spaces_are_folded() -> None:
    assert clean_text("  what\tis\x07 my\r\nbalance  ") == "what is my balance"


@given(st.text(max_size=300))
def test_clean_text_either_rejects_with_a_code_or_returns_stripped_printable_text(text: str) -> None:
    cleaned: str | None = None
    code: str | None = None
    try:
        cleaned = clean_text(text)
    except TextInputError as exc:
        code = exc.code
    if cleaned is None:
        assert code in {"empty_text", "invalid_encoding"}
    else:
        assert cleaned == cleaned.strip()
        assert cleaned
        assert "  " not in cleaned
