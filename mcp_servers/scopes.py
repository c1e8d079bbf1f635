"""Which token scopes each HTTP server and each of its tools need.

A token must carry its server's scope to connect at all, and a tool's extra scope to call that tool:
a read-only token for the chain server can look at balances but cannot prepare or send a transfer.
"""

from __future__ import annotations

from typing import Final

SERVER_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    "chain": ("chain:read",),
    "storage": ("storage:read",),
    "kv": ("kv:read",),
    "knowledge": ("knowledge:read",),
}

TOOL_SCOPES: Final[dict[str, dict[str, str]]] = {
    "chain": {
        "prepare_transfer": "tx:prepare",
        "prepare_batch_transfer": "tx:prepare",
        "confirm_transfer": "tx:send",
        "confirm_batch_transfer": "tx:send",
        "send_signed_transfer": "tx:send",
    },
    # Downloading to a path writes a file on the server's machine, so it counts as a write.
    "storage": {
        "upload_file": "storage:write",
        "upload_content": "storage:write",
        "download_file": "storage:write",
    },
    "kv": {"kv_set": "kv:write", "kv_delete": "kv:write"},
    "knowledge": {},
}
