-- Operators browse every user's secrets (or every workspace's keys) by name: one
-- owner kind's list page, seeking straight to the cursor.
CREATE INDEX secrets_by_kind_name ON secrets (owner_kind, name, id);
