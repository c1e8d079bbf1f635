-- The analytics schema, cluster profile. Mirrors migrations/sqlite/0001_init.sql.
-- Runs with search_path set to the deployment's schema, so no table name is qualified here.
-- Times are epoch seconds in DOUBLE PRECISION, so they round-trip the floats the gateway hands over
-- exactly as in SQLite. Identifiers use the "C" collation: byte order, the same as SQLite's.
-- Every row of a user carries the address, and child tables reference their parent through
-- (address, id) pairs, so a row can never hang under another user's session or turn.
-- Constraint names are explicit: the adapter maps their violations to error codes.

CREATE TABLE users (
    address TEXT COLLATE "C" NOT NULL CONSTRAINT users_pkey PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE sessions (
    session_id TEXT COLLATE "C" NOT NULL CONSTRAINT sessions_pkey PRIMARY KEY,
    address TEXT COLLATE "C" NOT NULL CONSTRAINT sessions_user_fkey REFERENCES users (address),
    started_at DOUBLE PRECISION NOT NULL,
    ended_at DOUBLE PRECISION,
    CONSTRAINT sessions_address_session_key UNIQUE (address, session_id)
);

CREATE TABLE turns (
    address TEXT COLLATE "C" NOT NULL,
    turn_id TEXT COLLATE "C" NOT NULL,
    session_id TEXT COLLATE "C" NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    transcript TEXT NOT NULL,
    intent TEXT NOT NULL,
    reply TEXT NOT NULL,
    latency_ms JSONB NOT NULL,
    CONSTRAINT turns_pkey PRIMARY KEY (address, turn_id),
    CONSTRAINT turns_session_fkey FOREIGN KEY (address, session_id) REFERENCES sessions (address, session_id)
);

-- History pages: one user's turns newest first.
CREATE INDEX turns_history ON turns (address, at DESC, turn_id DESC);
CREATE INDEX turns_by_session ON turns (address, session_id);

CREATE TABLE tool_calls (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address TEXT COLLATE "C" NOT NULL,
    turn_id TEXT COLLATE "C" NOT NULL,
    server TEXT NOT NULL,
    tool TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    error_code TEXT,
    duration_ms DOUBLE PRECISION NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    CONSTRAINT tool_calls_turn_fkey FOREIGN KEY (address, turn_id) REFERENCES turns (address, turn_id)
);

CREATE INDEX tool_calls_by_turn ON tool_calls (address, turn_id);

-- NUMERIC(78, 0) holds any uint256 (78 decimal digits).
CREATE TABLE transactions (
    address TEXT COLLATE "C" NOT NULL CONSTRAINT transactions_user_fkey REFERENCES users (address),
    chain_id BIGINT NOT NULL,
    tx_hash TEXT COLLATE "C" NOT NULL,
    to_address TEXT COLLATE "C",
    value NUMERIC(78, 0) NOT NULL CHECK (value >= 0),
    status TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    CONSTRAINT transactions_pkey PRIMARY KEY (address, chain_id, tx_hash)
);

-- No foreign key to users: failed sign-ins name addresses that never became users, and the rows
-- outlive the user (address set to NULL on erasure).
CREATE TABLE audit_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    address TEXT COLLATE "C",
    ip_hash TEXT,
    detail JSONB NOT NULL,
    at DOUBLE PRECISION NOT NULL
);

CREATE INDEX audit_events_recent ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_by_kind ON audit_events (kind, at DESC, id DESC);
CREATE INDEX audit_events_by_address ON audit_events (address) WHERE address IS NOT NULL;
