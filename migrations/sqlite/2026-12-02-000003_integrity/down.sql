ALTER TABLE secrets DROP COLUMN row_mac;
ALTER TABLE audit_records DROP COLUMN chain_format;
