-- Version 1: the entities, their parents, and the changes every writer
-- leaves (by triggers, whatever wrote the row), with a notification.
CREATE TABLE mspl_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE mspl_entities (
    type text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    attrs jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attrs) = 'object'),
    tags jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object'),
    PRIMARY KEY (type, id)
);
CREATE TABLE mspl_parents (
    child_type text COLLATE "C" NOT NULL,
    child_id text COLLATE "C" NOT NULL,
    parent_type text COLLATE "C" NOT NULL,
    parent_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (child_type, child_id, parent_type, parent_id),
    CONSTRAINT mspl_parents_child FOREIGN KEY (child_type, child_id) REFERENCES mspl_entities (type, id)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE TABLE mspl_changes (
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at timestamptz NOT NULL DEFAULT now(),
    entity_type text COLLATE "C",
    entity_id text COLLATE "C"
);
CREATE INDEX mspl_changes_by_xid ON mspl_changes (xid);
CREATE FUNCTION mspl_entities_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO mspl_changes (entity_type, entity_id) SELECT type, id FROM mspl_new;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO mspl_changes (entity_type, entity_id) SELECT type, id FROM mspl_old;
    END IF;
    PERFORM pg_notify('mspl_changes', '');
    RETURN NULL;
END $$;
CREATE FUNCTION mspl_parents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO mspl_changes (entity_type, entity_id) SELECT child_type, child_id FROM mspl_new;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO mspl_changes (entity_type, entity_id) SELECT child_type, child_id FROM mspl_old;
    END IF;
    PERFORM pg_notify('mspl_changes', '');
    RETURN NULL;
END $$;
CREATE FUNCTION mspl_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mspl_changes (entity_type, entity_id) VALUES (NULL, NULL);
    PERFORM pg_notify('mspl_changes', '');
    RETURN NULL;
END $$;
CREATE TRIGGER mspl_entities_inserted AFTER INSERT ON mspl_entities
    REFERENCING NEW TABLE AS mspl_new FOR EACH STATEMENT EXECUTE FUNCTION mspl_entities_changed();
CREATE TRIGGER mspl_entities_updated AFTER UPDATE ON mspl_entities
    REFERENCING OLD TABLE AS mspl_old NEW TABLE AS mspl_new FOR EACH STATEMENT EXECUTE FUNCTION mspl_entities_changed();
CREATE TRIGGER mspl_entities_deleted AFTER DELETE ON mspl_entities
    REFERENCING OLD TABLE AS mspl_old FOR EACH STATEMENT EXECUTE FUNCTION mspl_entities_changed();
CREATE TRIGGER mspl_entities_truncated AFTER TRUNCATE ON mspl_entities
    FOR EACH STATEMENT EXECUTE FUNCTION mspl_truncated();
CREATE TRIGGER mspl_parents_inserted AFTER INSERT ON mspl_parents
    REFERENCING NEW TABLE AS mspl_new FOR EACH STATEMENT EXECUTE FUNCTION mspl_parents_changed();
CREATE TRIGGER mspl_parents_updated AFTER UPDATE ON mspl_parents
    REFERENCING OLD TABLE AS mspl_old NEW TABLE AS mspl_new FOR EACH STATEMENT EXECUTE FUNCTION mspl_parents_changed();
CREATE TRIGGER mspl_parents_deleted AFTER DELETE ON mspl_parents
    REFERENCING OLD TABLE AS mspl_old FOR EACH STATEMENT EXECUTE FUNCTION mspl_parents_changed();
CREATE TRIGGER mspl_parents_truncated AFTER TRUNCATE ON mspl_parents
    FOR EACH STATEMENT EXECUTE FUNCTION mspl_truncated();
