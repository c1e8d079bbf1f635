"""A devnet storage node: log sync from the Flow contract, segments on disk, the `zgs_*` JSON-RPC.

It speaks the real node's JSON-RPC (SPEC §3) so every 0G client can use it, and keeps its state in
a data directory so a restart resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from zerog_client.chain.reader import ChainReader
from zerog_client.devnet.storage_node.jsonrpc_server import DEFAULT_MAX_BODY, JsonRpcServer
from zerog_client.devnet.storage_node.log_sync import LogSyncer
from zerog_client.devnet.storage_node.rpc import NodeIdentity, ZgsRpc
from zerog_client.devnet.storage_node.shard import ShardConfig
from zerog_client.devnet.storage_node.store import SegmentStore

_TREE_SELECTOR = "0xfd54b228"  # tree() -> (currentLength, unstagedHeight)
_ROOT_BY_SEQ_SELECTOR = "0x6d7ad0fc"  # getFlowRootByTxSeq(uint256) -> bytes32


class StorageNodeConfig(BaseModel):
    """Settings of one devnet storage node.

    Attributes:
        data_dir: where segments and metadata live; reuse it to resume after a restart.
        rpc_url: the chain's JSON-RPC endpoint.
        chain_id: the chain the node must find there.
        flow_address: the Flow contract whose `Submit` events it follows.
        shard_id: this node's shard.
        num_shard: the number of shards (a power of two; 1 keeps everything).
        port: the JSON-RPC port on 127.0.0.1 (0 for any free port).
        start_block: the first block scanned on a fresh data directory.
        poll_interval_s: pause between log polls once caught up.
        max_request_body: the JSON-RPC body cap in bytes.
    """

    model_config = ConfigDict(frozen=True)

    data_dir: Path
    rpc_url: str
    chain_id: int
    flow_address: str
    shard_id: int = Field(default=0, ge=0)
    num_shard: int = Field(default=1, ge=1)
    port: int = Field(default=0, ge=0, le=65535)
    start_block: int = Field(default=0, ge=0)
    poll_interval_s: float = Field(default=0.2, gt=0)
    max_request_body: int = Field(default=DEFAULT_MAX_BODY, gt=0)


class StorageNode:
    """One running node; `start()` and `stop()` own its chain reader, sync task and server."""

    def __init__(self, config: StorageNodeConfig) -> None:
        """Prepare the node; nothing runs until `start()`.

        Args:
            config: its settings.

        Raises:
            InvalidShardConfigError: a shard id not below a power-of-two shard count.
        """
        self.config = config
        self.shard = ShardConfig(config.shard_id, config.num_shard)
        self.store = SegmentStore(config.data_dir, self.shard, config.chain_id, config.flow_address)
        self._reader: ChainReader | None = None
        self._syncer: LogSyncer | None = None
        self._server: JsonRpcServer | None = None

    @property
    def url(self) -> str:
        """The node's JSON-RPC URL (once started)."""
        if self._server is None:
            raise RuntimeError("the storage node is not running")
        return self._server.url

    @property
    def shard_config(self) -> tuple[int, int]:
        """`(shard_id, num_shard)`."""
        return self.shard.shard_id, self.shard.num_shard

    @property
    def syncer(self) -> LogSyncer:
        """The log syncer (once started), e.g. to read its `last_error`."""
        if self._syncer is None:
            raise RuntimeError("the storage node is not running")
        return self._syncer

    async def start(self) -> None:
        """Open the data directory, connect to the chain, start log sync and the JSON-RPC server.

        Raises:
            StoreMismatchError: the data directory belongs to another chain, flow or shard.
            ChainUnreachableError: the chain does not answer.
            WrongChainError: the endpoint serves another chain.
        """
        self.store.open()
        reader = ChainReader(self.config.rpc_url, self.config.chain_id)
        await reader.open()
        self._reader = reader
        try:
            self._syncer = LogSyncer(
                reader,
                self.config.flow_address,
                self.store,
                start_block=self.config.start_block,
                poll_interval_s=self.config.poll_interval_s,
            )
            identity = NodeIdentity(self.config.chain_id, self.config.flow_address)
            rpc = ZgsRpc(self.store, identity, self._flow_context)
            self._server = JsonRpcServer(rpc.methods(), max_body=self.config.max_request_body)
            await self._server.start(self.config.port)
            self._syncer.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the server and the sync task, then close the chain connection."""
        server, self._server = self._server, None
        syncer, self._syncer = self._syncer, None
        reader, self._reader = self._reader, None
        if server is not None:
            await server.stop()
        if syncer is not None:
            await syncer.stop()
        if reader is not None:
            await reader.close()

    async def _flow_context(self) -> tuple[bytes, int]:
        # The flow tree lives in the contract; read it at the block the node has synced to.
        if self._reader is None:
            raise RuntimeError("the storage node is not running")
        height = self.store.log_sync_height
        block = "latest" if height is None else hex(height)
        length = int.from_bytes(
            (await self._reader.call(self.config.flow_address, _TREE_SELECTOR, block))[:32]
        )
        seq = self.store.next_tx_seq
        if seq == 0:
            return bytes(32), length
        call = _ROOT_BY_SEQ_SELECTOR + (seq - 1).to_bytes(32).hex()
        return (await self._reader.call(self.config.flow_address, call, block))[:32], length
