/**
 * What changed since a cursor: the reads behind the change feed
 * (src/query/change-feed.ts). Two monotonic counters find everything new
 * without rescanning: runs.revision (bumped by every change to a run row but
 * a heartbeat) and chunks.id (AUTOINCREMENT; a chunk rewritten with appended
 * points is inserted again under a new id).
 */
import { type Db, stmt } from "./connection.js";
import { jsonArrayValues } from "./dialect.js";
import { RUN_COLUMNS, type RunRow, runRowsWhere } from "./reads.js";

/**
 * Changes whenever another connection commits to the file (any process).
 * Cheap enough to poll several times a second. On PostgreSQL: the position
 * the write-ahead log is inserted at, which moves with every commit (and with
 * other writes to the cluster: a poller then reads and finds nothing new).
 */
export function dataVersion(db: Db): number {
  if (db.driver === "postgres") {
    return Number(stmt(db, "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn", "values").get());
  }
  return db.pragma("data_version", { simple: true }) as number;
}

export interface ChangeHead {
  /** Highest chunk id ever assigned (never decreases, even when chunks are deleted). */
  chunkId: number;
  /** Highest run revision currently stored. */
  revision: number;
  /** Number of run rows. */
  runCount: number;
}

/**
 * SQLite's sqlite_sequence is transactional; a PostgreSQL sequence is not (it
 * shows ids of chunks not yet committed), so there the head is the highest
 * stored chunk id, and the feed never moves its cursor back (change-feed.ts).
 */
const CHUNK_HEAD_SQL = {
  sqlite: "SELECT seq FROM sqlite_sequence WHERE name = 'chunks'",
  postgres: "SELECT MAX(id) AS seq FROM chunks",
};

export function changeHead(db: Db): ChangeHead {
  const chunk = stmt(db, db.driver === "postgres" ? CHUNK_HEAD_SQL.postgres : CHUNK_HEAD_SQL.sqlite).get() as
    | { seq: number | null }
    | undefined;
  const runs = stmt(db, "SELECT COALESCE(MAX(revision), 0) AS revision, count(*) AS n FROM runs").get() as {
    revision: number;
    n: number;
  };
  return { chunkId: chunk?.seq ?? 0, revision: runs.revision, runCount: runs.n };
}

/** Run rows with revision in (after, upTo], in revision order. */
export function runRowsInRevisionRange(db: Db, after: number, upTo: number): RunRow[] {
  return runRowsWhere(
    db,
    `SELECT ${RUN_COLUMNS} FROM runs WHERE revision > ? AND revision <= ? ORDER BY revision`,
    after,
    upTo,
  );
}

/** Run rows by seq (any order). */
export function runRowsBySeq(db: Db, runSeqs: readonly number[]): RunRow[] {
  if (runSeqs.length === 0) return [];
  return runRowsWhere(
    db,
    `SELECT ${RUN_COLUMNS} FROM runs WHERE seq IN ${jsonArrayValues(db, "?", "bigint")}`,
    JSON.stringify(runSeqs),
  );
}

/** Identity of every run row, to notice deletions. */
export function runIdentities(db: Db): [seq: number, id: string, experimentId: string][] {
  return stmt(db, "SELECT seq, id, experiment_id FROM runs", "arrays").all() as [number, string, string][];
}

/** Runs whose stored status is running, with when they last showed life. */
export function runningRuns(db: Db): [seq: number, lastAlive: number][] {
  return stmt(
    db,
    "SELECT seq, COALESCE(last_heartbeat, created_at) FROM runs WHERE status = 'running'",
    "arrays",
  ).all() as [number, number][];
}

/** Current heartbeat of the given runs (heartbeats do not change a run's revision). */
export function heartbeatsOf(db: Db, runSeqs: readonly number[]): [seq: number, lastHeartbeat: number | null][] {
  if (runSeqs.length === 0) return [];
  return stmt(
    db,
    `SELECT seq, last_heartbeat FROM runs WHERE seq IN ${jsonArrayValues(db, "?", "bigint")}`,
    "arrays",
  ).all(JSON.stringify(runSeqs)) as [number, number | null][];
}

/** Point count of every series. */
export function seriesCounts(db: Db): [seriesId: number, count: number][] {
  return stmt(db, "SELECT id, count FROM series", "arrays").all() as [number, number][];
}

/** Points stored in chunks with id in (after, upTo]: an upper bound on what changed. */
export function pointsInChunkRange(db: Db, after: number, upTo: number): number {
  const row = stmt(db, "SELECT COALESCE(SUM(count), 0) AS n FROM chunks WHERE id > ? AND id <= ?").get(after, upTo) as {
    n: number;
  };
  return row.n;
}

/** A series with chunks written in (after, upTo]: the index span those chunks cover, and whose series it is. */
export interface ChangedSeries {
  series_id: number;
  run_seq: number;
  run_id: string;
  experiment_id: string;
  key: string;
  last_heartbeat: number | null;
  start_index: number;
  end_index: number;
}

/** Every series with chunks written in (after, upTo], by series id. */
export function changedSeries(db: Db, after: number, upTo: number): ChangedSeries[] {
  return stmt(
    db,
    `SELECT c.series_id, s.run_seq, r.id AS run_id, r.experiment_id, k.key, r.last_heartbeat,
       MIN(c.start_index) AS start_index, MAX(c.start_index + c.count) AS end_index
     FROM chunks c JOIN series s ON s.id = c.series_id JOIN metric_keys k ON k.id = s.key_id
       JOIN runs r ON r.seq = s.run_seq
     WHERE c.id > ? AND c.id <= ?
     GROUP BY c.series_id, s.id, k.id, r.seq`,
  ).all(after, upTo) as ChangedSeries[];
}

/** A chunk written after the cursor, with what identifies its series. */
export interface ChangedChunk {
  id: number;
  series_id: number;
  start_index: number;
  count: number;
  steps: Uint8Array;
  vals: Uint8Array;
  times: Uint8Array;
  key: string;
  run_seq: number;
  run_id: string;
  experiment_id: string;
  last_heartbeat: number | null;
}

/** Chunks with id in (after, upTo], grouped by series and in series order. */
export function chunksInRange(db: Db, after: number, upTo: number): ChangedChunk[] {
  return stmt(
    db,
    `SELECT c.id, c.series_id, c.start_index, c.count, c.steps, c.vals, c.times,
       k.key, s.run_seq, r.id AS run_id, r.experiment_id, r.last_heartbeat
     FROM chunks c JOIN series s ON s.id = c.series_id JOIN metric_keys k ON k.id = s.key_id
       JOIN runs r ON r.seq = s.run_seq
     WHERE c.id > ? AND c.id <= ?
     ORDER BY c.series_id, c.start_index`,
  ).all(after, upTo) as ChangedChunk[];
}
