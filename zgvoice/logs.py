"""JSON logs (one object per line on stderr) carrying the turn and session ids of the current task."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from voice_gateway import log_context
from voice_gateway.log_redaction import query_redaction_filter

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged too.
# uvicorn's `color_message` duplicates `msg` with terminal escapes.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object with ts, level, logger, msg, ids and extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, var in (("turn_id", log_context.turn_id), ("session_id", log_context.session_id)):
            value = var.get()
            if value is not None:
                payload[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    """Route every logger (ours, uvicorn's, the SDKs') to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # Secrets that travel in URLs (WebSocket tickets) never reach the output, from any logger.
    handler.addFilter(query_redaction_filter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # The SDKs log every request at INFO; that is noise at our default level.
    for noisy in ("httpx", "mcp", "web3", "urllib3", "aiohttp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
