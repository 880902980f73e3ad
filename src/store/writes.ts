import { randomUUID } from "node:crypto";
import { NotFoundError, StonksError } from "../errors.js";
import type { Config, FinishStatus, Provenance } from "../types.js";
import { decodeFloats, encodeFloats } from "./codec.js";
import { type Db, type Statement, stmt } from "./connection.js";
import { ensureProject } from "./projects.js";
import { coarsen, mergeRollup, ROLLUP_LEVELS, type RollupRow, rollupPoints } from "./rollup.js";

/** Most points one chunk row holds. */
export const CHUNK_POINTS = 1024;

export interface NewRun {
  experimentName: string;
  name: string | null;
  config: Config;
  tags: string[];
  group: string | null;
  jobType: string | null;
  notes: string | null;
  now: number;
  provenance: Provenance;
  /** The id a new run gets; absent or null: a random UUID. */
  runId?: string | null;
  /** The project a new experiment is linked to (created by name on first use). */
  project?: string | null;
}

/**
 * Which run a start opens. target null: a new run; "latest": the experiment's
 * newest run; else the run of that id, which must belong to the experiment
 * unless anyExperiment. A missing run is created (with the id asked for, for
 * an id target), except with must, which throws NotFoundError.
 */
export interface ResumeTarget {
  target: string | null;
  anyExperiment: boolean;
  must: boolean;
}

export interface StartedRun {
  id: string;
  seq: number;
  experimentId: string;
  /** Last step logged before (for resumed runs), else null. */
  lastStep: number | null;
  /** True for a new run, false for a resumed one. */
  created: boolean;
  /** The run's fields as stored after the start (a resume merges config and tags, keeps unset fields). */
  name: string | null;
  config: Config;
  tags: string[];
  group: string | null;
  jobType: string | null;
  notes: string | null;
  /** Name of the experiment's project, or null. */
  project: string | null;
}

/** The highest revision of any run (0 for none). */
export function maxRevision(db: Db): number {
  return (stmt(db, "SELECT COALESCE(MAX(revision), 0) AS r FROM runs").get() as { r: number }).r;
}

/** Every change to a run's row (but a heartbeat) takes the next revision, so readers can ask what changed since. */
export function nextRevision(db: Db): number {
  return maxRevision(db) + 1;
}

/**
 * The id of the experiment called name. One created here is linked to
 * project; an existing one keeps the project it has (none included).
 */
export function ensureExperiment(db: Db, name: string, now: number, project: string | null = null): string {
  const found = stmt(db, "SELECT id FROM experiments WHERE name = ?").get(name) as { id: string } | undefined;
  if (found) return found.id;
  const id = randomUUID();
  const projectId = project === null ? null : ensureProject(db, project, now);
  stmt(db, "INSERT INTO experiments (id, name, description, created_at, project_id) VALUES (?, ?, NULL, ?, ?)").run(
    id,
    name,
    now,
    projectId,
  );
  return id;
}

function projectOf(db: Db, experimentId: string): string | null {
  const row = stmt(
    db,
    "SELECT p.name AS name FROM experiments e JOIN projects p ON p.id = e.project_id WHERE e.id = ?",
  ).get(experimentId) as { name: string } | undefined;
  return row?.name ?? null;
}

/** Creates the run, or reopens the one resume names. Call inside a write transaction. */
export function startRunRow(db: Db, resume: ResumeTarget, run: NewRun): StartedRun {
  return resume.target === null ? insertRun(db, run) : resumeRun(db, run.experimentName, resume, run);
}

/**
 * A new run's palette index (docs/schema.md, runs.color_index): the lowest of
 * 0..13 that none of the experiment's 13 newest runs uses, so any 14 runs
 * created one after another in an experiment get 14 different colours. Runs
 * from before the column count with their old colour, seq mod 14. Python's
 * insert_run has the same expression: both SDKs must choose alike.
 */
export const COLOR_INDEX_SQL = `(WITH RECURSIVE palette(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM palette WHERE i < 13)
  SELECT min(i) FROM palette WHERE i NOT IN (
    SELECT coalesce(color_index, seq % 14) FROM runs WHERE experiment_id = ? ORDER BY seq DESC LIMIT 13))`;

/** Creates a run in status running. Call inside a write transaction. */
export function insertRun(db: Db, run: NewRun): StartedRun {
  const wanted = run.runId ?? null;
  if (wanted !== null && stmt(db, "SELECT 1 AS found FROM runs WHERE id = ?").get(wanted) !== undefined) {
    throw new StonksError(`A run with id "${wanted}" already exists; pass resume: true to continue it, or another id.`);
  }
  const experimentId = ensureExperiment(db, run.experimentName, run.now, run.project ?? null);
  const id = wanted ?? randomUUID();
  const p = run.provenance;
  const seq = stmt(
    db,
    `INSERT INTO runs (id, experiment_id, name, status, config, tags, group_name, job_type, notes,
         created_at, last_heartbeat, host, pid, command, cwd, git_commit, git_dirty, sdk_language, sdk_version, revision,
         color_index)
       VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${COLOR_INDEX_SQL})
       RETURNING seq`,
    "values",
  ).get(
    id,
    experimentId,
    run.name,
    JSON.stringify(run.config),
    JSON.stringify(run.tags),
    run.group,
    run.jobType,
    run.notes,
    run.now,
    run.now,
    p.host,
    p.pid,
    p.command,
    p.cwd,
    p.gitCommit,
    p.gitDirty === null ? null : p.gitDirty ? 1 : 0,
    p.sdkLanguage,
    p.sdkVersion,
    nextRevision(db),
    experimentId,
  );
  return {
    id,
    seq: Number(seq),
    experimentId,
    lastStep: null,
    created: true,
    name: run.name,
    config: run.config,
    tags: run.tags,
    group: run.group,
    jobType: run.jobType,
    notes: run.notes,
    project: projectOf(db, experimentId),
  };
}

/**
 * Reopens an existing run ("latest" of the experiment, or a run id) for more
 * logging: status back to running, steps continue after the last one.
 */
export function resumeRun(db: Db, experimentName: string, resume: ResumeTarget, run: NewRun): StartedRun {
  const target = resume.target ?? "latest";
  const experiment = stmt(db, "SELECT id FROM experiments WHERE name = ?").get(experimentName) as
    | { id: string }
    | undefined;
  const columns = "SELECT seq, id, experiment_id, config, tags, name, group_name, job_type, notes FROM runs";
  type Row = {
    seq: number;
    id: string;
    experiment_id: string;
    config: string;
    tags: string;
    name: string | null;
    group_name: string | null;
    job_type: string | null;
    notes: string | null;
  };
  let row: Row | undefined;
  if (target === "latest") {
    if (experiment) {
      row = stmt(db, `${columns} WHERE experiment_id = ? ORDER BY created_at DESC, seq DESC LIMIT 1`).get(
        experiment.id,
      ) as Row | undefined;
    }
    if (!row) {
      if (resume.must) {
        throw new NotFoundError(
          `Cannot resume the latest run of "${experimentName}": not found (the experiment has no run) and resume is "must".`,
        );
      }
      return insertRun(db, run);
    }
  } else {
    row = stmt(db, `${columns} WHERE id = ?`).get(target) as Row | undefined;
    if (!row) {
      if (resume.anyExperiment && !resume.must) return insertRun(db, run);
      throw new NotFoundError(
        resume.must
          ? `Cannot resume run ${target}: not found and resume is "must".`
          : `Cannot resume run ${target}: no such run. Pass an existing run id or "latest".`,
      );
    }
    if (!resume.anyExperiment && (!experiment || row.experiment_id !== experiment.id)) {
      throw new StonksError(`Cannot resume run ${target}: it belongs to another experiment than "${experimentName}".`);
    }
  }
  const config = { ...(JSON.parse(row.config) as Config), ...run.config };
  const tags = [...new Set([...(JSON.parse(row.tags) as string[]), ...run.tags])];
  stmt(
    db,
    `UPDATE runs SET status = 'running', ended_at = NULL, last_heartbeat = ?, config = ?, tags = ?,
       name = COALESCE(?, name), group_name = COALESCE(?, group_name), job_type = COALESCE(?, job_type),
       notes = COALESCE(?, notes), pid = ?, host = ?, command = ?, revision = ? WHERE seq = ?`,
  ).run(
    run.now,
    JSON.stringify(config),
    JSON.stringify(tags),
    run.name,
    run.group,
    run.jobType,
    run.notes,
    run.provenance.pid,
    run.provenance.host,
    run.provenance.command,
    nextRevision(db),
    row.seq,
  );
  const last = stmt(db, "SELECT MAX(last_step) AS s FROM series WHERE run_seq = ?").get(row.seq) as {
    s: number | null;
  };
  return {
    id: row.id,
    seq: row.seq,
    experimentId: row.experiment_id,
    lastStep: last.s,
    created: false,
    name: run.name ?? row.name,
    config,
    tags,
    group: run.group ?? row.group_name,
    jobType: run.jobType ?? row.job_type,
    notes: run.notes ?? row.notes,
    project: projectOf(db, row.experiment_id),
  };
}

export function finishRun(db: Db, runSeq: number, status: FinishStatus, now: number): void {
  stmt(db, "UPDATE runs SET status = ?, ended_at = ?, last_heartbeat = ?, revision = ? WHERE seq = ?").run(
    status,
    now,
    now,
    nextRevision(db),
    runSeq,
  );
}

export function mergeRunConfig(db: Db, runSeq: number, patch: Config): void {
  const row = stmt(db, "SELECT config FROM runs WHERE seq = ?").get(runSeq) as { config: string } | undefined;
  if (!row) return;
  const merged = { ...(JSON.parse(row.config) as Config), ...patch };
  stmt(db, "UPDATE runs SET config = ?, revision = ? WHERE seq = ?").run(
    JSON.stringify(merged),
    nextRevision(db),
    runSeq,
  );
}

/** Records the git commit and dirty flag, found after the run started: a change of the run's row like any other. */
/** Replaces the run's tags or notes (null clears the notes). */
export function setRunTagsOrNotes(
  db: Db,
  runSeq: number,
  change: { field: "tags"; tags: string[] } | { field: "notes"; notes: string | null },
): void {
  if (change.field === "tags") {
    stmt(db, "UPDATE runs SET tags = ?, revision = ? WHERE seq = ?").run(
      JSON.stringify(change.tags),
      nextRevision(db),
      runSeq,
    );
  } else {
    stmt(db, "UPDATE runs SET notes = ?, revision = ? WHERE seq = ?").run(change.notes, nextRevision(db), runSeq);
  }
}

export function updateGitProvenance(db: Db, runSeq: number, commit: string | null, dirty: boolean | null): void {
  stmt(db, "UPDATE runs SET git_commit = ?, git_dirty = ?, revision = ? WHERE seq = ?").run(
    commit,
    dirty === null ? null : dirty ? 1 : 0,
    nextRevision(db),
    runSeq,
  );
}

export function touchHeartbeat(db: Db, runSeq: number, now: number): void {
  stmt(db, "UPDATE runs SET last_heartbeat = ? WHERE seq = ? AND status = 'running'").run(now, runSeq);
}

export function runExists(db: Db, runSeq: number): boolean {
  return stmt(db, "SELECT 1 FROM runs WHERE seq = ?").get(runSeq) !== undefined;
}

/**
 * Returns the series id of (run, key), creating the key and series on first
 * use. Looked up before inserting: a PostgreSQL insert that conflicts still
 * uses up an id, and ids must follow the same sequence on both backends.
 */
export function ensureSeries(db: Db, runSeq: number, key: string): number {
  const keySql = "SELECT id FROM metric_keys WHERE key = ?";
  let keyId = stmt(db, keySql, "values").get(key) as number | undefined;
  if (keyId === undefined) {
    stmt(db, "INSERT INTO metric_keys (key) VALUES (?) ON CONFLICT (key) DO NOTHING").run(key);
    keyId = stmt(db, keySql, "values").get(key) as number;
  }
  const seriesSql = "SELECT id FROM series WHERE run_seq = ? AND key_id = ?";
  const found = stmt(db, seriesSql, "values").get(runSeq, keyId) as number | undefined;
  if (found !== undefined) return found;
  stmt(db, "INSERT INTO series (run_seq, key_id) VALUES (?, ?) ON CONFLICT (run_seq, key_id) DO NOTHING").run(
    runSeq,
    keyId,
  );
  return stmt(db, seriesSql, "values").get(runSeq, keyId) as number;
}

interface SeriesState {
  count: number;
  monotonic: number;
  last_step: number | null;
  min_value: number | null;
  max_value: number | null;
}

interface TailChunk {
  id: number;
  start_index: number;
  count: number;
  steps: Uint8Array;
  vals: Uint8Array;
  times: Uint8Array;
}

function concat(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function rollupParams(seriesId: number, level: number, row: RollupRow): unknown[] {
  return [
    seriesId,
    level,
    row.bucket,
    row.count,
    row.firstStep,
    row.lastStep,
    row.minValue,
    row.minStep,
    row.minTime,
    row.maxValue,
    row.maxStep,
    row.maxTime,
    row.valueSum,
    row.stepSum,
  ];
}

interface RollupDbRow {
  bucket: number;
  count: number;
  first_step: number;
  last_step: number;
  min_value: number;
  min_step: number;
  min_time: number;
  max_value: number;
  max_step: number;
  max_time: number;
  value_sum: number | null;
  step_sum: number | null;
}

const CHUNK_INSERT =
  "INSERT INTO chunks (series_id, start_index, count, first_step, last_step, steps, vals, times) VALUES";
const ROLLUP_UPSERT = ` ON CONFLICT (series_id, level, bucket) DO UPDATE SET count = excluded.count,
    first_step = excluded.first_step, last_step = excluded.last_step, min_value = excluded.min_value,
    min_step = excluded.min_step, min_time = excluded.min_time, max_value = excluded.max_value,
    max_step = excluded.max_step, max_time = excluded.max_time, value_sum = excluded.value_sum,
    step_sum = excluded.step_sum`;
/** Rows one PostgreSQL INSERT carries at most (bench/pg_ingest_path.mjs). */
const PG_ROWS_PER_INSERT = 64;

/**
 * Writes rows of one INSERT: on SQLite one prepared single-row statement per
 * row (a call into SQLite costs little); on PostgreSQL, where each statement
 * is a round trip to the server, up to PG_ROWS_PER_INSERT rows per statement.
 */
class RowWriter {
  private readonly pending: unknown[][] = [];
  private readonly batch: number;
  private readonly single: Statement;

  constructor(
    private readonly db: Db,
    private readonly insert: string,
    private readonly columns: number,
    private readonly suffix: string,
  ) {
    this.batch = db.driver === "postgres" ? PG_ROWS_PER_INSERT : 1;
    this.single = stmt(db, this.sql(1));
  }

  private sql(rows: number): string {
    const tuple = `(${Array.from({ length: this.columns }, () => "?").join(", ")})`;
    return `${this.insert} ${Array.from({ length: rows }, () => tuple).join(", ")}${this.suffix}`;
  }

  add(...row: unknown[]): void {
    this.pending.push(row);
    if (this.pending.length >= this.batch) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const statement = this.pending.length === 1 ? this.single : stmt(this.db, this.sql(this.pending.length));
    statement.run(...this.pending.flat());
    this.pending.length = 0;
  }
}

/**
 * Appends points to a series: chunk rows (the tail chunk is refilled up to
 * CHUNK_POINTS), rollup rows of every level, and the series summary.
 * Call inside a write transaction.
 */
export function appendPoints(
  db: Db,
  seriesId: number,
  steps: Float64Array,
  values: Float64Array,
  times: Float64Array,
): void {
  const n = values.length;
  if (n === 0) return;
  const state = stmt(db, "SELECT count, monotonic, last_step, min_value, max_value FROM series WHERE id = ?").get(
    seriesId,
  ) as SeriesState | undefined;
  if (!state) throw new NotFoundError(`series ${seriesId} does not exist`);
  const startIndex = state.count;

  let chunkStart = startIndex;
  let allSteps = steps;
  let allValues = values;
  let allTimes = times;
  const tail = stmt(
    db,
    "SELECT id, start_index, count, steps, vals, times FROM chunks WHERE series_id = ? ORDER BY start_index DESC LIMIT 1",
  ).get(seriesId) as TailChunk | undefined;
  if (tail && tail.count < CHUNK_POINTS) {
    chunkStart = tail.start_index;
    allSteps = concat(decodeFloats(tail.steps), steps);
    allValues = concat(decodeFloats(tail.vals), values);
    allTimes = concat(decodeFloats(tail.times), times);
    stmt(db, "DELETE FROM chunks WHERE id = ?").run(tail.id);
  }
  const chunkRows = new RowWriter(db, CHUNK_INSERT, 8, "");
  for (let offset = 0; offset < allValues.length; offset += CHUNK_POINTS) {
    const end = Math.min(allValues.length, offset + CHUNK_POINTS);
    const s = allSteps.subarray(offset, end);
    chunkRows.add(
      seriesId,
      chunkStart + offset,
      end - offset,
      s[0],
      s[s.length - 1],
      encodeFloats(s),
      encodeFloats(allValues.subarray(offset, end)),
      encodeFloats(allTimes.subarray(offset, end)),
    );
  }
  chunkRows.flush();

  const getRollup = stmt(
    db,
    "SELECT bucket, count, first_step, last_step, min_value, min_step, min_time, max_value, max_step, max_time, value_sum, step_sum FROM rollups WHERE series_id = ? AND level = ? AND bucket = ?",
  );
  const rollupRows = new RowWriter(
    db,
    `INSERT INTO rollups (series_id, level, bucket, count, first_step, last_step, min_value, min_step, min_time,
      max_value, max_step, max_time, value_sum, step_sum) VALUES`,
    14,
    ROLLUP_UPSERT,
  );
  let newRows: RollupRow[] = [];
  let previousLevel = 0;
  for (const level of ROLLUP_LEVELS) {
    newRows =
      previousLevel === 0
        ? rollupPoints(level, startIndex, steps, values, times)
        : coarsen(newRows, level - previousLevel);
    previousLevel = level;
    for (let i = 0; i < newRows.length; i++) {
      let row = newRows[i];
      if (i === 0 && startIndex % 2 ** level !== 0) {
        const old = getRollup.get(seriesId, level, row.bucket) as RollupDbRow | undefined;
        if (old) {
          row = mergeRollup(
            {
              bucket: old.bucket,
              count: old.count,
              firstStep: old.first_step,
              lastStep: old.last_step,
              minValue: old.min_value,
              minStep: old.min_step,
              minTime: old.min_time,
              maxValue: old.max_value,
              maxStep: old.max_step,
              maxTime: old.max_time,
              valueSum: old.value_sum,
              stepSum: old.step_sum,
            },
            row,
          );
        }
      }
      rollupRows.add(...rollupParams(seriesId, level, row));
    }
  }
  rollupRows.flush();

  let monotonic = state.monotonic === 1 && (state.last_step === null || steps[0] >= state.last_step);
  let min = state.min_value ?? Number.POSITIVE_INFINITY;
  let max = state.max_value ?? Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    if (i > 0 && steps[i] < steps[i - 1]) monotonic = false;
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  stmt(
    db,
    `UPDATE series SET count = ?, monotonic = ?, first_step = COALESCE(first_step, ?), last_step = ?,
       last_value = ?, last_time = ?, min_value = ?, max_value = ? WHERE id = ?`,
  ).run(startIndex + n, monotonic ? 1 : 0, steps[0], steps[n - 1], values[n - 1], times[n - 1], min, max, seriesId);
}
