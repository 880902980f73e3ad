-- stonks schema, migration 3: each run's default colour, as an index into the
-- dashboard's 14-colour palette, chosen once when the run is created (the
-- lowest index the experiment's 13 newest runs do not use) and never changed.
-- NULL for runs created before this migration: their colour stays seq mod 14.
-- See docs/schema.md.

ALTER TABLE runs ADD COLUMN color_index INTEGER;

-- Choosing the index reads the experiment's 13 newest runs by seq: this makes
-- that 13 index steps, however many runs the experiment has.
CREATE INDEX runs_by_experiment_seq ON runs(experiment_id, seq);
