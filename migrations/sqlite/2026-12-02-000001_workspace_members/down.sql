DROP TABLE workspace_members;
