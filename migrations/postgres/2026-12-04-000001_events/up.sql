-- The change event log. `seq` is assigned as the newest plus one under the same lock
-- that serializes audit appends (SQLite's write lock; a transaction-scoped PostgreSQL
-- advisory lock), so positions have no gaps and follow commit order: a subscriber that
-- saw position n has seen every event before it. Values never appear: `detail` is a
-- JSON object of ids, names, versions and times.
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    owner_kind TEXT,
    owner_id TEXT,
    name TEXT,
    secret_id TEXT,
    version INTEGER,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL
);

-- Retention deletes by age.
CREATE INDEX events_by_time ON events (at);

-- Expiry reminders already sent, one row per (secret, version, expiry, lead): the
-- primary key is what makes a reminder go out once however many replicas sweep.
CREATE TABLE expiry_reminders (
    secret_id TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    expires_at BIGINT NOT NULL,
    lead_seconds BIGINT NOT NULL,
    PRIMARY KEY (secret_id, version, expires_at, lead_seconds)
);

-- The sweep reads secrets by expiry.
CREATE INDEX secrets_by_expiry ON secrets (expires_at) WHERE expires_at IS NOT NULL;
