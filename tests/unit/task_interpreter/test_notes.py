"""Notes are sealed for their user before upload and open only for that user."""

from __future__ import annotations

import pytest

from learning.crypto import EnvelopeCipher, InMemoryKeyStore
from task_interpreter.notes import PREFIX, NoteError, latest_note, note_name, open_note, seal_note

pytestmark = [pytest.mark.unit, pytest.mark.anyio]


async def test_a_note_round_trips_for_its_user_only() -> None:
    cipher = EnvelopeCipher(bytes(32), InMemoryKeyStore())
    sealed = await seal_note(cipher, "u1", "buy milk")
    assert sealed.startswith(PREFIX)
    assert "milk" not in sealed
    assert await open_note(cipher, "u1", sealed) == "buy milk"
    with pytest.raises(NoteError, match="isn't readable"):
        await open_note(cipher, "u2", sealed)
    await cipher.forget("u1")
    with pytest.raises(NoteError, match="isn't readable"):
        await open_note(cipher, "u1", sealed)
    with pytest.raises(NoteError, match="isn't one of your notes"):
        await open_note(cipher, "u1", "plain text")
    with pytest.raises(NoteError):
        await seal_note(cipher, "u1", "   ")
    with pytest.raises(NoteError):
        await seal_note(cipher, "u1", "x" * 4001)


def test_the_latest_note_is_found_among_files() -> None:
    files = [{"name": "note-1.txt"}, {"name": "report.pdf"}, {"name": note_name(2)}]
    assert latest_note(files) == {"name": "note-2.txt"}
    assert latest_note([{"name": "report.pdf"}]) is None
