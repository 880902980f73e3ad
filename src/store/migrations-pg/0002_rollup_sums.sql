-- stonks PostgreSQL schema, migration 2: as SQLite's migration 6, each rollup
-- row also holds the sum of its points' values and of their steps, so a grouped
-- aggregate (docs/grouping.md) reads one row per span instead of its points.
-- Rows written before have NULL sums and are read point by point. Adding a
-- nullable column without a default rewrites no rows.

ALTER TABLE rollups ADD COLUMN value_sum DOUBLE PRECISION;
ALTER TABLE rollups ADD COLUMN step_sum DOUBLE PRECISION;
