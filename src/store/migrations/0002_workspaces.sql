-- stonks schema, migration 2: saved dashboard workspaces (chart layout and
-- settings under a name, per experiment). Written by the dashboard's server
-- only; the SDKs never read them. See docs/schema.md.

CREATE TABLE workspaces (
  experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (experiment_id, name)
);
