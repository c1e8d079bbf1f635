"""Splits reply text into sentences for streaming TTS, without breaking amounts, addresses or URLs.

A boundary is sentence punctuation followed by white space and then something that can open a
sentence. Decimals ("0.5 0G"), hex addresses ("0x7099…79C8") and URLs carry no white space after
their dots, so they never match; abbreviations and initials are listed exceptions.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    {
        "e.g",
        "i.e",
        "etc",
        "vs",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "approx",
        "inc",
        "ltd",
        "jr",
        "sr",
        "fig",
    }
)
# Group 1 ends the sentence: its punctuation and any closing quotes or brackets.
_BOUNDARY = re.compile(r"([.!?…]+[\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9])")
_LAST_WORD = re.compile(r"(\S+)$")


def _is_abbreviation(before: str) -> bool:
    match = _LAST_WORD.search(before)
    if match is None:
        return False
    word = match.group(1).rstrip(".").lower()
    # A single letter is an initial ("J. Smith"), not the end of a sentence.
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, trimmed, in order; text without a boundary is one sentence."""
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1)
        if match.group(1) == "." and _is_abbreviation(text[start : match.start(1)]):
            continue
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


class SentenceStream:
    """Incremental splitting for text that arrives in pieces (a streamed reply)."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> list[str]:
        """Add text; return the sentences now complete (the last one may still grow, so it is kept)."""
        self._buffer += piece
        sentences = split_sentences(self._buffer)
        if len(sentences) <= 1:
            return []
        # Everything before the last sentence is complete.
        last = sentences[-1]
        self._buffer = self._buffer[self._buffer.rfind(last) :]
        return sentences[:-1]

    def flush(self) -> list[str]:
        """The remaining text as its final sentence(s)."""
        rest = split_sentences(self._buffer)
        self._buffer = ""
        return rest
