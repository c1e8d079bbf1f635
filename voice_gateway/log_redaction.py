"""Keeps secrets that travel in URLs out of the logs: the value of `ticket=` (the voice WebSocket's
one-time ticket) becomes `ticket=[redacted]`.

uvicorn logs every WebSocket upgrade with its full query string (`"WebSocket /v1/voice?ticket=..."
[accepted]` on `uvicorn.error`, whether or not the access log is on), and an access log would do the
same for HTTP. The filter rewrites such records before any handler formats them.
"""

from __future__ import annotations

import logging
import re
from typing import Final

_SECRET_PARAM: Final = re.compile(r"(?i)((?:^|[?&;\s\"'])ticket=)[^&\s\"';]*")
REDACTED: Final = "[redacted]"
# The loggers uvicorn writes request lines to.
SERVER_LOGGERS: Final = ("uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """`text` with the value of every `ticket=` parameter replaced."""
    return _SECRET_PARAM.sub(rf"\g<1>{REDACTED}", text)


class QueryRedactionFilter(logging.Filter):
    """Redacts `ticket=` values in a record's message and arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "ticket=" in record.msg.lower():
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and "ticket=" in a.lower() for a in args):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        return True


_FILTER: Final = QueryRedactionFilter()


def install_query_redaction() -> None:
    """Attach the filter to uvicorn's loggers (once; calling again changes nothing)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def query_redaction_filter() -> QueryRedactionFilter:
    """The shared filter, for handlers that should redact every logger's records."""
    return _FILTER
