DROP TABLE workspace_admins;
