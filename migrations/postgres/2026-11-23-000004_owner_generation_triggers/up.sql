-- Bumps the owner's counter on every row change of secrets, secret_targets and
-- secret_versions (the SQLite twin spells the same triggers in its own dialect).
CREATE FUNCTION bump_owner_generation(kind TEXT, id TEXT) RETURNS void AS $$
    INSERT INTO owner_generations (owner_kind, owner_id, generation)
    VALUES (kind, id, 1)
    ON CONFLICT (owner_kind, owner_id)
    DO UPDATE SET generation = owner_generations.generation + 1;
$$ LANGUAGE sql;

CREATE FUNCTION owned_row_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM bump_owner_generation(OLD.owner_kind, OLD.owner_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM bump_owner_generation(NEW.owner_kind, NEW.owner_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION version_row_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM bump_owner_generation(owner_kind, owner_id) FROM secrets WHERE id = OLD.secret_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM bump_owner_generation(owner_kind, owner_id) FROM secrets WHERE id = NEW.secret_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER secrets_generation AFTER INSERT OR UPDATE OR DELETE ON secrets
    FOR EACH ROW EXECUTE FUNCTION owned_row_changed();
CREATE TRIGGER secret_targets_generation AFTER INSERT OR UPDATE OR DELETE ON secret_targets
    FOR EACH ROW EXECUTE FUNCTION owned_row_changed();
CREATE TRIGGER secret_versions_generation AFTER INSERT OR UPDATE OR DELETE ON secret_versions
    FOR EACH ROW EXECUTE FUNCTION version_row_changed();
