-- The vault's initial schema. Kept textually identical on SQLite and PostgreSQL except
-- for the binary type (BLOB / BYTEA) and PostgreSQL's byte-order collation on names
-- (SQLite compares bytes already), so name order and prefix ranges agree on both.
-- A vault-store test holds the two files to that.
-- Times are microseconds since the Unix epoch, UTC: one integer type on both backends,
-- ordered and compared without any time-zone or text-format rules.

CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE milestones (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, id)
);

CREATE TABLE project_members (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('accountable', 'responsible', 'consulted', 'informed')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

-- "Which projects is this user in", without a scan.
CREATE INDEX project_members_by_user ON project_members (user_id, project_id);

CREATE TABLE secrets (
    id TEXT PRIMARY KEY NOT NULL,
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user', 'workspace', 'project')),
    owner_id TEXT NOT NULL,
    -- Set exactly when the owner is a project, so deleting the project cascades here.
    project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('all', 'agents', 'project', 'milestone')),
    category TEXT NOT NULL,
    description TEXT,
    expires_at BIGINT,
    current_version INTEGER NOT NULL CHECK (current_version >= 1),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (
        (owner_kind = 'project' AND project_id IS NOT NULL AND project_id = owner_id
            AND scope_kind IN ('project', 'milestone'))
        OR (owner_kind IN ('user', 'workspace') AND project_id IS NULL
            AND scope_kind IN ('all', 'agents'))
    ),
    -- The target rows below repeat (owner, name) and point at this key, so they can
    -- never disagree with their secret.
    UNIQUE (id, owner_kind, owner_id, name)
);

-- One owner's list page: ordered by (name, id), seeks straight to the cursor.
CREATE INDEX secrets_by_owner_name ON secrets (owner_kind, owner_id, name, id);

-- The overlap rule, part one: at most one wide-scoped (`all` / `project`) secret per
-- name and owner, enforced by the database so two racing writers cannot both win.
CREATE UNIQUE INDEX secrets_one_wide_scope_per_name
    ON secrets (owner_kind, owner_id, name)
    WHERE scope_kind IN ('all', 'project');

-- Profile ids (user and workspace secrets scoped `agents`) or milestone ids (project
-- entries scoped `milestone`).
CREATE TABLE secret_targets (
    secret_id TEXT NOT NULL,
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    target_id TEXT NOT NULL,
    PRIMARY KEY (secret_id, target_id),
    FOREIGN KEY (secret_id, owner_kind, owner_id, name)
        REFERENCES secrets (id, owner_kind, owner_id, name) ON DELETE CASCADE,
    -- The overlap rule, part two: no target receives one name from two narrow scopes.
    UNIQUE (owner_kind, owner_id, name, target_id)
);

-- The narrow candidates for one resolution context: (owner, profile or milestone).
CREATE INDEX secret_targets_by_target ON secret_targets (owner_kind, owner_id, target_id);

CREATE TABLE secret_versions (
    secret_id TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version >= 1),
    -- A sealed vault-kms envelope: opaque bytes to the store.
    envelope BLOB NOT NULL,
    -- The value's masked form (vault-core's mask), so lists never open an envelope.
    masked TEXT NOT NULL,
    -- The KEK that wraps this version's data key, so rewraps and key status can find
    -- every version under one KEK without opening any envelope.
    kek_id TEXT NOT NULL,
    -- For a rollback, the version whose value this one restored.
    restored_from INTEGER,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (secret_id, version)
);

CREATE INDEX secret_versions_by_kek ON secret_versions (kek_id);

CREATE TABLE keks (
    id TEXT PRIMARY KEY NOT NULL,
    root_key_id TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
    wrap_count BIGINT NOT NULL CHECK (wrap_count >= 0),
    created_at BIGINT NOT NULL
);

-- Each root key has at most one active KEK, whichever process installed it.
CREATE UNIQUE INDEX keks_one_active_per_root ON keks (root_key_id) WHERE state = 'active';

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    -- A hash of the token; the token itself is never stored.
    token_hash BLOB NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('operator', 'orchestrator', 'user', 'session')),
    user_id TEXT,
    profile_id TEXT,
    workspace_id TEXT,
    project_id TEXT,
    milestone_id TEXT,
    label TEXT,
    expires_at BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);

-- Hash-chained by the API: each record's hash covers its fields and the previous hash.
-- `seq` is the chain position; its uniqueness keeps the chain linear under concurrency.
CREATE TABLE audit_records (
    seq BIGINT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    principal TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL,
    request_id TEXT NOT NULL,
    previous_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);

-- One row per setting that every replica must agree on (the vault instance id that
-- key wraps are bound to).
CREATE TABLE vault_settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
