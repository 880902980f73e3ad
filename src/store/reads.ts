import type {
  Config,
  DownsampledSeries,
  Experiment,
  MetricSeries,
  MetricSummary,
  Provenance,
  RunInfo,
  RunStatus,
} from "../types.js";
import { isStale } from "../util/staleness.js";
import { decodeFloatsInto } from "./codec.js";
import { type Db, runRead, stmt } from "./connection.js";
import { ROLLUP_LEVELS } from "./rollup.js";

// Re-exported for the live events (src/server/events.ts) until they read changes through the query layer.
export { DEFAULT_STALE_AFTER_S, isStale } from "../util/staleness.js";

interface ExperimentRow {
  id: string;
  name: string;
  description: string | null;
  created_at: number;
  run_count: number;
  project_id: string | null;
}

export interface RunRow {
  seq: number;
  id: string;
  experiment_id: string;
  name: string | null;
  status: RunStatus;
  config: string;
  tags: string;
  group_name: string | null;
  job_type: string | null;
  notes: string | null;
  color: string | null;
  created_at: number;
  ended_at: number | null;
  last_heartbeat: number | null;
  host: string | null;
  pid: number | null;
  command: string | null;
  cwd: string | null;
  git_commit: string | null;
  git_dirty: number | null;
  sdk_language: string | null;
  sdk_version: string | null;
  revision: number;
  /** Palette index chosen at creation (schema version 3); null for older runs. */
  color_index: number | null;
}

const EXPERIMENT_COLUMNS =
  "e.id, e.name, e.description, e.created_at, e.project_id, " +
  "(SELECT count(*) FROM runs r WHERE r.experiment_id = e.id) AS run_count";

function toExperiment(row: ExperimentRow): Experiment {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    createdAt: row.created_at,
    runCount: row.run_count,
    projectId: row.project_id,
  };
}

/** Experiments by name; of one project only when projectId is given. */
export function listExperiments(db: Db, projectId?: string): Experiment[] {
  const rows = (
    projectId === undefined
      ? stmt(db, `SELECT ${EXPERIMENT_COLUMNS} FROM experiments e ORDER BY e.name`).all()
      : stmt(db, `SELECT ${EXPERIMENT_COLUMNS} FROM experiments e WHERE e.project_id = ? ORDER BY e.name`).all(
          projectId,
        )
  ) as ExperimentRow[];
  return rows.map(toExperiment);
}

export function getExperiment(db: Db, idOrName: string): Experiment | null {
  const row = stmt(db, `SELECT ${EXPERIMENT_COLUMNS} FROM experiments e WHERE e.id = ? OR e.name = ? LIMIT 1`).get(
    idOrName,
    idOrName,
  ) as ExperimentRow | undefined;
  return row ? toExperiment(row) : null;
}

export function toRunInfo(row: RunRow, now: number, staleAfterS: number): RunInfo {
  const provenance: Provenance = {
    host: row.host,
    pid: row.pid,
    command: row.command,
    cwd: row.cwd,
    gitCommit: row.git_commit,
    gitDirty: row.git_dirty === null ? null : row.git_dirty === 1,
    sdkLanguage: row.sdk_language,
    sdkVersion: row.sdk_version,
  };
  return {
    id: row.id,
    experimentId: row.experiment_id,
    name: row.name,
    status: row.status,
    stale: row.status === "running" && isStale(row.last_heartbeat ?? row.created_at, now, staleAfterS),
    config: JSON.parse(row.config) as Config,
    tags: JSON.parse(row.tags) as string[],
    group: row.group_name,
    jobType: row.job_type,
    notes: row.notes,
    color: row.color,
    createdAt: row.created_at,
    endedAt: row.ended_at,
    lastHeartbeat: row.last_heartbeat,
    provenance,
    revision: row.revision,
  };
}

export const RUN_COLUMNS =
  "seq, id, experiment_id, name, status, config, tags, group_name, job_type, notes, color, created_at, ended_at, " +
  "last_heartbeat, host, pid, command, cwd, git_commit, git_dirty, sdk_language, sdk_version, revision, color_index";

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
  number | null,
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
    color_index: r[23],
  };
}

/**
 * Run rows of a `SELECT ${RUN_COLUMNS} ...` query. Rows come back as arrays
 * (raw mode) and become objects here: for 10,000 rows that is
 * several times faster than the driver building an object per row.
 */
export function runRowsWhere(db: Db, sql: string, ...params: unknown[]): RunRow[] {
  return (stmt(db, sql, "arrays").all(...params) as RawRun[]).map(toRunRow);
}

/** Runs newest first, of one experiment or of all. */
export function listRunRows(db: Db, experimentId?: string): RunRow[] {
  if (experimentId === undefined) {
    return runRowsWhere(db, `SELECT ${RUN_COLUMNS} FROM runs ORDER BY created_at DESC, seq DESC`);
  }
  return runRowsWhere(
    db,
    `SELECT ${RUN_COLUMNS} FROM runs WHERE experiment_id = ? ORDER BY created_at DESC, seq DESC`,
    experimentId,
  );
}

export function getRunRow(db: Db, runId: string): RunRow | null {
  return runRowsWhere(db, `SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`, runId)[0] ?? null;
}

export function getMetricKeys(db: Db, runId: string): string[] {
  const rows = stmt(
    db,
    `SELECT k.key FROM series s JOIN metric_keys k ON k.id = s.key_id JOIN runs r ON r.seq = s.run_seq
     WHERE r.id = ? AND s.count > 0 ORDER BY k.key`,
  ).all(runId) as { key: string }[];
  return rows.map((r) => r.key);
}

interface SeriesRow {
  id: number;
  count: number;
  monotonic: number;
}

export function findSeries(db: Db, runId: string, key: string): SeriesRow | null {
  const row = stmt(
    db,
    `SELECT s.id, s.count, s.monotonic FROM series s JOIN metric_keys k ON k.id = s.key_id JOIN runs r ON r.seq = s.run_seq
     WHERE r.id = ? AND k.key = ?`,
  ).get(runId, key) as SeriesRow | undefined;
  return row ?? null;
}

export function metricSummaries(db: Db, runId: string): MetricSummary[] {
  const rows = stmt(
    db,
    `SELECT k.key, s.count, s.last_step, s.last_value, s.min_value, s.max_value, s.last_time
     FROM series s JOIN metric_keys k ON k.id = s.key_id JOIN runs r ON r.seq = s.run_seq
     WHERE r.id = ? AND s.count > 0 ORDER BY k.key`,
  ).all(runId) as {
    key: string;
    count: number;
    last_step: number | null;
    last_value: number | null;
    min_value: number | null;
    max_value: number | null;
    last_time: number | null;
  }[];
  return rows.map((r) => ({
    key: r.key,
    count: r.count,
    lastStep: r.last_step,
    last: r.last_value,
    min: r.min_value,
    max: r.max_value,
    lastTime: r.last_time,
  }));
}

interface ChunkRow {
  start_index: number;
  count: number;
  steps: Uint8Array;
  vals: Uint8Array;
  times: Uint8Array;
}

export interface PointArrays {
  steps: Float64Array;
  values: Float64Array;
  timestamps: Float64Array;
}

function decodeChunks(chunks: ChunkRow[], from: number, to: number): PointArrays {
  const n = Math.max(0, to - from);
  const out = { steps: new Float64Array(n), values: new Float64Array(n), timestamps: new Float64Array(n) };
  if (n === 0) return out;
  const scratch = new Float64Array(chunks.reduce((m, c) => Math.max(m, c.count), 0));
  for (const chunk of chunks) {
    const lo = Math.max(from, chunk.start_index);
    const hi = Math.min(to, chunk.start_index + chunk.count);
    if (hi <= lo) continue;
    const skip = lo - chunk.start_index;
    const take = hi - lo;
    const at = lo - from;
    if (skip === 0 && take === chunk.count) {
      decodeFloatsInto(chunk.steps, out.steps, at);
      decodeFloatsInto(chunk.vals, out.values, at);
      decodeFloatsInto(chunk.times, out.timestamps, at);
    } else {
      decodeFloatsInto(chunk.steps, scratch, 0);
      out.steps.set(scratch.subarray(skip, skip + take), at);
      decodeFloatsInto(chunk.vals, scratch, 0);
      out.values.set(scratch.subarray(skip, skip + take), at);
      decodeFloatsInto(chunk.times, scratch, 0);
      out.timestamps.set(scratch.subarray(skip, skip + take), at);
    }
  }
  return out;
}

/** Points with series index in [from, to), in stored (logging) order. */
export function readIndexRange(db: Db, seriesId: number, from: number, to: number): PointArrays {
  if (to <= from) return decodeChunks([], 0, 0);
  const chunks = stmt(
    db,
    `SELECT start_index, count, steps, vals, times FROM chunks WHERE series_id = @series
       AND start_index >= COALESCE((SELECT MAX(start_index) FROM chunks WHERE series_id = @series AND start_index <= @from), 0)
       AND start_index < @to ORDER BY start_index`,
  ).all({ series: seriesId, from, to }) as ChunkRow[];
  return decodeChunks(chunks, from, to);
}

/** Reorders points by step (stable) when a series was logged out of order. */
function sortByStep(points: PointArrays): PointArrays {
  const n = points.steps.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => points.steps[a] - points.steps[b] || a - b);
  const out = { steps: new Float64Array(n), values: new Float64Array(n), timestamps: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const j = order[i];
    out.steps[i] = points.steps[j];
    out.values[i] = points.values[j];
    out.timestamps[i] = points.timestamps[j];
  }
  return out;
}

/** Every point of a series, ordered by step (ties in logging order). */
export function readSeries(db: Db, runId: string, key: string): MetricSeries | null {
  return runRead(db, () => {
    const series = findSeries(db, runId, key);
    if (!series) return null;
    const points = readIndexRange(db, series.id, 0, series.count);
    return { key, ...(series.monotonic ? points : sortByStep(points)) };
  });
}

/** First series index whose step is >= minStep (monotonic series only). */
function lowerIndex(db: Db, seriesId: number, count: number, minStep: number): number {
  const chunk = stmt(
    db,
    "SELECT start_index, count, steps FROM chunks WHERE series_id = ? AND last_step >= ? ORDER BY last_step, start_index LIMIT 1",
  ).get(seriesId, minStep) as { start_index: number; count: number; steps: Uint8Array } | undefined;
  if (!chunk) return count;
  const steps = new Float64Array(chunk.count);
  decodeFloatsInto(chunk.steps, steps, 0);
  let i = 0;
  while (i < steps.length && steps[i] < minStep) i++;
  return chunk.start_index + i;
}

/** One past the last series index whose step is <= maxStep (monotonic series only). */
function upperIndex(db: Db, seriesId: number, maxStep: number): number {
  const chunk = stmt(
    db,
    "SELECT start_index, count, steps FROM chunks WHERE series_id = ? AND first_step <= ? ORDER BY start_index DESC LIMIT 1",
  ).get(seriesId, maxStep) as { start_index: number; count: number; steps: Uint8Array } | undefined;
  if (!chunk) return 0;
  const steps = new Float64Array(chunk.count);
  decodeFloatsInto(chunk.steps, steps, 0);
  let i = steps.length;
  while (i > 0 && steps[i - 1] > maxStep) i--;
  return chunk.start_index + i;
}

/**
 * Consecutive stretches of a series, each summarised by its extremes, as
 * parallel arrays: a raw point is a stretch of one, a rollup row a longer one.
 */
class Units {
  length = 0;
  index: Float64Array;
  minValue: Float64Array;
  minStep: Float64Array;
  minTime: Float64Array;
  maxValue: Float64Array;
  maxStep: Float64Array;
  maxTime: Float64Array;

  constructor(capacity: number) {
    this.index = new Float64Array(capacity);
    this.minValue = new Float64Array(capacity);
    this.minStep = new Float64Array(capacity);
    this.minTime = new Float64Array(capacity);
    this.maxValue = new Float64Array(capacity);
    this.maxStep = new Float64Array(capacity);
    this.maxTime = new Float64Array(capacity);
  }

  addPoints(points: PointArrays, firstIndex: number): void {
    const n = points.values.length;
    const at = this.length;
    for (let i = 0; i < n; i++) this.index[at + i] = firstIndex + i;
    this.minValue.set(points.values, at);
    this.maxValue.set(points.values, at);
    this.minStep.set(points.steps, at);
    this.maxStep.set(points.steps, at);
    this.minTime.set(points.timestamps, at);
    this.maxTime.set(points.timestamps, at);
    this.length += n;
  }

  /** Rows as returned by the raw rollup query: bucket, min value/step/time, max value/step/time. */
  addRollups(rows: number[][], span: number): void {
    let at = this.length;
    for (const row of rows) {
      this.index[at] = row[0] * span;
      this.minValue[at] = row[1];
      this.minStep[at] = row[2];
      this.minTime[at] = row[3];
      this.maxValue[at] = row[4];
      this.maxStep[at] = row[5];
      this.maxTime[at] = row[6];
      at++;
    }
    this.length = at;
  }
}

/** Min and max of each of `buckets` equal index spans over [from, to), in step order. */
function bucketize(units: Units, from: number, to: number, buckets: number): PointArrays {
  const span = (to - from) / buckets;
  const steps = new Float64Array(buckets * 2);
  const values = new Float64Array(buckets * 2);
  const times = new Float64Array(buckets * 2);
  let out = 0;
  const emitMin = (i: number) => {
    steps[out] = units.minStep[i];
    values[out] = units.minValue[i];
    times[out++] = units.minTime[i];
  };
  const emitMax = (i: number) => {
    steps[out] = units.maxStep[i];
    values[out] = units.maxValue[i];
    times[out++] = units.maxTime[i];
  };
  let u = 0;
  const n = units.length;
  for (let b = 0; b < buckets && u < n; b++) {
    const end = b === buckets - 1 ? to : from + (b + 1) * span;
    if (units.index[u] >= end) continue;
    let min = u;
    let max = u;
    for (u++; u < n && units.index[u] < end; u++) {
      if (units.minValue[u] < units.minValue[min]) min = u;
      if (units.maxValue[u] > units.maxValue[max]) max = u;
    }
    const samePoint =
      units.minStep[min] === units.maxStep[max] &&
      units.minTime[min] === units.maxTime[max] &&
      units.minValue[min] === units.maxValue[max];
    if (units.minStep[min] < units.maxStep[max] || (units.minStep[min] === units.maxStep[max] && min <= max)) {
      emitMin(min);
      if (!samePoint) emitMax(max);
    } else {
      emitMax(max);
      emitMin(min);
    }
  }
  return { steps: steps.slice(0, out), values: values.slice(0, out), timestamps: times.slice(0, out) };
}

function slicePoints(points: PointArrays, from: number, to: number): PointArrays {
  return {
    steps: points.steps.slice(from, to),
    values: points.values.slice(from, to),
    timestamps: points.timestamps.slice(from, to),
  };
}

/**
 * The points of a step range with the nearest point outside it on each side
 * (when there is one), so a chart's line runs on to the edges of a zoomed
 * window instead of stopping at the last point inside it.
 */
function withEdges(before: PointArrays | null, inside: PointArrays, after: PointArrays | null): PointArrays {
  if (!before?.steps.length && !after?.steps.length) return inside;
  const parts = [before, inside, after].filter((p): p is PointArrays => p !== null && p.steps.length > 0);
  const join = (pick: (p: PointArrays) => Float64Array) => {
    const out = new Float64Array(parts.reduce((n, p) => n + pick(p).length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(pick(p), at);
      at += pick(p).length;
    }
    return out;
  };
  return { steps: join((p) => p.steps), values: join((p) => p.values), timestamps: join((p) => p.timestamps) };
}

/**
 * About maxPoints points of a series over an optional step range: every point
 * when they fit, else the min and max of maxPoints/2 equal buckets, so no peak
 * or valley is lost. Monotonic series read rollups of the coarsest level that
 * still fills the buckets, plus raw points at the ragged edges. A range also
 * brings the nearest point before minStep and after maxStep, as they are
 * (totalPoints counts only the points inside).
 */
export function readDownsampled(
  db: Db,
  runId: string,
  key: string,
  maxPoints: number,
  minStep = Number.NEGATIVE_INFINITY,
  maxStep = Number.POSITIVE_INFINITY,
): DownsampledSeries | null {
  return runRead(db, () => {
    const series = findSeries(db, runId, key);
    if (!series) return null;
    const buckets = Math.max(1, Math.floor(maxPoints / 2));
    if (!series.monotonic) {
      const sorted = sortByStep(readIndexRange(db, series.id, 0, series.count));
      const n = sorted.steps.length;
      let lo = 0;
      while (lo < n && sorted.steps[lo] < minStep) lo++;
      let hi = lo;
      while (hi < n && sorted.steps[hi] <= maxStep) hi++;
      const all = slicePoints(sorted, lo, hi);
      const before = lo > 0 ? slicePoints(sorted, lo - 1, lo) : null;
      const after = hi < n ? slicePoints(sorted, hi, hi + 1) : null;
      const total = all.steps.length;
      if (total <= maxPoints) {
        return { runId, key, ...withEdges(before, all, after), totalPoints: total, downsampled: false };
      }
      const units = new Units(total);
      units.addPoints(all, 0);
      const inside = bucketize(units, 0, total, buckets);
      return { runId, key, ...withEdges(before, inside, after), totalPoints: total, downsampled: true };
    }
    const from = minStep === Number.NEGATIVE_INFINITY ? 0 : lowerIndex(db, series.id, series.count, minStep);
    const to = maxStep === Number.POSITIVE_INFINITY ? series.count : Math.max(from, upperIndex(db, series.id, maxStep));
    const before =
      from > 0 && minStep !== Number.NEGATIVE_INFINITY ? readIndexRange(db, series.id, from - 1, from) : null;
    const after =
      to < series.count && maxStep !== Number.POSITIVE_INFINITY ? readIndexRange(db, series.id, to, to + 1) : null;
    const total = Math.max(0, to - from);
    if (total <= maxPoints) {
      const inside = readIndexRange(db, series.id, from, to);
      return { runId, key, ...withEdges(before, inside, after), totalPoints: total, downsampled: false };
    }
    const perBucket = total / buckets;
    const level = [...ROLLUP_LEVELS].reverse().find((l) => 2 ** l <= perBucket);
    let units: Units;
    if (level === undefined) {
      units = new Units(total);
      units.addPoints(readIndexRange(db, series.id, from, to), from);
    } else {
      const span = 2 ** level;
      const firstBucket = Math.ceil(from / span);
      const endBucket = Math.max(firstBucket, Math.floor(to / span));
      const head = readIndexRange(db, series.id, from, Math.min(to, firstBucket * span));
      const rows = stmt(
        db,
        `SELECT bucket, min_value, min_step, min_time, max_value, max_step, max_time FROM rollups
         WHERE series_id = ? AND level = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`,
        "arrays",
      ).all(series.id, level, firstBucket, endBucket) as number[][];
      const tailFrom = Math.max(from, endBucket * span);
      const tail = readIndexRange(db, series.id, tailFrom, to);
      units = new Units(head.values.length + rows.length + tail.values.length);
      units.addPoints(head, from);
      units.addRollups(rows, span);
      units.addPoints(tail, tailFrom);
    }
    const inside = bucketize(units, from, to, buckets);
    return { runId, key, ...withEdges(before, inside, after), totalPoints: total, downsampled: true };
  });
}

/** Steps and values of a series's points, for reads that need no timestamps. */
export interface StepValues {
  steps: Float64Array;
  values: Float64Array;
}

/**
 * A run's points in a window as a grouped aggregate reads them through rollups:
 * entries in series order, each a raw point (count 1: its step and value) or a
 * rollup span (its point count and the sums of its steps and of its values).
 */
export interface StepValueSpans {
  stepSums: Float64Array;
  valueSums: Float64Array;
  counts: Float64Array;
  /** Smallest and largest step of the entries' points with a finite value; null when there are none. */
  extent: [number, number] | null;
}

/**
 * A window is read through rollups when it holds at least this many spans per
 * step bucket on average: a span counts wholly in the bucket of its mean step,
 * so a bucket's edges move by at most about half a span (docs/grouping.md).
 */
export const GROUP_SPANS_PER_BUCKET = 3;

/** Points with series index in [from, to), steps and values only, in stored order. */
function readStepValuesIndexRange(db: Db, seriesId: number, from: number, to: number): StepValues {
  const n = Math.max(0, to - from);
  const out = { steps: new Float64Array(n), values: new Float64Array(n) };
  if (n === 0) return out;
  const chunks = stmt(
    db,
    `SELECT start_index, count, steps, vals FROM chunks WHERE series_id = @series
       AND start_index >= COALESCE((SELECT MAX(start_index) FROM chunks WHERE series_id = @series AND start_index <= @from), 0)
       AND start_index < @to ORDER BY start_index`,
  ).all({ series: seriesId, from, to }) as Omit<ChunkRow, "times">[];
  const scratch = new Float64Array(chunks.reduce((m, c) => Math.max(m, c.count), 0));
  for (const chunk of chunks) {
    const lo = Math.max(from, chunk.start_index);
    const hi = Math.min(to, chunk.start_index + chunk.count);
    if (hi <= lo) continue;
    const skip = lo - chunk.start_index;
    const at = lo - from;
    if (skip === 0 && hi - lo === chunk.count) {
      decodeFloatsInto(chunk.steps, out.steps, at);
      decodeFloatsInto(chunk.vals, out.values, at);
    } else {
      decodeFloatsInto(chunk.steps, scratch, 0);
      out.steps.set(scratch.subarray(skip, skip + hi - lo), at);
      decodeFloatsInto(chunk.vals, scratch, 0);
      out.values.set(scratch.subarray(skip, skip + hi - lo), at);
    }
  }
  return out;
}

/** Every point of a non-monotonic series inside [minStep, maxStep], sorted by step (stable). */
function sortedStepValuesInRange(
  db: Db,
  seriesId: number,
  count: number,
  minStep: number,
  maxStep: number,
): StepValues {
  const sorted = sortByStep(readIndexRange(db, seriesId, 0, count));
  const keep: number[] = [];
  for (let i = 0; i < sorted.steps.length; i++) {
    if (sorted.steps[i] >= minStep && sorted.steps[i] <= maxStep) keep.push(i);
  }
  return {
    steps: Float64Array.from(keep, (i) => sorted.steps[i]),
    values: Float64Array.from(keep, (i) => sorted.values[i]),
  };
}

/** Series index range [from, to) of the points with minStep <= step <= maxStep (monotonic series only). */
function indexWindow(db: Db, series: SeriesRow, minStep: number, maxStep: number): [number, number] {
  const from = minStep === Number.NEGATIVE_INFINITY ? 0 : lowerIndex(db, series.id, series.count, minStep);
  const to = maxStep === Number.POSITIVE_INFINITY ? series.count : Math.max(from, upperIndex(db, series.id, maxStep));
  return [from, to];
}

/** Rows of one rollup level of a series with bucket in [from, to); parameters: series id, level, from, to. */
const ROLLUP_SPANS = "FROM rollups WHERE series_id = ? AND level = ? AND bucket >= ? AND bucket < ?";

/** A run of consecutive rollup spans: per span its point count and the sums of its values and of its steps. */
interface SpanSums {
  counts: ArrayLike<number>;
  valueSums: ArrayLike<number>;
  stepSums: ArrayLike<number>;
}

/**
 * The spans [from, to) of a rollup level of a series of `points` points, or
 * null when one is missing or has no sums. A grouped aggregate of many runs
 * reads hundreds of thousands of spans, and an array per row costs more than
 * SQLite's reading, so each sum is read as a column of plain values. The
 * counts are not read but checked in SQL against what spans by index hold
 * (every span full but the series's last); where one differs, the rows are
 * read whole and their counts used as they stand.
 */
function readSpanSums(
  db: Db,
  seriesId: number,
  level: number,
  from: number,
  to: number,
  points: number,
): SpanSums | null {
  const span = 2 ** level;
  const spans = to - from;
  const valueSums = stmt(db, `SELECT value_sum ${ROLLUP_SPANS} ORDER BY bucket`, "values").all(
    seriesId,
    level,
    from,
    to,
  ) as (number | null)[];
  if (spans === 0 || valueSums.length !== spans || valueSums.includes(null)) return null;
  const lastCount = Math.min(span, points - (to - 1) * span);
  const stepSums = stmt(
    db,
    `SELECT CASE WHEN (bucket < ? AND count = ?) OR (bucket = ? AND count = ?) THEN step_sum END ${ROLLUP_SPANS}
     ORDER BY bucket`,
    "values",
  ).all(to - 1, span, to - 1, lastCount, seriesId, level, from, to) as (number | null)[];
  if (stepSums.length === spans && !stepSums.includes(null)) {
    const counts = new Float64Array(spans).fill(span);
    counts[spans - 1] = lastCount;
    return { counts, valueSums: valueSums as number[], stepSums: stepSums as number[] };
  }
  const rows = stmt(db, `SELECT count, value_sum, step_sum ${ROLLUP_SPANS} ORDER BY bucket`, "arrays").all(
    seriesId,
    level,
    from,
    to,
  ) as [number, number | null, number | null][];
  if (rows.length !== spans || rows.some((r) => r[1] === null || r[2] === null)) return null;
  return {
    counts: rows.map((r) => r[0]),
    valueSums: rows.map((r) => r[1] as number),
    stepSums: rows.map((r) => r[2] as number),
  };
}

/** First step of span `first` and last step of span `last` of a rollup level. */
function spanEnds(db: Db, seriesId: number, level: number, first: number, last: number): [number, number] {
  const select = stmt(
    db,
    "SELECT first_step, last_step FROM rollups WHERE series_id = ? AND level = ? AND bucket = ?",
    "arrays",
  );
  const [firstStep] = select.get(seriesId, level, first) as [number, number];
  const [, lastStep] = select.get(seriesId, level, last) as [number, number];
  return [firstStep, lastStep];
}

/** First and last step of the points with a finite value among raw points, or null. */
function finiteEnds(points: StepValues): [number, number] | null {
  const n = points.values.length;
  let first = 0;
  while (first < n && !Number.isFinite(points.values[first])) first++;
  if (first === n) return null;
  let last = n - 1;
  while (!Number.isFinite(points.values[last])) last--;
  return [points.steps[first], points.steps[last]];
}

/**
 * A run's points of one key inside [minStep, maxStep] for a grouped aggregate
 * of `buckets` step buckets (docs/grouping.md). A monotonic series whose
 * window holds at least GROUP_SPANS_PER_BUCKET spans of some rollup level per
 * bucket is read as the rows of the coarsest such level (their sums) plus raw
 * points at the window's ends where they cut a span; so the cost follows the
 * buckets, not the points. Otherwise (fewer points, a series logged out of
 * order, or a span without sums: a row written before schema version 6, or
 * one whose sum is not finite) every point of the window, by step (ties in
 * logging order). Null when the run has no such key.
 */
export function readGroupWindow(
  db: Db,
  runId: string,
  key: string,
  buckets: number,
  minStep = Number.NEGATIVE_INFINITY,
  maxStep = Number.POSITIVE_INFINITY,
): StepValues | StepValueSpans | null {
  return runRead(db, () => {
    const series = findSeries(db, runId, key);
    if (!series) return null;
    if (!series.monotonic) return sortedStepValuesInRange(db, series.id, series.count, minStep, maxStep);
    const [from, to] = indexWindow(db, series, minStep, maxStep);
    const total = to - from;
    const level = [...ROLLUP_LEVELS].reverse().find((l) => GROUP_SPANS_PER_BUCKET * 2 ** l * buckets <= total);
    if (level === undefined) return readStepValuesIndexRange(db, series.id, from, to);
    const span = 2 ** level;
    const firstSpan = Math.ceil(from / span);
    // The series's last span may be partial: its row covers it when the window runs to the end.
    const endSpan = to === series.count ? Math.ceil(to / span) : Math.floor(to / span);
    const sums = readSpanSums(db, series.id, level, firstSpan, endSpan, series.count);
    if (sums === null) return readStepValuesIndexRange(db, series.id, from, to);
    const head = readStepValuesIndexRange(db, series.id, from, firstSpan * span);
    const tailFrom = Math.min(to, endSpan * span);
    const tail = readStepValuesIndexRange(db, series.id, tailFrom, to);
    const spans = sums.valueSums.length;
    const at = head.values.length;
    const n = at + spans + tail.values.length;
    const out: StepValueSpans = {
      stepSums: new Float64Array(n),
      valueSums: new Float64Array(n),
      counts: new Float64Array(n).fill(1),
      extent: null,
    };
    out.stepSums.set(head.steps, 0);
    out.valueSums.set(head.values, 0);
    out.stepSums.set(sums.stepSums, at);
    out.valueSums.set(sums.valueSums, at);
    out.counts.set(sums.counts, at);
    out.stepSums.set(tail.steps, at + spans);
    out.valueSums.set(tail.values, at + spans);
    const [firstStep, lastStep] = spanEnds(db, series.id, level, firstSpan, endSpan - 1);
    out.extent = [finiteEnds(head)?.[0] ?? firstStep, finiteEnds(tail)?.[1] ?? lastStep];
    return out;
  });
}
