/**
 * What a shipper (src/sync/shipper.ts) reads from a stonks file to send it to a
 * server: each run with its experiment and project, the point count of each of
 * its series, and points from an index on.
 */

import type { Config, Provenance, RunStatus } from "../types.js";
import { type Db, runImmediate, runRead, stmt } from "./connection.js";
import { RUN_COLUMNS, type RunRow, runRowsWhere } from "./reads.js";
import { appendPoints, ensureSeries, insertRun } from "./writes.js";

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

/** A run as a server holds it, brought into a spool so a resume continues it there (docs/remote.md). */
export interface ServerRun {
  id: string;
  experiment: string;
  name: string | null;
  config: Config;
  tags: string[];
  group: string | null;
  jobType: string | null;
  notes: string | null;
  color: string | null;
  status: RunStatus;
  createdAt: number;
  endedAt: number | null;
  lastHeartbeat: number | null;
  provenance: Provenance;
  /** Every point of each series, in the server's order. */
  series: { key: string; steps: Float64Array; values: Float64Array; times: Float64Array }[];
}

/** Writes a server's run with its points into the file, unless the file has a run of that id already. */
export function importServerRun(db: Db, run: ServerRun): void {
  runImmediate(db, () => {
    if (shippableRun(db, run.id) !== null) return;
    const started = insertRun(db, {
      experimentName: run.experiment,
      name: run.name,
      config: run.config,
      tags: run.tags,
      group: run.group,
      jobType: run.jobType,
      notes: run.notes,
      now: run.createdAt,
      provenance: run.provenance,
      runId: run.id,
      project: null,
    });
    stmt(db, "UPDATE runs SET status = ?, ended_at = ?, last_heartbeat = ?, color = ? WHERE seq = ?").run(
      run.status,
      run.endedAt,
      run.lastHeartbeat,
      run.color,
      started.seq,
    );
    for (const series of run.series) {
      appendPoints(db, ensureSeries(db, started.seq, series.key), series.steps, series.values, series.times);
    }
  });
}
