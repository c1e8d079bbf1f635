"""A typed client of a KV node's `kv_*` JSON-RPC (SPEC §4.4).

Keys and values travel as standard base64 (the official Python SDK's `0x`-hex keys are wrong
against a real node). Stream ids are 32 bytes, accounts 20-byte `0x` addresses.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from zerog_client.chain.jsonrpc import HttpJsonRpc
from zerog_client.storage.kv_blob import MAX_VERSION

QUERY_LEN = 262_144
"""Bytes asked per call: the node's default `max_query_len_in_bytes`."""


@dataclass(frozen=True, slots=True)
class KvValue:
    """A whole value as read at some version (`version == 0` and empty: the key was never written)."""

    version: int
    data: bytes


@dataclass(frozen=True, slots=True)
class KvEntry:
    """A key and its whole value, from iteration."""

    key: bytes
    version: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ReplayProgress:
    """How far the node has replayed: `applied_seq` counts only once `first_tx_seq` is set."""

    applied_seq: int
    first_tx_seq: int | None

    def has_applied(self, tx_seq: int) -> bool:
        """Whether the node has replayed flow transaction `tx_seq` (or a later one)."""
        return self.first_tx_seq is not None and self.applied_seq >= tx_seq


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _stream(stream_id: bytes) -> str:
    if len(stream_id) != 32:
        raise ValueError("a stream id is 32 bytes")
    return "0x" + stream_id.hex()


class KvClient:
    """One KV node. Errors: `ChainUnreachableError` (transport), `JsonRpcError` (the node refused)."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        """Connect lazily to `url`.

        Args:
            url: the node's JSON-RPC URL.
            timeout_s: per-call timeout.
        """
        self.url = url
        self._rpc = HttpJsonRpc(url, timeout_s)

    async def close(self) -> None:
        """Close the connections."""
        await self._rpc.close()

    async def status(self) -> bool:
        """`kv_getStatus`."""
        return bool(await self._rpc.call("kv_getStatus"))

    async def get_value(self, stream_id: bytes, key: bytes, version: int | None = None) -> KvValue:
        """Read a whole value, 256 KiB per call, restarting if a newer version lands meanwhile.

        Args:
            stream_id: the stream.
            key: the key (non-empty).
            version: the snapshot (default: latest).
        """
        pinned = MAX_VERSION if version is None else version
        acc = b""
        seen: int | None = None
        while True:
            raw = await self._rpc.call(
                "kv_getValue", [_stream(stream_id), _b64(key), len(acc), QUERY_LEN, pinned]
            )
            row_version = int(raw["version"])
            if seen is not None and row_version != seen:
                acc = b""  # a newer write landed between two calls: start over
                seen = None
                continue
            seen = row_version
            acc += base64.b64decode(raw["data"], validate=True)
            if len(acc) >= int(raw["size"]):
                return KvValue(row_version, acc)

    async def get_next(
        self, stream_id: bytes, key: bytes, *, inclusive: bool = False, version: int | None = None
    ) -> KvEntry | None:
        """The first live key after `key` (or at it when `inclusive`)."""
        return await self._iterate("kv_getNext", stream_id, key, inclusive, version)

    async def get_prev(
        self, stream_id: bytes, key: bytes, *, inclusive: bool = False, version: int | None = None
    ) -> KvEntry | None:
        """The last live key before `key` (or at it when `inclusive`)."""
        return await self._iterate("kv_getPrev", stream_id, key, inclusive, version)

    async def get_first(self, stream_id: bytes, version: int | None = None) -> KvEntry | None:
        """The smallest live key of the stream."""
        raw = await self._rpc.call("kv_getFirst", [_stream(stream_id), 0, QUERY_LEN, _version(version)])
        return await self._whole(stream_id, raw)

    async def get_last(self, stream_id: bytes, version: int | None = None) -> KvEntry | None:
        """The largest live key of the stream."""
        raw = await self._rpc.call("kv_getLast", [_stream(stream_id), 0, QUERY_LEN, _version(version)])
        return await self._whole(stream_id, raw)

    async def transaction_result(self, tx_seq: int) -> str | None:
        """`"Commit"`, the reason a transaction was refused, or None (unknown or not a KV tx)."""
        raw = await self._rpc.call("kv_getTransactionResult", [tx_seq])
        return None if raw is None else str(raw)

    async def holding_stream_ids(self) -> list[bytes]:
        """The streams the node serves."""
        raw = await self._rpc.call("kv_getHoldingStreamIds")
        return [bytes.fromhex(str(s)[2:]) for s in raw]

    async def replay_progress(self) -> ReplayProgress:
        """`kv_getReplayProgress`."""
        raw = await self._rpc.call("kv_getReplayProgress")
        first = raw.get("firstTxSeq")
        return ReplayProgress(int(raw["appliedSeq"]), None if first is None else int(first))

    async def has_write_permission(
        self, account: str, stream_id: bytes, key: bytes, version: int | None = None
    ) -> bool:
        """Whether `account` may write `key` of the stream."""
        params = [account, _stream(stream_id), _b64(key), _version(version)]
        return bool(await self._rpc.call("kv_hasWritePermission", params))

    async def is_admin(self, account: str, stream_id: bytes, version: int | None = None) -> bool:
        """`kv_isAdmin` (the SDKs' `kv_IsAdmin` spelling is a bug)."""
        return bool(await self._rpc.call("kv_isAdmin", [account, _stream(stream_id), _version(version)]))

    async def is_special_key(self, stream_id: bytes, key: bytes, version: int | None = None) -> bool:
        """`kv_isSpecialKey`."""
        params = [_stream(stream_id), _b64(key), _version(version)]
        return bool(await self._rpc.call("kv_isSpecialKey", params))

    async def is_writer_of_key(
        self, account: str, stream_id: bytes, key: bytes, version: int | None = None
    ) -> bool:
        """`kv_isWriterOfKey`."""
        params = [account, _stream(stream_id), _b64(key), _version(version)]
        return bool(await self._rpc.call("kv_isWriterOfKey", params))

    async def is_writer_of_stream(self, account: str, stream_id: bytes, version: int | None = None) -> bool:
        """`kv_isWriterOfStream`."""
        params = [account, _stream(stream_id), _version(version)]
        return bool(await self._rpc.call("kv_isWriterOfStream", params))

    async def _iterate(
        self, method: str, stream_id: bytes, key: bytes, inclusive: bool, version: int | None
    ) -> KvEntry | None:
        params = [_stream(stream_id), _b64(key), 0, QUERY_LEN, inclusive, _version(version)]
        return await self._whole(stream_id, await self._rpc.call(method, params))

    async def _whole(self, stream_id: bytes, raw: dict[str, Any] | None) -> KvEntry | None:
        if raw is None:
            return None
        key = base64.b64decode(raw["key"], validate=True)
        data = base64.b64decode(raw["data"], validate=True)
        version = int(raw["version"])
        if len(data) < int(raw["size"]):
            # A large value: read the rest at the version the iterator saw.
            data = (await self.get_value(stream_id, key, version)).data
        return KvEntry(key, version, data)


def _version(version: int | None) -> int:
    return MAX_VERSION if version is None else version


__all__ = ["QUERY_LEN", "KvClient", "KvEntry", "KvValue", "ReplayProgress"]
