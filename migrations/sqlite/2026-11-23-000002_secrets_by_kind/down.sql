DROP INDEX secrets_by_kind_name;
