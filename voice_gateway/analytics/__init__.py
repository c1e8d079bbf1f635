"""Analytics: users, sessions, turns, tool calls, transactions and security audit events.

`AnalyticsStore` is the interface; `SqliteAnalyticsStore` (embedded profile) and
`PostgresAnalyticsStore` (cluster profile, imported from `voice_gateway.analytics.postgres_store` so a
slim install needs no asyncpg) satisfy it.
"""

from voice_gateway.analytics.sqlite_store import SqliteAnalyticsStore
from voice_gateway.analytics.store import (
    AnalyticsError,
    AnalyticsStore,
    AnalyticsUnavailable,
    AppliedMigration,
    AuditEvent,
    HistoryPage,
    JsonValue,
    Role,
    SessionRecord,
    ToolCallRecord,
    TransactionRecord,
    TurnRecord,
    UserRecord,
)

__all__ = [
    "AnalyticsError",
    "AnalyticsStore",
    "AnalyticsUnavailable",
    "AppliedMigration",
    "AuditEvent",
    "HistoryPage",
    "JsonValue",
    "Role",
    "SessionRecord",
    "SqliteAnalyticsStore",
    "ToolCallRecord",
    "TransactionRecord",
    "TurnRecord",
    "UserRecord",
]
