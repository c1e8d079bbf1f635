"""A devnet 0G storage node written from the SPEC: log sync, segment store, `zgs_*` JSON-RPC."""

from zerog_client.devnet.storage_node.errors import RpcError
from zerog_client.devnet.storage_node.jsonrpc_server import JsonRpcServer
from zerog_client.devnet.storage_node.log_sync import (
    LogSyncer,
    LogSyncError,
    TxRecord,
    record_from_event,
    record_from_log,
)
from zerog_client.devnet.storage_node.node import StorageNode, StorageNodeConfig
from zerog_client.devnet.storage_node.shard import InvalidShardConfigError, ShardConfig, select_nodes
from zerog_client.devnet.storage_node.store import SegmentStore, StoreMismatchError

__all__ = [
    "InvalidShardConfigError",
    "JsonRpcServer",
    "LogSyncError",
    "LogSyncer",
    "RpcError",
    "SegmentStore",
    "ShardConfig",
    "StorageNode",
    "StorageNodeConfig",
    "StoreMismatchError",
    "TxRecord",
    "record_from_event",
    "record_from_log",
    "select_nodes",
]
