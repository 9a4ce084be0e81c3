-- Version 2: old changes can be pruned (`mspl db prune`). Changes are
-- found by age, and the highest transaction pruned is kept, so that a
-- replica that had not yet applied it reloads in full.
CREATE INDEX mspl_changes_by_age ON mspl_changes (at);
INSERT INTO mspl_meta (key, value) VALUES ('pruned_through', '0');
