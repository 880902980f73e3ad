-- stonks schema, migration 4: projects, which group experiments (the original
-- stonks' `project=`). A project is created by name on first use; an
-- experiment is linked to one when it is first created with a project and
-- keeps that link. See docs/schema.md.

CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at REAL NOT NULL
);

ALTER TABLE experiments ADD COLUMN project_id TEXT REFERENCES projects(id) ON DELETE SET NULL;

CREATE INDEX experiments_by_project ON experiments(project_id);
