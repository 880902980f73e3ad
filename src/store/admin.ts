/**
 * Changes people make to stored runs (rename, tag, delete, clean up) and
 * facts about the file. Every function here takes its own write transaction.
 */
import type { DatabaseCounts, GcCandidate, GcCriteria, RunEdit, RunStatus } from "../types.js";
import { type Db, runImmediate, runRead, stmt } from "./connection.js";
import { jsonArrayValues } from "./dialect.js";
import type { PgDb } from "./pg/driver.js";
import { pgSchemaVersion, storedPgVersion } from "./pg/schema.js";
import { maxRevision, nextRevision } from "./writes.js";

/** Applies an edit to a run and bumps its revision. Returns false when the run does not exist. */
export function editRun(db: Db, runId: string, edit: RunEdit): boolean {
  return runImmediate(db, () => {
    const found = stmt(db, "SELECT seq FROM runs WHERE id = ?").get(runId) as { seq: number } | undefined;
    if (!found) return false;
    // A flag per field (1 = replace) so one cached statement serves every combination.
    stmt(
      db,
      `UPDATE runs SET
         name = CASE WHEN @setName THEN @name ELSE name END,
         tags = CASE WHEN @setTags THEN @tags ELSE tags END,
         notes = CASE WHEN @setNotes THEN @notes ELSE notes END,
         color = CASE WHEN @setColor THEN @color ELSE color END,
         revision = @revision
       WHERE seq = @seq`,
    ).run({
      setName: edit.name === undefined ? 0 : 1,
      name: edit.name ?? null,
      setTags: edit.tags === undefined ? 0 : 1,
      tags: JSON.stringify(edit.tags ?? []),
      setNotes: edit.notes === undefined ? 0 : 1,
      notes: edit.notes ?? null,
      setColor: edit.color === undefined ? 0 : 1,
      color: edit.color ?? null,
      revision: nextRevision(db),
      seq: found.seq,
    });
    return true;
  });
}

/**
 * Deleting the run that holds the highest revision would let the next change
 * reuse that number, and live readers that already saw it would miss the
 * change. So the highest surviving run takes over the old maximum (a number
 * readers have already passed, so they see no spurious update).
 */
function keepRevisionHigh(db: Db, previousMax: number): void {
  if (maxRevision(db) >= previousMax) return;
  stmt(db, "UPDATE runs SET revision = ? WHERE seq = (SELECT seq FROM runs ORDER BY revision DESC LIMIT 1)").run(
    previousMax,
  );
}

/** Deletes runs (and their points) by id. Returns how many existed. */
export function deleteRuns(db: Db, runIds: readonly string[]): number {
  if (runIds.length === 0) return 0;
  return runImmediate(db, () => {
    const before = maxRevision(db);
    const removed = stmt(db, `DELETE FROM runs WHERE id IN ${jsonArrayValues(db, "?", "text")}`).run(
      JSON.stringify(runIds),
    ).changes;
    keepRevisionHigh(db, before);
    return removed;
  });
}

/** Deletes an experiment with its runs. Returns the number of runs deleted, or null when it does not exist. */
export function deleteExperiment(db: Db, experimentId: string): number | null {
  return runImmediate(db, () => {
    const before = maxRevision(db);
    const runs = (stmt(db, "SELECT count(*) AS n FROM runs WHERE experiment_id = ?").get(experimentId) as { n: number })
      .n;
    const removed = stmt(db, "DELETE FROM experiments WHERE id = ?").run(experimentId).changes;
    if (removed === 0) return null;
    keepRevisionHigh(db, before);
    return runs;
  });
}

/** Experiments without any run left (after a clean-up). */
export function deleteEmptyExperiments(db: Db): number {
  return runImmediate(
    db,
    () =>
      stmt(
        db,
        "DELETE FROM experiments WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.experiment_id = experiments.id)",
      ).run().changes,
  );
}

/** Runs a clean-up would delete, oldest first. The casts give PostgreSQL the type of a parameter that may be NULL. */
export function findGcCandidates(db: Db, criteria: GcCriteria): GcCandidate[] {
  return stmt(
    db,
    `SELECT r.id, (SELECT COALESCE(SUM(s.count), 0) FROM series s WHERE s.run_seq = r.seq) AS points
     FROM runs r
     WHERE (CAST(@before AS DOUBLE PRECISION) IS NULL OR r.created_at < @before)
       AND (CAST(@statuses AS TEXT) IS NULL OR r.status IN ${jsonArrayValues(db, "@statuses", "text")})
       AND (CAST(@staleBefore AS DOUBLE PRECISION) IS NULL OR r.status <> 'running' OR COALESCE(r.last_heartbeat, r.created_at) < @staleBefore)
     ORDER BY r.created_at, r.seq`,
  ).all({
    before: criteria.createdBefore ?? null,
    statuses: criteria.statuses === undefined ? null : JSON.stringify(criteria.statuses),
    staleBefore: criteria.staleBefore ?? null,
  }) as GcCandidate[];
}

/**
 * Gives freed pages back to the file system: folds the WAL into the file, then
 * rebuilds it. On PostgreSQL, autovacuum already reuses freed space; a plain
 * VACUUM (no lock on readers or writers) makes it reusable now.
 */
export function compact(db: Db): void {
  if (db.driver === "postgres") {
    db.exec("VACUUM");
    return;
  }
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.exec("VACUUM");
  db.pragma("wal_checkpoint(TRUNCATE)");
}

export function databaseCounts(db: Db): DatabaseCounts {
  return runRead(db, () => {
    const count = (sql: string) => (stmt(db, sql).get() as { n: number | null }).n ?? 0;
    const runsByStatus: Record<RunStatus, number> = { running: 0, completed: 0, failed: 0, interrupted: 0 };
    for (const row of stmt(db, "SELECT status, count(*) AS n FROM runs GROUP BY status").all() as {
      status: RunStatus;
      n: number;
    }[]) {
      runsByStatus[row.status] = row.n;
    }
    return {
      experiments: count("SELECT count(*) AS n FROM experiments"),
      runs: count("SELECT count(*) AS n FROM runs"),
      runsByStatus,
      series: count("SELECT count(*) AS n FROM series"),
      points: count("SELECT SUM(count) AS n FROM series"),
      metricKeys: count("SELECT count(*) AS n FROM metric_keys"),
      ...fileFacts(db),
    };
  });
}

/** Bytes a PostgreSQL database takes on its server; null for SQLite, whose files the caller can measure. */
export function serverDatabaseBytes(db: Db): number | null {
  if (db.driver !== "postgres") return null;
  return stmt(db, "SELECT pg_database_size(current_database())", "values").get() as number;
}

/**
 * Schema version and page facts. PostgreSQL: the version of its own
 * migrations (migrations-pg), its block size, and no free-page count (0).
 */
function fileFacts(db: Db): Pick<DatabaseCounts, "schemaVersion" | "pageSize" | "freePages"> {
  if (db.driver === "postgres") {
    const blockSize = Number(stmt(db, "SELECT current_setting('block_size')", "values").get());
    return { schemaVersion: storedPgVersion(db as PgDb) || pgSchemaVersion(), pageSize: blockSize, freePages: 0 };
  }
  return {
    schemaVersion: db.pragma("user_version", { simple: true }) as number,
    pageSize: db.pragma("page_size", { simple: true }) as number,
    freePages: db.pragma("freelist_count", { simple: true }) as number,
  };
}

/** Run ids starting with a prefix (for people typing short ids), at most `limit`. */
export function runIdsWithPrefix(db: Db, prefix: string, limit: number): string[] {
  // Range scan on the unique id index; no LIKE, so % and _ in input stay literal.
  const rows = stmt(db, "SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?").all(
    prefix,
    `${prefix}\uffff`,
    limit,
  ) as { id: string }[];
  return rows.map((r) => r.id);
}
