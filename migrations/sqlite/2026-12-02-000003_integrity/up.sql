-- How each audit record's hash was made: 1, SHA-256 (anyone can recompute it); 2,
-- HMAC-SHA256 under the chain key derived from the integrity master, which is stored
-- only wrapped under the root key. Existing records stay 1 and keep verifying.
ALTER TABLE audit_records ADD COLUMN chain_format SMALLINT NOT NULL DEFAULT 1 CHECK (chain_format IN (1, 2));

-- HMAC of the row state that decides who is handed which value (owner, name, current
-- version, scope and targets, expiry), under the row key. NULL only until the vault
-- first holds its integrity master, which fills every row in the same transaction.
ALTER TABLE secrets ADD COLUMN row_mac BLOB;
