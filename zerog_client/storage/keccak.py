"""Keccak-256 (Ethereum's, not SHA3-256) from the fastest backend that is installed.

A 64 MiB file needs about half a million hashes, so the cost of one call decides the speed of a
root computation. Measured on one core (256-byte chunk / 64-byte pair): `tiny-keccak` (Rust)
0.6 / 0.3 us, `safe-pysha3` 1.1-1.9 / 0.7-1.1 us, `pycryptodome` 5.4 / 5.4 us, `eth-hash` 5 us.
`tiny-keccak` is preferred; `pycryptodome` (already pulled in by `web3`) is the fallback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from zerog_client.storage.errors import KeccakUnavailableError

KeccakFunction = Callable[[bytes], bytes]


@dataclass(frozen=True)
class KeccakBackend:
    """One implementation of Keccak-256.

    Attributes:
        name: the PyPI distribution that provides it.
        hash: the function, taking bytes and returning the 32-byte digest.
    """

    name: str
    hash: KeccakFunction


def _load_tiny_keccak() -> KeccakFunction:
    # Imported by name so that type checking passes whether or not the optional package is there.
    module = importlib.import_module("tiny_keccak")
    return cast(KeccakFunction, module.keccak256)


def _load_pycryptodome() -> KeccakFunction:
    module = importlib.import_module("Crypto.Hash.keccak")
    new = module.new

    def keccak256(data: bytes) -> bytes:
        return cast(bytes, new(digest_bits=256, data=data).digest())

    return keccak256


_LOADERS: tuple[tuple[str, Callable[[], KeccakFunction]], ...] = (
    ("tiny-keccak", _load_tiny_keccak),
    ("pycryptodome", _load_pycryptodome),
)


def available_backends() -> list[KeccakBackend]:
    """List the installed Keccak-256 backends, fastest first.

    Returns:
        Every backend whose package imports; possibly empty.
    """
    found: list[KeccakBackend] = []
    for name, load in _LOADERS:
        try:
            found.append(KeccakBackend(name, load()))
        except ImportError:
            continue
    return found


def _select() -> KeccakBackend:
    backends = available_backends()
    if not backends:
        raise KeccakUnavailableError(
            "0G storage needs Keccak-256: install `tiny-keccak` (fast) or `pycryptodome`"
        )
    return backends[0]


BACKEND: KeccakBackend = _select()
"""The backend every storage hash goes through."""

keccak256: KeccakFunction = BACKEND.hash
"""Keccak-256 of `data` (bytes only: some backends refuse memoryview and bytearray)."""
