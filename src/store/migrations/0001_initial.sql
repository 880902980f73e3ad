-- stonks schema, migration 1. The one canonical definition, loaded by the
-- TypeScript store and by the Python SDK (python/stonks/migrations links here).
-- Must run on SQLite 3.35+ (Python's bundled 3.40 included). See docs/schema.md.

CREATE TABLE experiments (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT,
  created_at REAL NOT NULL
);

CREATE TABLE runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  name TEXT,
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
  config TEXT NOT NULL DEFAULT '{}',
  tags TEXT NOT NULL DEFAULT '[]',
  group_name TEXT,
  job_type TEXT,
  notes TEXT,
  color TEXT,
  created_at REAL NOT NULL,
  ended_at REAL,
  last_heartbeat REAL,
  host TEXT,
  pid INTEGER,
  command TEXT,
  cwd TEXT,
  git_commit TEXT,
  git_dirty INTEGER,
  sdk_language TEXT,
  sdk_version TEXT,
  revision INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_experiment ON runs(experiment_id, created_at);
CREATE INDEX runs_by_revision ON runs(revision);

CREATE TABLE metric_keys (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE
);

CREATE TABLE series (
  id INTEGER PRIMARY KEY,
  run_seq INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
  key_id INTEGER NOT NULL REFERENCES metric_keys(id),
  count INTEGER NOT NULL DEFAULT 0,
  monotonic INTEGER NOT NULL DEFAULT 1,
  first_step REAL,
  last_step REAL,
  last_value REAL,
  last_time REAL,
  min_value REAL,
  max_value REAL,
  UNIQUE (run_seq, key_id)
);

CREATE TABLE chunks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  start_index INTEGER NOT NULL,
  count INTEGER NOT NULL,
  first_step REAL NOT NULL,
  last_step REAL NOT NULL,
  steps BLOB NOT NULL,
  vals BLOB NOT NULL,
  times BLOB NOT NULL
);
CREATE UNIQUE INDEX chunks_by_series ON chunks(series_id, start_index);
CREATE INDEX chunks_by_series_step ON chunks(series_id, last_step);

CREATE TABLE rollups (
  series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  level INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  count INTEGER NOT NULL,
  first_step REAL NOT NULL,
  last_step REAL NOT NULL,
  min_value REAL NOT NULL,
  min_step REAL NOT NULL,
  min_time REAL NOT NULL,
  max_value REAL NOT NULL,
  max_step REAL NOT NULL,
  max_time REAL NOT NULL,
  PRIMARY KEY (series_id, level, bucket)
) WITHOUT ROWID;
