-- Users who manage one workspace's BYOK keys. Workspaces themselves live in the
-- platform, not here, so nothing references them: an admin row is the vault's whole
-- knowledge of a workspace besides its keys.
CREATE TABLE workspace_admins (
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
