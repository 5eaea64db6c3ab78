DROP TRIGGER secret_versions_generation ON secret_versions;
DROP TRIGGER secret_targets_generation ON secret_targets;
DROP TRIGGER secrets_generation ON secrets;
DROP FUNCTION version_row_changed();
DROP FUNCTION owned_row_changed();
DROP FUNCTION bump_owner_generation(TEXT, TEXT);
