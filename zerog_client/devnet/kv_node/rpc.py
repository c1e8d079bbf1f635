"""The KV node's `kv_*` JSON-RPC methods (SPEC §4.4): base64 keys and values, snapshot reads."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Collection
from typing import Any

from zerog_client.devnet.kv_node.replay import LATEST, has_write_permission
from zerog_client.devnet.kv_node.store import Entry, KvStore, Role
from zerog_client.devnet.storage_node.errors import RpcError, invalid_params
from zerog_client.devnet.storage_node.jsonrpc_server import Handler, params_at

MAX_QUERY_LEN = 262_144
"""`max_query_len_in_bytes`: the most value bytes one call returns."""

_STREAM_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ACCOUNT = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _stream(value: Any) -> bytes:
    if not isinstance(value, str) or not _STREAM_ID.fullmatch(value):
        raise invalid_params("stream_id", "expected 0x and 64 hex digits")
    return bytes.fromhex(value[2:])


def _account(value: Any) -> bytes:
    if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
        raise invalid_params("account", "expected a 0x address")
    return bytes.fromhex(value[2:])


def _key(value: Any) -> bytes:
    try:
        if not isinstance(value, str):
            raise ValueError
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise invalid_params("key", "expected base64") from exc


def _uint(name: str, value: Any, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_params(name, "expected a non-negative integer")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _slice(entry: Entry, start: Any, length: Any) -> tuple[str, int]:
    start_index, count = _uint("start_index", start), _uint("len", length)
    if count > MAX_QUERY_LEN:
        raise invalid_params("len", "query length too large")
    if start_index > len(entry.value):
        raise invalid_params("start_index", "start index is greater than value length")
    return _b64(entry.value[start_index : start_index + count]), len(entry.value)


def _keyed(entry: Entry | None, start: Any, length: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    data, size = _slice(entry, start, length)
    return {"version": entry.version, "key": _b64(entry.key), "data": data, "size": size}


class KvRpc:
    """Binds the method table to a store, the served streams and the replay progress."""

    def __init__(self, store: KvStore, watched: Collection[bytes]) -> None:
        """Serve `store`.

        Args:
            store: the node's state.
            watched: the stream ids the node holds.
        """
        self._store = store
        self._watched = list(watched)

    def methods(self) -> dict[str, Handler]:
        """Method name -> handler."""
        table: dict[str, Callable[[list[Any]], Any]] = {
            "kv_getStatus": lambda p: (params_at(p, 0), True)[1],
            "kv_getValue": self._get_value,
            "kv_getNext": lambda p: self._neighbour(p, forward=True),
            "kv_getPrev": lambda p: self._neighbour(p, forward=False),
            "kv_getFirst": lambda p: self._end(p, forward=True),
            "kv_getLast": lambda p: self._end(p, forward=False),
            "kv_getTransactionResult": self._tx_result,
            "kv_getHoldingStreamIds": lambda p: (
                params_at(p, 0),
                ["0x" + s.hex() for s in self._watched],
            )[1],
            "kv_getReplayProgress": self._progress,
            "kv_hasWritePermission": self._has_write_permission,
            "kv_isAdmin": self._is_admin,
            "kv_isSpecialKey": self._is_special_key,
            "kv_isWriterOfKey": self._is_writer_of_key,
            "kv_isWriterOfStream": self._is_writer_of_stream,
        }
        return {name: _async(handler) for name, handler in table.items()}

    def _get_value(self, params: list[Any]) -> dict[str, Any]:
        stream_id, key, start, length, version = params_at(params, 5, 4)
        entry = self._store.value(_stream(stream_id), _key(key), _uint("version", version, LATEST))
        if entry is None:
            _uint("start_index", start)
            if _uint("len", length) > MAX_QUERY_LEN:
                raise invalid_params("len", "query length too large")
            return {"version": 0, "data": "", "size": 0}
        data, size = _slice(entry, start, length)
        return {"version": entry.version, "data": data, "size": size}

    def _neighbour(self, params: list[Any], *, forward: bool) -> dict[str, Any] | None:
        stream_id, key, start, length, inclusive, version = params_at(params, 6, 5)
        if not isinstance(inclusive, bool):
            raise invalid_params("inclusive", "expected a boolean")
        entry = self._store.neighbour(
            _stream(stream_id),
            _key(key),
            _uint("version", version, LATEST),
            forward=forward,
            inclusive=inclusive,
        )
        return _keyed(entry, start, length)

    def _end(self, params: list[Any], *, forward: bool) -> dict[str, Any] | None:
        stream_id, start, length, version = params_at(params, 4, 3)
        entry = self._store.neighbour(
            _stream(stream_id), None, _uint("version", version, LATEST), forward=forward, inclusive=True
        )
        return _keyed(entry, start, length)

    def _tx_result(self, params: list[Any]) -> str | None:
        (seq,) = params_at(params, 1)
        return self._store.result(_uint("tx_seq", seq))

    def _progress(self, params: list[Any]) -> dict[str, Any]:
        params_at(params, 0)
        applied = self._store.meta("applied_seq")
        return {"appliedSeq": applied or 0, "firstTxSeq": self._store.meta("first_tx_seq")}

    def _has_write_permission(self, params: list[Any]) -> bool:
        account, stream_id, key, version = params_at(params, 4, 3)
        return has_write_permission(
            self._store, _stream(stream_id), _key(key), _account(account), _uint("version", version, LATEST)
        )

    def _is_admin(self, params: list[Any]) -> bool:
        account, stream_id, version = params_at(params, 3, 2)
        return self._store.has_role(
            _stream(stream_id), Role.ADMIN, _uint("version", version, LATEST), account=_account(account)
        )

    def _is_special_key(self, params: list[Any]) -> bool:
        stream_id, key, version = params_at(params, 3, 2)
        return self._store.has_role(
            _stream(stream_id), Role.SPECIAL_KEY, _uint("version", version, LATEST), key=_key(key)
        )

    def _is_writer_of_key(self, params: list[Any]) -> bool:
        account, stream_id, key, version = params_at(params, 4, 3)
        return self._store.has_role(
            _stream(stream_id),
            Role.SPECIAL_WRITER,
            _uint("version", version, LATEST),
            key=_key(key),
            account=_account(account),
        )

    def _is_writer_of_stream(self, params: list[Any]) -> bool:
        account, stream_id, version = params_at(params, 3, 2)
        return self._store.has_role(
            _stream(stream_id), Role.WRITER, _uint("version", version, LATEST), account=_account(account)
        )


def _async(handler: Callable[[list[Any]], Any]) -> Handler:
    async def call(params: list[Any]) -> Any:
        return handler(params)

    return call


__all__ = ["MAX_QUERY_LEN", "KvRpc", "RpcError"]
