"""Dictated notes on 0G storage: sealed with the user's own data key before upload (0G storage is
public), opened after download. A note is text of the form `zgv-note:v1:<base64 of the sealed bytes>`
named `note-<unix time>.txt`, so the user's file list shows which uploads are notes."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence
from typing import Any

from learning.crypto import DecryptionError, EnvelopeCipher

PREFIX = "zgv-note:v1:"
# The associated data of every note: a note cannot be passed off as a profile blob or vice versa.
LOCATION = "zgvoice/note"
MAX_NOTE_CHARS = 4000


class NoteError(ValueError):
    """A note that cannot be stored or read; the message is said to the user."""


def note_name(now: float | None = None) -> str:
    """The display name of a new note."""
    return f"note-{int(time.time() if now is None else now)}.txt"


async def seal_note(cipher: EnvelopeCipher, user: str, text: str) -> str:
    """The uploadable form of `text`.

    Raises:
        NoteError: empty, or longer than `MAX_NOTE_CHARS`.
    """
    if not text.strip():
        raise NoteError("What should the note say?")
    if len(text) > MAX_NOTE_CHARS:
        raise NoteError(f"A note can be at most {MAX_NOTE_CHARS} characters.")
    sealed = await cipher.seal(user, LOCATION, text.encode())
    return PREFIX + base64.b64encode(sealed).decode("ascii")


async def open_note(cipher: EnvelopeCipher, user: str, content: str) -> str:
    """The text of a downloaded note.

    Raises:
        NoteError: not a note, or it does not open with this user's key (another user's note, or
            the key was destroyed).
    """
    if not content.startswith(PREFIX):
        raise NoteError("That file isn't one of your notes.")
    try:
        sealed = base64.b64decode(content[len(PREFIX) :], validate=True)
        return (await cipher.open(user, LOCATION, sealed)).decode()
    except (binascii.Error, UnicodeDecodeError, DecryptionError):
        raise NoteError("I can't read that note: it isn't readable with your key.") from None


def latest_note(files: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest note among `my_files` entries (oldest first), or None."""
    notes = [f for f in files if str(f.get("name", "")).startswith("note-")]
    return notes[-1] if notes else None
