"""Sharding: which global segments a node holds, and the selection of nodes covering every shard."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from zerog_client.errors import ZeroGError

_N = TypeVar("_N")


class InvalidShardConfigError(ZeroGError, ValueError):
    """`num_shard` is not a power of two, or `shard_id` is not below it."""

    code = "invalid_shard_config"


@dataclass(frozen=True)
class ShardConfig:
    """A node's shard: it holds global segment `g` iff `g % num_shard == shard_id`.

    Attributes:
        shard_id: 0 <= shard_id < num_shard.
        num_shard: a power of two (1 = the node holds everything).
    """

    shard_id: int = 0
    num_shard: int = 1

    def __post_init__(self) -> None:
        if self.num_shard < 1 or self.num_shard & (self.num_shard - 1):
            raise InvalidShardConfigError(f"num_shard {self.num_shard} is not a power of two")
        if not 0 <= self.shard_id < self.num_shard:
            raise InvalidShardConfigError(f"shard_id {self.shard_id} is not below {self.num_shard}")

    def holds(self, global_segment: int) -> bool:
        """Whether this node stores global flow segment `global_segment`."""
        return self.num_shard < 2 or global_segment % self.num_shard == self.shard_id

    def next_segment_index(self, start: int) -> int:
        """The first global segment at or after `start` that this node holds."""
        if self.num_shard < 2:
            return start
        return (
            (start + self.num_shard - 1 - self.shard_id) // self.num_shard
        ) * self.num_shard + self.shard_id

    def to_json(self) -> dict[str, int]:
        """The wire form `{"shardId", "numShard"}`."""
        return {"shardId": self.shard_id, "numShard": self.num_shard}


@dataclass
class _CoverageNode:
    # `added` counts nodes aimed exactly at this subtree; `replica` is the subtree's minimum
    # coverage excluding ancestors' contributions (the same as Go's lazily propagated value).
    added: int = 0
    replica: int = 0
    children: list[_CoverageNode] = field(default_factory=list)


def _insert(root: _CoverageNode, config: ShardConfig, expected: int) -> bool:
    path = [root]
    shard_id, width = config.shard_id, config.num_shard
    inherited = 0
    while width > 1:
        node = path[-1]
        inherited += node.added
        if not node.children:
            node.children = [_CoverageNode(), _CoverageNode()]
        path.append(node.children[shard_id % 2])
        shard_id >>= 1
        width >>= 1
    target = path[-1]
    if inherited + target.replica >= expected:
        return False
    target.added += 1
    target.replica += 1
    for node in reversed(path[:-1]):
        node.replica = node.added + min(child.replica for child in node.children)
    return True


def order_nodes(nodes: Sequence[_N], method: str, config_of: Callable[[_N], ShardConfig]) -> list[_N]:
    """Order (or filter) candidates as `shard.Select` does before inserting them.

    Args:
        nodes: the candidates.
        method: "random", "max", "min", or a positive integer N (keep nodes with num_shard == N).
        config_of: gives a candidate's shard config.

    Raises:
        ValueError: an unknown method.
    """
    if method == "random":
        shuffled = list(nodes)
        random.shuffle(shuffled)
        return shuffled
    if method == "max":
        return sorted(nodes, key=lambda n: (-config_of(n).num_shard, config_of(n).shard_id))
    if method == "min":
        return sorted(nodes, key=lambda n: (config_of(n).num_shard, config_of(n).shard_id))
    if method.isdigit() and int(method) > 0:
        return [n for n in nodes if config_of(n).num_shard == int(method)]
    raise ValueError(f"unknown selection method {method!r}")


def select_nodes(
    nodes: Sequence[_N], expected_replica: int, method: str, config_of: Callable[[_N], ShardConfig]
) -> list[_N] | None:
    """Pick nodes until every shard is covered `expected_replica` times (SPEC §3.4).

    A node is taken only if it raises the coverage of its shard subtree.

    Args:
        nodes: the candidates.
        expected_replica: replicas wanted of every segment (0 selects nothing and fails).
        method: see `order_nodes`.
        config_of: gives a candidate's shard config.

    Returns:
        The selected nodes, or None when the candidates cannot reach the coverage.

    Raises:
        ValueError: an unknown method.
    """
    if expected_replica <= 0:
        return None
    root = _CoverageNode()
    selected: list[_N] = []
    for node in order_nodes(nodes, method, config_of):
        if _insert(root, config_of(node), expected_replica):
            selected.append(node)
        if root.replica >= expected_replica:
            return selected
    return None
