-- stonks schema, migration 5: API tokens of a server (`stonks token`). Only
-- the SHA-256 of each secret is kept; a server whose file holds any token
-- (revoked ones included) answers only requests that carry a valid one.
-- See docs/schema.md.

CREATE TABLE tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  hash TEXT NOT NULL UNIQUE,
  created_at REAL NOT NULL,
  last_used_at REAL,
  revoked_at REAL
);
