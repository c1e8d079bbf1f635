"""JSON-RPC errors as the storage node (jsonrpsee 0.14) encodes them.

The Go client matches substrings of `message` and `data`, so the exact code, message and data of
each error are part of the protocol, not decoration.
"""

from __future__ import annotations

from typing import Any

from zerog_client.errors import ZeroGError

INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
CALL_ERROR = -32000
"""jsonrpsee's code for a handler's own (anyhow) error; the SPEC infers it, the vectors use it."""

ALREADY_UPLOADING = "segment has already been uploaded or is being uploaded"


class RpcError(ZeroGError):
    """An error a JSON-RPC handler answers with instead of a result.

    Attributes:
        rpc_code: the JSON-RPC error code.
        rpc_message: the `message` member.
        rpc_data: the `data` member, omitted from the response when None.
    """

    code = "storage_node_rpc_error"

    def __init__(self, rpc_code: int, rpc_message: str, rpc_data: str | None = None) -> None:
        super().__init__(rpc_message if rpc_data is None else f"{rpc_message}; data: {rpc_data}")
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message
        self.rpc_data = rpc_data

    def to_json(self) -> dict[str, Any]:
        """The JSON-RPC `error` object."""
        error: dict[str, Any] = {"code": self.rpc_code, "message": self.rpc_message}
        if self.rpc_data is not None:
            error["data"] = self.rpc_data
        return error


def invalid_params(param: str, message: str) -> RpcError:
    """jsonrpsee `invalid_params(param, msg)`: `Invalid params: <param>` with the text in `data`.

    Args:
        param: the offending parameter or field, as the node names it.
        message: the explanation.
    """
    return RpcError(INVALID_PARAMS, f"Invalid params: {param}", message)


def internal_error(message: str) -> RpcError:
    """jsonrpsee `internal_error(msg)`: `Internal error` with the text in `data`.

    Args:
        message: the explanation.
    """
    return RpcError(INTERNAL_ERROR, "Internal error", message)


def call_error(message: str) -> RpcError:
    """A plain handler error: code -32000 and the text as the message.

    Args:
        message: the error text.
    """
    return RpcError(CALL_ERROR, message)
