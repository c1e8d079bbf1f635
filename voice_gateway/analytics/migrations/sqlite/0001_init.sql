-- The analytics schema, embedded profile. Mirrors migrations/postgres/0001_init.sql.
-- Times are epoch seconds (REAL) as the gateway hands them over; JSON columns hold compact JSON text.
-- Every row of a user carries the address, and child tables reference their parent through
-- (address, id) pairs, so a row can never hang under another user's session or turn.

CREATE TABLE users (
    address TEXT NOT NULL PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
) STRICT;

CREATE TABLE sessions (
    session_id TEXT NOT NULL PRIMARY KEY,
    address TEXT NOT NULL REFERENCES users (address),
    started_at REAL NOT NULL,
    ended_at REAL,
    UNIQUE (address, session_id)
) STRICT;

CREATE TABLE turns (
    address TEXT NOT NULL,
    turn_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    at REAL NOT NULL,
    transcript TEXT NOT NULL,
    intent TEXT NOT NULL,
    reply TEXT NOT NULL,
    latency_ms TEXT NOT NULL,
    PRIMARY KEY (address, turn_id),
    FOREIGN KEY (address, session_id) REFERENCES sessions (address, session_id)
) STRICT;

-- History pages: one user's turns newest first.
CREATE INDEX turns_history ON turns (address, at DESC, turn_id DESC);
CREATE INDEX turns_by_session ON turns (address, session_id);

CREATE TABLE tool_calls (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    turn_id TEXT NOT NULL,
    server TEXT NOT NULL,
    tool TEXT NOT NULL,
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    error_code TEXT,
    duration_ms REAL NOT NULL,
    at REAL NOT NULL,
    FOREIGN KEY (address, turn_id) REFERENCES turns (address, turn_id)
) STRICT;

CREATE INDEX tool_calls_by_turn ON tool_calls (address, turn_id);

-- Amounts in wei are decimal TEXT: SQLite integers stop at 2**63 - 1.
CREATE TABLE transactions (
    address TEXT NOT NULL REFERENCES users (address),
    chain_id INTEGER NOT NULL,
    tx_hash TEXT NOT NULL,
    to_address TEXT,
    value TEXT NOT NULL,
    status TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (address, chain_id, tx_hash)
) STRICT;

-- No foreign key to users: failed sign-ins name addresses that never became users, and the rows
-- outlive the user (address set to NULL on erasure).
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    address TEXT,
    ip_hash TEXT,
    detail TEXT NOT NULL,
    at REAL NOT NULL
) STRICT;

CREATE INDEX audit_events_recent ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_by_kind ON audit_events (kind, at DESC, id DESC);
CREATE INDEX audit_events_by_address ON audit_events (address) WHERE address IS NOT NULL;
