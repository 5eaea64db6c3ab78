-- Bumps the owner's counter on every row change of secrets, secret_targets and
-- secret_versions (SQLite triggers are per row; PostgreSQL's twin is in plpgsql).

CREATE TRIGGER secrets_generation_insert AFTER INSERT ON secrets BEGIN
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    VALUES (NEW.owner_kind, NEW.owner_id, 1)
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER secrets_generation_update AFTER UPDATE ON secrets BEGIN
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    VALUES (OLD.owner_kind, OLD.owner_id, 1)
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    VALUES (NEW.owner_kind, NEW.owner_id, 1)
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER secrets_generation_delete AFTER DELETE ON secrets BEGIN
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    VALUES (OLD.owner_kind, OLD.owner_id, 1)
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER secret_targets_generation_insert AFTER INSERT ON secret_targets BEGIN
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    VALUES (NEW.owner_kind, NEW.owner_id, 1)
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER secret_targets_generation_update AFTER UPDATE ON secret_targets BEGIN
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    VALUES (OLD.owner_kind, OLD.owner_id, 1)
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    VALUES (NEW.owner_kind, NEW.owner_id, 1)
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER secret_targets_generation_delete AFTER DELETE ON secret_targets BEGIN
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    VALUES (OLD.owner_kind, OLD.owner_id, 1)
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER secret_versions_generation_insert AFTER INSERT ON secret_versions BEGIN
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    SELECT owner_kind, owner_id, 1 FROM secrets WHERE id = NEW.secret_id
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER secret_versions_generation_update AFTER UPDATE ON secret_versions BEGIN
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    SELECT owner_kind, owner_id, 1 FROM secrets WHERE id = OLD.secret_id
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    SELECT owner_kind, owner_id, 1 FROM secrets WHERE id = NEW.secret_id
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER secret_versions_generation_delete AFTER DELETE ON secret_versions BEGIN
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    SELECT owner_kind, owner_id, 1 FROM secrets WHERE id = OLD.secret_id
    ON CONFLICT (owner_kind, owner_id) DO UPDATE SET generation = generation + 1;
END;
