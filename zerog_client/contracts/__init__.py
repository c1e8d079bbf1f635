"""Our Solidity contracts for the devnet, as compiled artifacts shipped inside the package.

The sources live in `src/`, the artifacts in `artifacts/`; both are package data, so
`load_artifact` works the same from a checkout and from an installed wheel. Artifacts are produced
by `python -m zerog_client.contracts.compile` and committed, so using them needs no compiler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TypeAlias

from zerog_client.errors import ZeroGError

JsonValue: TypeAlias = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
"""Any value a JSON document can hold; ABI entries are objects of these."""

AbiEntry: TypeAlias = dict[str, JsonValue]

_PACKAGE = __name__


class ArtifactError(ZeroGError):
    """An artifact or source is missing or malformed: a packaging or build mistake, not a chain one."""

    code = "contract_artifact_invalid"


@dataclass(frozen=True, slots=True)
class Artifact:
    """One compiled contract.

    Attributes:
        name: contract name, also the artifact's file stem.
        abi: the contract's ABI entries as solc emitted them.
        bytecode: creation code (constructor arguments are appended to it when deploying).
        deployed_bytecode: runtime code as it ends up on chain (immutables not yet filled in).
        compiler: solc version that produced it.
        evm_version: the EVM version it targets.
        source_hash: hex sha256 of the Solidity source it was compiled from.
    """

    name: str
    abi: list[AbiEntry]
    bytecode: bytes
    deployed_bytecode: bytes
    compiler: str
    evm_version: str
    source_hash: str

    def function(self, name: str) -> AbiEntry:
        """The ABI entry of the function called `name`.

        Raises:
            KeyError: no function of that name (or more than one: overloads must be picked by hand).
        """
        found = [e for e in self.abi if e.get("type") == "function" and e.get("name") == name]
        if len(found) != 1:
            raise KeyError(f"{self.name} has {len(found)} functions named {name!r}")
        return found[0]


def artifact_names() -> list[str]:
    """Names of all shipped artifacts, sorted."""
    folder = _artifacts_dir()
    return sorted(e.name.removesuffix(".json") for e in folder.iterdir() if e.name.endswith(".json"))


def load_artifact(name: str) -> Artifact:
    """Load a compiled contract shipped with the package.

    Args:
        name: contract name, e.g. "Multicall3" or "TestToken".

    Raises:
        ArtifactError: no artifact of that name, or it is malformed.
    """
    entry = _artifacts_dir() / f"{name}.json"
    if not entry.is_file():
        raise ArtifactError(f"no contract artifact named {name!r} (have: {', '.join(artifact_names())})")
    try:
        raw = json.loads(entry.read_text(encoding="utf-8"))
        abi = raw["abi"]
        if not isinstance(abi, list) or not all(isinstance(e, dict) for e in abi):
            raise TypeError("abi is not a list of objects")
        return Artifact(
            name=name,
            abi=abi,
            bytecode=_hex_bytes(raw["bytecode"]),
            deployed_bytecode=_hex_bytes(raw["deployedBytecode"]),
            compiler=str(raw["compiler"]),
            evm_version=str(raw["evmVersion"]),
            source_hash=str(raw["sourceHash"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"contract artifact {name!r} is malformed: {exc}") from exc


def read_source(name: str) -> bytes:
    """The Solidity source a shipped artifact was compiled from, as the exact bytes that were hashed.

    Args:
        name: contract name; its source is `src/<name>.sol`.

    Raises:
        ArtifactError: the package holds no such source.
    """
    entry = resources.files(_PACKAGE) / "src" / f"{name}.sol"
    if not entry.is_file():
        raise ArtifactError(f"no contract source named {name!r}")
    return entry.read_bytes()


def _artifacts_dir() -> Traversable:
    return resources.files(_PACKAGE) / "artifacts"


def _hex_bytes(value: object) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"expected 0x-prefixed hex, got {str(value)[:20]!r}")
    return bytes.fromhex(value[2:])


__all__ = [
    "AbiEntry",
    "Artifact",
    "ArtifactError",
    "JsonValue",
    "artifact_names",
    "load_artifact",
    "read_source",
]
