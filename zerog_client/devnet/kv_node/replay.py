"""Replaying one KV transaction (SPEC §4.3): which txs count, who may write, and what commits.

The checks read the state as it was before the transaction; everything a transaction changes is
returned as one `Commit`, so a refused transaction changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from zerog_client.devnet.kv_node.store import AclChange, Commit, KvStore, Role
from zerog_client.storage.errors import KvBlobError
from zerog_client.storage.kv_blob import AclOp, StreamData, decode_stream_data, parse_stream_tags

COMMIT = "Commit"
SENDER_NO_WRITE_PERMISSION = "SenderNoWritePermission"
TAGS_MISMATCH = "TagsMismatch"
VERSION_CONFLICTION = "VersionConfliction"
LATEST = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result string `kv_getTransactionResult` reports, and the changes when it is `Commit`."""

    result: str
    commit: Commit | None = None


def watched_streams(tags: bytes, watched: Collection[bytes]) -> list[bytes] | None:
    """The tx's stream ids when the node must replay it: KV tags, non-empty, all watched.

    Args:
        tags: the submission's tags.
        watched: the streams this node serves.
    """
    streams = parse_stream_tags(tags)
    if not streams or any(stream not in watched for stream in streams):
        return None
    return streams


def may_write_some_stream(store: KvStore, streams: list[bytes], sender: bytes) -> bool:
    """The pre-download gate: the sender can write at least one of the tagged streams."""
    return any(_can_write_stream(store, stream, sender) for stream in streams)


def replay(
    store: KvStore, streams: list[bytes], sender: bytes, blob: bytes, watched: Collection[bytes]
) -> Outcome:
    """Check a downloaded blob against the state and build its commit.

    Args:
        store: the state before this transaction.
        streams: the tx's tagged streams (from `watched_streams`).
        sender: the chain transaction's `from` (20 bytes).
        blob: the file's bytes.
        watched: the streams this node serves.
    """
    try:
        data = decode_stream_data(blob)
    except KvBlobError as exc:
        return Outcome(f"DataParseError: {exc}")
    new_streams = {s for s in streams if not store.stream_exists(s, LATEST)}
    refusal = _check_reads(store, data, watched) or _check_writes(store, data, streams, sender, new_streams)
    refusal = refusal or _check_acl(store, data, sender, new_streams)
    if refusal is not None:
        return Outcome(refusal)
    acl = [AclChange(s, Role.ADMIN, b"", sender, True) for s in sorted(new_streams)]
    acl += [
        _acl_change(control.op, control.stream_id, control.key, control.account, sender)
        for control in data.controls
    ]
    writes = tuple((w.stream_id, w.key, w.value) for w in data.writes)
    return Outcome(COMMIT, Commit(tuple(sorted(new_streams)), writes, tuple(acl)))


def _can_write_stream(store: KvStore, stream: bytes, sender: bytes) -> bool:
    return (
        not store.stream_exists(stream, LATEST)
        or store.has_role(stream, Role.ADMIN, LATEST, account=sender)
        or store.has_role(stream, Role.WRITER, LATEST, account=sender)
        or store.writes_any_key(stream, sender, LATEST)
    )


def _conflicts(store: KvStore, stream: bytes, key: bytes, version: int) -> bool:
    latest = store.latest_version(stream, key)
    return latest is not None and latest > version


def _check_reads(store: KvStore, data: StreamData, watched: Collection[bytes]) -> str | None:
    for read in data.reads:
        if read.stream_id not in watched:
            return TAGS_MISMATCH
        if _conflicts(store, read.stream_id, read.key, data.version):
            return VERSION_CONFLICTION
    return None


def _check_writes(
    store: KvStore, data: StreamData, streams: list[bytes], sender: bytes, new_streams: set[bytes]
) -> str | None:
    for write in data.writes:
        stream, key = write.stream_id, write.key
        if stream not in streams:
            return TAGS_MISMATCH
        if _conflicts(store, stream, key, data.version):
            return VERSION_CONFLICTION
        if not has_write_permission(store, stream, key, sender, LATEST, new_streams):
            return f"WritePermissionDenied: stream: 0x{stream.hex()}, key: 0x{key.hex()}"
    return None


def has_write_permission(
    store: KvStore, stream: bytes, key: bytes, account: bytes, version: int, new: Collection[bytes] = ()
) -> bool:
    """Whether `account` may write `key`: new stream, admin, else key writer (special) or stream writer.

    Args:
        store: the state.
        stream: the stream id.
        key: the key.
        account: the 20-byte account.
        version: the snapshot to read.
        new: streams the transaction being replayed creates.
    """
    if stream in new or not store.stream_exists(stream, version):
        return True
    if store.has_role(stream, Role.ADMIN, version, account=account):
        return True
    if store.has_role(stream, Role.SPECIAL_KEY, version, key=key):
        return store.has_role(stream, Role.SPECIAL_WRITER, version, key=key, account=account)
    return store.has_role(stream, Role.WRITER, version, account=account)


def _check_acl(store: KvStore, data: StreamData, sender: bytes, new_streams: set[bytes]) -> str | None:
    for control in data.controls:
        stream, op = control.stream_id, control.op
        if op in (AclOp.RENOUNCE_ADMIN_ROLE, AclOp.RENOUNCE_WRITER_ROLE, AclOp.RENOUNCE_SPECIAL_WRITER_ROLE):
            continue  # renouncing needs no permission
        admin = stream in new_streams or store.has_role(stream, Role.ADMIN, LATEST, account=sender)
        if op is AclOp.GRANT_WRITER_ROLE:
            allowed = admin or store.has_role(stream, Role.WRITER, LATEST, account=sender)
        elif op is AclOp.GRANT_SPECIAL_WRITER_ROLE:
            key = control.key or b""
            allowed = admin or store.has_role(stream, Role.SPECIAL_WRITER, LATEST, key=key, account=sender)
        else:
            allowed = admin
        if not allowed:
            return f"AccessControlPermissionDenied: {op.name}, stream: 0x{stream.hex()}"
    return None


def _acl_change(
    op: AclOp, stream: bytes, key: bytes | None, account: bytes | None, sender: bytes
) -> AclChange:
    key_bytes = key or b""
    target = account or sender
    table: dict[AclOp, tuple[Role, bytes, bytes, bool]] = {
        AclOp.GRANT_ADMIN_ROLE: (Role.ADMIN, b"", target, True),
        AclOp.RENOUNCE_ADMIN_ROLE: (Role.ADMIN, b"", sender, False),
        AclOp.SET_KEY_TO_SPECIAL: (Role.SPECIAL_KEY, key_bytes, b"", True),
        AclOp.SET_KEY_TO_NORMAL: (Role.SPECIAL_KEY, key_bytes, b"", False),
        AclOp.GRANT_WRITER_ROLE: (Role.WRITER, b"", target, True),
        AclOp.REVOKE_WRITER_ROLE: (Role.WRITER, b"", target, False),
        AclOp.RENOUNCE_WRITER_ROLE: (Role.WRITER, b"", sender, False),
        AclOp.GRANT_SPECIAL_WRITER_ROLE: (Role.SPECIAL_WRITER, key_bytes, target, True),
        AclOp.REVOKE_SPECIAL_WRITER_ROLE: (Role.SPECIAL_WRITER, key_bytes, target, False),
        AclOp.RENOUNCE_SPECIAL_WRITER_ROLE: (Role.SPECIAL_WRITER, key_bytes, sender, False),
    }
    role, row_key, row_account, granted = table[op]
    return AclChange(stream, role, row_key, row_account, granted)


__all__ = [
    "COMMIT",
    "LATEST",
    "SENDER_NO_WRITE_PERMISSION",
    "TAGS_MISMATCH",
    "VERSION_CONFLICTION",
    "Outcome",
    "has_write_permission",
    "may_write_some_stream",
    "replay",
    "watched_streams",
]
