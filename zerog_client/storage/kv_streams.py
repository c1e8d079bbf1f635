"""Naming KV streams: a stream id is 32 bytes; people give names, and a name's id is its keccak256."""

from __future__ import annotations

from zerog_client.storage.keccak import keccak256

_HEX_ID_LENGTH = 66


def stream_id(name_or_id: str) -> bytes:
    """The stream id for `name_or_id`: a 0x-prefixed 32-byte hex id as is, else keccak256 of the name.

    Raises:
        ValueError: empty.
    """
    if not name_or_id:
        raise ValueError("a stream needs a name or an id")
    if len(name_or_id) == _HEX_ID_LENGTH and name_or_id.startswith("0x"):
        try:
            return bytes.fromhex(name_or_id[2:])
        except ValueError:
            pass  # not hex after all: it is a name
    return keccak256(name_or_id.encode())
