/**
 * Reads behind the run table: an experiment's run rows and the metric
 * summaries (last, min, max) of their series, in full or only what changed
 * after a revision / chunk cursor (see src/store/changes.ts). Filtering and
 * sorting happen in src/query/run-list.ts.
 */
import { type Db, stmt } from "./connection.js";
import { RUN_COLUMNS, type RunRow, runRowsWhere } from "./reads.js";

/**
 * Gives a long-lived reading connection (the server's) a page cache of this
 * size instead of SQLite's 2 MB default, so an experiment's run rows, spread
 * over the file between chunk pages, stay in memory between requests.
 */
export function enlargePageCache(db: Db, mebibytes: number): void {
  db.pragma(`cache_size = ${-Math.round(mebibytes * 1024)}`);
}

/** Summary of one metric of one run, straight from the series row. */
export interface SummaryRow {
  run_seq: number;
  key: string;
  count: number;
  last_value: number | null;
  min_value: number | null;
  max_value: number | null;
  last_step: number | null;
}

/** Run rows by seq (any order). */
export function runRowsBySeq(db: Db, runSeqs: readonly number[]): RunRow[] {
  if (runSeqs.length === 0) return [];
  return runRowsWhere(
    db,
    `SELECT ${RUN_COLUMNS} FROM runs WHERE seq IN (SELECT value FROM json_each(?))`,
    JSON.stringify(runSeqs),
  );
}

/** Runs of an experiment whose row changed with a revision in (after, upTo]. */
export function experimentRunsChangedSince(db: Db, experimentId: string, after: number, upTo: number): RunRow[] {
  return runRowsWhere(
    db,
    `SELECT ${RUN_COLUMNS} FROM runs WHERE revision > ? AND revision <= ? AND experiment_id = ?`,
    after,
    upTo,
    experimentId,
  );
}

/** Seqs of every run of an experiment (from the index alone). */
export function experimentRunSeqs(db: Db, experimentId: string): number[] {
  return stmt(db, "SELECT seq FROM runs WHERE experiment_id = ?").pluck(true).all(experimentId) as number[];
}

export function experimentRunCount(db: Db, experimentId: string): number {
  return stmt(db, "SELECT count(*) FROM runs WHERE experiment_id = ?").pluck(true).get(experimentId) as number;
}

/** Runs of an experiment with chunks written with id in (after, upTo]: their summaries changed. */
export function experimentRunsWithNewPoints(db: Db, experimentId: string, after: number, upTo: number): number[] {
  return stmt(
    db,
    `SELECT DISTINCT s.run_seq FROM chunks c JOIN series s ON s.id = c.series_id JOIN runs r ON r.seq = s.run_seq
     WHERE c.id > ? AND c.id <= ? AND r.experiment_id = ?`,
  )
    .pluck(true)
    .all(after, upTo, experimentId) as number[];
}

/** Number of chunks with id in (after, upTo]. */
export function chunkCountInRange(db: Db, after: number, upTo: number): number {
  return stmt(db, "SELECT count(*) FROM chunks WHERE id > ? AND id <= ?").pluck(true).get(after, upTo) as number;
}

/** Current heartbeat of the given runs (heartbeats do not change a run's revision). */
export function heartbeatsOf(db: Db, runSeqs: readonly number[]): [seq: number, lastHeartbeat: number | null][] {
  if (runSeqs.length === 0) return [];
  return stmt(db, "SELECT seq, last_heartbeat FROM runs WHERE seq IN (SELECT value FROM json_each(?))")
    .raw(true)
    .all(JSON.stringify(runSeqs)) as [number, number | null][];
}

type RawSummary = [number, string, number, number | null, number | null, number | null, number | null];

function toSummaryRows(rows: RawSummary[]): SummaryRow[] {
  return rows.map((r) => ({
    run_seq: r[0],
    key: r[1],
    count: r[2],
    last_value: r[3],
    min_value: r[4],
    max_value: r[5],
    last_step: r[6],
  }));
}

/** Summaries of every metric of the given runs (by seq). */
export function summariesOfRuns(db: Db, runSeqs: readonly number[]): SummaryRow[] {
  if (runSeqs.length === 0) return [];
  const rows = stmt(
    db,
    `SELECT s.run_seq, k.key, s.count, s.last_value, s.min_value, s.max_value, s.last_step
     FROM series s JOIN metric_keys k ON k.id = s.key_id
     WHERE s.run_seq IN (SELECT value FROM json_each(?)) AND s.count > 0`,
  )
    .raw(true)
    .all(JSON.stringify(runSeqs)) as RawSummary[];
  return toSummaryRows(rows);
}

/** Summaries of every metric of every run of an experiment. */
export function summariesOfExperiment(db: Db, experimentId: string): SummaryRow[] {
  const rows = stmt(
    db,
    `SELECT s.run_seq, k.key, s.count, s.last_value, s.min_value, s.max_value, s.last_step
     FROM runs r JOIN series s ON s.run_seq = r.seq JOIN metric_keys k ON k.id = s.key_id
     WHERE r.experiment_id = ? AND s.count > 0`,
  )
    .raw(true)
    .all(experimentId) as RawSummary[];
  return toSummaryRows(rows);
}
