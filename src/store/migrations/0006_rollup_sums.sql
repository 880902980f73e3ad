-- stonks schema, migration 6: each rollup row also holds the sum of its
-- points' values and of their steps, so a grouped aggregate (a mean per step
-- bucket, docs/grouping.md) reads one row per span instead of its points.
-- Rows written before this version get NULL in both: a reader treats a span
-- with a NULL sum as unknown and reads its points (docs/schema.md, "Rollups").
-- A sum that is not finite (a value of +-inf, or an overflow) is also NULL.
-- Adding a nullable column without a default rewrites nothing.

ALTER TABLE rollups ADD COLUMN value_sum REAL;
ALTER TABLE rollups ADD COLUMN step_sum REAL;
