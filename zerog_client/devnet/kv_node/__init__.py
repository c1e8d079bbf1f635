"""A devnet 0G KV node written from the SPEC (§4.3, §4.4): replay of stream blobs, `kv_*` JSON-RPC."""

from zerog_client.devnet.kv_node.node import KvNode, KvNodeConfig, KvSyncError
from zerog_client.devnet.kv_node.replay import Outcome, has_write_permission, replay, watched_streams
from zerog_client.devnet.kv_node.rpc import MAX_QUERY_LEN, KvRpc
from zerog_client.devnet.kv_node.store import KvStore, Role

__all__ = [
    "MAX_QUERY_LEN",
    "KvNode",
    "KvNodeConfig",
    "KvRpc",
    "KvStore",
    "KvSyncError",
    "Outcome",
    "Role",
    "has_write_permission",
    "replay",
    "watched_streams",
]
