"""The 0G storage Merkle tree: leaves, parents, roots, and proofs with their verification.

leaf = keccak256(256-byte chunk); parent = keccak256(left || right). Nodes are paired bottom-up,
left to right, and an odd last node is promoted unchanged (never duplicated), which equals the
recursive split at the largest power of two below the leaf count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TypedDict

from zerog_client.storage.errors import InvalidProofError, ProofFailure
from zerog_client.storage.keccak import keccak256
from zerog_client.storage.layout import CHUNK_SIZE, MAX_TREE_HEIGHT, next_pow2

EMPTY_CHUNK_HASH: bytes = keccak256(bytes(CHUNK_SIZE))
"""keccak256 of 256 zero bytes: the leaf of every padding chunk, Z[0]."""


def hash_pair(left: bytes, right: bytes) -> bytes:
    """Return the parent of two nodes, keccak256(left || right).

    Args:
        left: the left child (32 bytes).
        right: the right child (32 bytes).
    """
    return keccak256(left + right)


@cache
def zero_hash(height: int) -> bytes:
    """Return Z[height], the root of 2**height zero chunks (the contract's `zeros(height)`).

    Args:
        height: 0 <= height < 64.
    """
    if not 0 <= height < MAX_TREE_HEIGHT:
        raise ValueError(f"zero subtree height {height} is outside 0..{MAX_TREE_HEIGHT - 1}")
    if height == 0:
        return EMPTY_CHUNK_HASH
    below = zero_hash(height - 1)
    return keccak256(below + below)


def hash_chunks(data: bytes) -> list[bytes]:
    """Return the leaf hash of every chunk of `data`, the last chunk zero-filled to 256 bytes.

    Args:
        data: bytes (not a memoryview: the fastest backend takes bytes only).
    """
    h = keccak256
    full = len(data) - len(data) % CHUNK_SIZE
    leaves = [h(data[i : i + CHUNK_SIZE]) for i in range(0, full, CHUNK_SIZE)]
    if full < len(data):
        leaves.append(h(data[full:] + bytes(CHUNK_SIZE - (len(data) - full))))
    return leaves


def _parent_level(level: Sequence[bytes]) -> list[bytes]:
    h = keccak256
    pairs = iter(level)
    parents = [h(left + right) for left, right in zip(pairs, pairs, strict=False)]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """Return the root of the tree over `leaves` (odd last nodes promoted).

    Args:
        leaves: at least one 32-byte node.

    Raises:
        ValueError: `leaves` is empty.
    """
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    level = leaves
    while len(level) > 1:
        level = _parent_level(level)
    return level[0]


class ProofJson(TypedDict):
    """The wire form of a proof (`FileProof` in the node's JSON-RPC)."""

    lemma: list[str]
    path: list[bool]


@dataclass(frozen=True)
class Proof:
    """A Merkle proof in the 0G format.

    Attributes:
        lemma: `[leaf, sibling_0 (bottom), ..., sibling_k (top), root]`, or `[root]` for a one-leaf tree.
        path: `path[i]` is True when the running node at level i is a LEFT child (sibling on the right).
    """

    lemma: tuple[bytes, ...]
    path: tuple[bool, ...]

    def to_json(self) -> ProofJson:
        """Return the JSON-RPC form: 0x-prefixed hex hashes and booleans."""
        return {"lemma": ["0x" + node.hex() for node in self.lemma], "path": list(self.path)}

    @classmethod
    def from_json(cls, obj: ProofJson) -> Proof:
        """Parse the JSON-RPC form.

        Args:
            obj: `{"lemma": ["0x..."], "path": [bool]}`.

        Raises:
            InvalidProofError: a hash is not 32 bytes of hex, or a path entry is not a boolean.
        """
        try:
            lemma = tuple(bytes.fromhex(text.removeprefix("0x")) for text in obj["lemma"])
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise InvalidProofError(ProofFailure.FORMAT, "invalid proof: lemma is not hex") from exc
        path = obj.get("path")
        if not isinstance(path, list) or not all(isinstance(step, bool) for step in path):
            raise InvalidProofError(ProofFailure.FORMAT, "invalid proof: path is not a list of booleans")
        if any(len(node) != 32 for node in lemma):
            raise InvalidProofError(ProofFailure.FORMAT, "invalid proof: a lemma entry is not 32 bytes")
        return cls(lemma, tuple(path))


class MerkleTree:
    """A tree kept level by level, so that proofs for any leaf come without rehashing."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        """Build the tree.

        Args:
            leaves: at least one 32-byte node.

        Raises:
            ValueError: `leaves` is empty.
        """
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        levels: list[list[bytes]] = [list(leaves)]
        while len(levels[-1]) > 1:
            levels.append(_parent_level(levels[-1]))
        self._levels = levels

    @property
    def root(self) -> bytes:
        """The root hash."""
        return self._levels[-1][0]

    @property
    def leaves(self) -> Sequence[bytes]:
        """The leaves, in order."""
        return self._levels[0]

    @property
    def num_leaves(self) -> int:
        """How many leaves the tree has."""
        return len(self._levels[0])

    def proof_at(self, index: int) -> Proof:
        """Return the proof that leaf `index` belongs to this tree.

        Args:
            index: 0 <= index < num_leaves.

        Raises:
            IndexError: `index` is out of range.
        """
        if not 0 <= index < self.num_leaves:
            raise IndexError(f"leaf {index} is outside 0..{self.num_leaves - 1}")
        if self.num_leaves == 1:
            return Proof((self.root,), ())
        lemma = [self._levels[0][index]]
        path: list[bool] = []
        position = index
        for level in self._levels[:-1]:
            if position % 2:
                lemma.append(level[position - 1])
                path.append(False)
            elif position + 1 < len(level):
                lemma.append(level[position + 1])
                path.append(True)
            # else: the last odd node is promoted, so this level contributes no sibling.
            position //= 2
        lemma.append(self.root)
        return Proof(tuple(lemma), tuple(path))


def proof_position(path: Sequence[bool], num_leaves: int) -> tuple[int, int]:
    """Return the leaf index a proof path leads to, and the size of the subtree it stops at.

    The path is read top-down; at each level the left subtree holds the largest power of two
    below the current leaf count.

    Args:
        path: the proof's path (bottom-up, as in `Proof.path`).
        num_leaves: leaves of the whole tree.

    Returns:
        `(position, remaining)`; a complete proof ends with `remaining == 1`.
    """
    position, remaining = 0, num_leaves
    for is_left in reversed(path):
        if remaining <= 1:
            # More levels than the tree has: report a subtree size that no caller accepts.
            return position, 0
        left = next_pow2(remaining) // 2
        if is_left:
            remaining = left
        else:
            position += left
            remaining -= left
    return position, remaining


def verify_proof(proof: Proof, *, leaf: bytes, root: bytes, position: int, num_leaves: int) -> None:
    """Check that `proof` shows `leaf` at `position` in the tree of `num_leaves` leaves under `root`.

    The checks run in the storage node's order: format, position, then hashes.

    Args:
        proof: the proof to check.
        leaf: the leaf hash the caller computed itself (for a segment, its padded segment root).
        root: the trusted root.
        position: the leaf index the caller expects.
        num_leaves: leaves of the tree under `root`.

    Raises:
        InvalidProofError: with `failure` telling which check failed.
    """
    lemma, path = proof.lemma, proof.path
    if not lemma or len(lemma) != (1 if not path else len(path) + 2):
        raise InvalidProofError(ProofFailure.FORMAT)
    proven, remaining = proof_position(path, num_leaves)
    if proven != position:
        raise InvalidProofError(
            ProofFailure.POSITION, f"wrong position: proof_pos={proven} provided={position}"
        )
    if remaining != 1:
        # Stricter than a bare position match: a proof that stops above the leaves would let an
        # inner node pass for a leaf.
        raise InvalidProofError(
            ProofFailure.POSITION, f"wrong position: the proof stops at a subtree of {remaining} leaves"
        )
    if lemma[0] != leaf:
        raise InvalidProofError(ProofFailure.LEAF, "proof leaf does not match the data")
    if lemma[-1] != root:
        raise InvalidProofError(ProofFailure.ROOT, "proof root does not match the expected root")
    node = lemma[0]
    for sibling, is_left in zip(lemma[1:-1], path, strict=True):
        node = keccak256(node + sibling) if is_left else keccak256(sibling + node)
    if node != root:
        raise InvalidProofError(ProofFailure.HASH)


def is_valid_proof(proof: Proof, *, leaf: bytes, root: bytes, position: int, num_leaves: int) -> bool:
    """Return whether `verify_proof` accepts the proof (same arguments)."""
    try:
        verify_proof(proof, leaf=leaf, root=root, position=position, num_leaves=num_leaves)
    except InvalidProofError:
        return False
    return True
