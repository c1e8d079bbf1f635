"""The first gate for user text: decoding, size, and characters that carry no meaning."""

from __future__ import annotations

import re
import unicodedata

DEFAULT_MAX_CHARS = 2000

_SPACES = re.compile(r"\s+")


class TextInputError(ValueError):
    """User text that cannot be processed. `code` is stable; the message is said to the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def decode_text(raw: bytes, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Decode UTF-8 bytes strictly, checking the size before decoding so a flood costs nothing.

    Raises:
        TextInputError: `text_too_long` or `invalid_encoding`.
    """
    # A UTF-8 character takes at most 4 bytes.
    if len(raw) > max_chars * 4:
        raise TextInputError("text_too_long", f"the text is longer than {max_chars} characters")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextInputError("invalid_encoding", "the text is not valid UTF-8") from exc
    return clean_text(text, max_chars)


def clean_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Normalize (NFKC), drop control characters, collapse white space, and check the length.

    Raises:
        TextInputError: `text_too_long`, `invalid_encoding` (lone surrogates), or `empty_text`.
    """
    if len(text) > max_chars:
        raise TextInputError("text_too_long", f"the text is longer than {max_chars} characters")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        # Lone surrogates are what undecodable bytes become in argv (surrogateescape).
        raise TextInputError("invalid_encoding", "the text is not valid UTF-8")
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = _SPACES.sub(" ", text).strip()
    if not text:
        raise TextInputError("empty_text", "there is no text to understand")
    return text
