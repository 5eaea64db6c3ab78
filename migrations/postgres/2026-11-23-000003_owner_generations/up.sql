-- A change counter per owner. Every change to what a resolution reads (a secret, its
-- targets, its versions) bumps its owner's counter in the same transaction, by the
-- triggers of the next migration, so a replica can tell with one small read whether
-- the candidates it cached for a context are still what the database holds.
CREATE TABLE owner_generations (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);
