/**
 * Reads behind the run table: an experiment's run rows and the metric
 * summaries (last, min, max) of their series, in full or only what changed
 * after a revision / chunk cursor (see src/store/changes.ts). Filtering and
 * sorting happen in src/query/run-list.ts.
 *
 * Rows come back as arrays (better-sqlite3's raw mode) and are turned into
 * objects here: for 10,000 rows that is several times faster than letting
 * the driver build an object with every column name for each row.
 */
import { type Db, stmt } from "./connection.js";
import type { RunRow } from "./reads.js";

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

const RUN_COLUMNS =
  "seq, id, experiment_id, name, status, config, tags, group_name, job_type, notes, color, created_at, ended_at, " +
  "last_heartbeat, host, pid, command, cwd, git_commit, git_dirty, sdk_language, sdk_version, revision";

type RawRun = [
  number,
  string,
  string,
  string | null,
  RunRow["status"],
  string,
  string,
  string | null,
  string | null,
  string | null,
  string | null,
  number,
  number | null,
  number | null,
  string | null,
  number | null,
  string | null,
  string | null,
  string | null,
  number | null,
  string | null,
  string | null,
  number,
];

function toRunRow(r: RawRun): RunRow {
  return {
    seq: r[0],
    id: r[1],
    experiment_id: r[2],
    name: r[3],
    status: r[4],
    config: r[5],
    tags: r[6],
    group_name: r[7],
    job_type: r[8],
    notes: r[9],
    color: r[10],
    created_at: r[11],
    ended_at: r[12],
    last_heartbeat: r[13],
    host: r[14],
    pid: r[15],
    command: r[16],
    cwd: r[17],
    git_commit: r[18],
    git_dirty: r[19],
    sdk_language: r[20],
    sdk_version: r[21],
    revision: r[22],
  };
}

function rawRuns(db: Db, sql: string, ...params: unknown[]): RunRow[] {
  return (
    stmt(db, sql)
      .raw(true)
      .all(...params) as RawRun[]
  ).map(toRunRow);
}

/** Every run row of an experiment, newest first. */
export function experimentRunRows(db: Db, experimentId: string): RunRow[] {
  return rawRuns(
    db,
    `SELECT ${RUN_COLUMNS} FROM runs WHERE experiment_id = ? ORDER BY created_at DESC, seq DESC`,
    experimentId,
  );
}

/** Run rows by seq (any order). */
export function runRowsBySeq(db: Db, runSeqs: readonly number[]): RunRow[] {
  if (runSeqs.length === 0) return [];
  return rawRuns(
    db,
    `SELECT ${RUN_COLUMNS} FROM runs WHERE seq IN (SELECT value FROM json_each(?))`,
    JSON.stringify(runSeqs),
  );
}

/** Runs of an experiment whose row changed with a revision in (after, upTo]. */
export function experimentRunsChangedSince(db: Db, experimentId: string, after: number, upTo: number): RunRow[] {
  return rawRuns(
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
