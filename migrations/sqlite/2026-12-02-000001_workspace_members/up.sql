-- Users whose agents get a workspace's BYOK keys. Admins count as members without a
-- row here; like workspace_admins, nothing references a workspace table (workspaces
-- live in the platform).
CREATE TABLE workspace_members (
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
