/**
 * What a shipper (src/sync/shipper.ts) reads from a stonks file to send it to a
 * server: each run with its experiment and project, the point count of each of
 * its series, and points from an index on.
 */
import { type Db, runImmediate, runRead, stmt } from "./connection.js";
import { RUN_COLUMNS, type RunRow, runRowsWhere } from "./reads.js";

export { type PointArrays, readIndexRange } from "./reads.js";

export interface ShippableRun {
  row: RunRow;
  experiment: string;
  project: string | null;
}

export interface SeriesCount {
  seriesId: number;
  key: string;
  count: number;
}

/** Every run of the file, oldest first, with the names the server creates them under. */
export function shippableRuns(db: Db): ShippableRun[] {
  return runRead(db, () => {
    const rows = runRowsWhere(db, `SELECT ${RUN_COLUMNS} FROM runs ORDER BY seq`);
    const names = stmt(
      db,
      "SELECT e.id AS id, e.name AS name, p.name AS project FROM experiments e LEFT JOIN projects p ON p.id = e.project_id",
    ).all() as { id: string; name: string; project: string | null }[];
    const byId = new Map(names.map((n) => [n.id, n]));
    return rows.map((row) => {
      const experiment = byId.get(row.experiment_id);
      return { row, experiment: experiment?.name ?? "default", project: experiment?.project ?? null };
    });
  });
}

/** The run's row as it is now (null once deleted). */
export function shippableRun(db: Db, runId: string): RunRow | null {
  return runRowsWhere(db, `SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`, runId)[0] ?? null;
}

/** Point counts of the run's series. */
export function seriesCountsOfRun(db: Db, runSeq: number): SeriesCount[] {
  const rows = stmt(
    db,
    "SELECT s.id AS seriesId, k.key AS key, s.count AS count FROM series s JOIN metric_keys k ON k.id = s.key_id WHERE s.run_seq = ? ORDER BY s.id",
  ).all(runSeq) as { seriesId: number; key: string; count: number }[];
  return rows.map((r) => ({ seriesId: r.seriesId, key: r.key, count: r.count }));
}

/**
 * Removes a finished run that the server holds entirely, unless it changed
 * (a resume took it back to running) since the shipper read it.
 */
export function deleteShippedRun(db: Db, runId: string, revision: number): boolean {
  return runImmediate(db, () => {
    const removed = stmt(db, "DELETE FROM runs WHERE id = ? AND revision = ? AND status != 'running'").run(
      runId,
      revision,
    ).changes;
    return removed > 0;
  });
}
