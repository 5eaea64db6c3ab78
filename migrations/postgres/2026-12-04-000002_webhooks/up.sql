-- Webhook endpoints: where an owner's change events are delivered. No signing secret
-- is stored: each is derived from the integrity master with the endpoint's id and
-- `secret_generation` (vault-core `webhook.rs`); a rotation is the next generation,
-- and the previous one still signs until `previous_secret_until`.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user', 'workspace', 'project')),
    owner_id TEXT NOT NULL,
    url TEXT NOT NULL,
    -- Comma-separated event types; empty for every type.
    event_types TEXT NOT NULL,
    description TEXT,
    enabled SMALLINT NOT NULL CHECK (enabled IN (0, 1)),
    disabled_reason TEXT,
    consecutive_failures INTEGER NOT NULL,
    secret_generation INTEGER NOT NULL,
    previous_secret_until BIGINT,
    -- Only events after this position are delivered here: none from before it existed.
    from_seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX webhook_endpoints_by_owner ON webhook_endpoints (owner_kind, owner_id);

-- One delivery of one event to one endpoint, with its attempts. A replica claims due
-- rows for `lease_until` (on PostgreSQL with FOR UPDATE SKIP LOCKED), counting the
-- attempt as it claims, and finishes only the attempt it claimed.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_seq BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    event_kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_seq)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
