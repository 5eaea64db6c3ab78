-- The token that minted a session token: a session dies with it (revoked or expired)
-- at its next use. No foreign key: tokens are revoked, never deleted, so the issuer's
-- row stays to be checked; a session without one (minted before this migration) is
-- refused.
ALTER TABLE api_tokens ADD COLUMN issued_by TEXT;
