"""Address validation: 20-byte hex with an EIP-55 checksum when the case is mixed."""

from __future__ import annotations

import re

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

from zerog_client.errors import InvalidAddressError

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def normalize_address(text: str) -> ChecksumAddress:
    """Validate an address and return its EIP-55 checksummed form.

    An all-lower or all-upper address carries no checksum and is accepted; a mixed-case one must
    match its checksum exactly, because a mismatch usually means a typo.

    Args:
        text: the address as given.

    Raises:
        InvalidAddressError: malformed, or mixed case with a wrong checksum.
    """
    if not _HEX_ADDRESS.fullmatch(text):
        raise InvalidAddressError("an address is 0x followed by 40 hexadecimal characters")
    checksummed = to_checksum_address(text)
    body = text[2:]
    if body != body.lower() and body != body.upper() and text != checksummed:
        raise InvalidAddressError("the address checksum does not match: check for a typo")
    return checksummed
