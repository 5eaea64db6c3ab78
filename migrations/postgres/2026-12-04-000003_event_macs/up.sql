-- Each event's MAC under a key derived from the integrity master (vault-core
-- `event_mac`), written with it: an event inserted or edited outside the vault is
-- neither streamed nor delivered to a webhook. NULL only for events written by a store
-- without the keys (tests); a store with the keys treats those as tampered.
ALTER TABLE events ADD COLUMN mac BYTEA;
