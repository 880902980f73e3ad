/**
 * GET /api/runs/{id}/metrics/all: every metric of a run in one object, as the
 * original stonks' dashboard asks for it. Keys logged per rank (`rank_3/loss`)
 * are combined into one series under the key without the prefix: per step the
 * mean of the ranks' values, with their min and max beside it, unless the run
 * also logged that key itself (then the rank keys are left out).
 */
import type { StonksDatabase } from "../query/database.js";
import type { MetricSeries } from "../types.js";
import { numberArrayPieces } from "./json.js";

const RANK_PREFIX = /^rank_\d+\//;

/** What the answer will hold: plain keys read (downsampled) from the store, rank groups combined in memory. */
export interface AllMetricsPlan {
  plain: { key: string; stored: number }[];
  ranked: { key: string; rankKeys: string[]; stored: number }[];
  /** Points read and sent: plain keys after downsampling, every point of every rank key. */
  points: number;
}

export function planAllMetrics(db: StonksDatabase, runId: string, maxPoints: number | undefined): AllMetricsPlan {
  const keys = db.getMetricKeys(runId);
  const plainKeys = new Set(keys.filter((key) => !RANK_PREFIX.test(key)));
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const match = RANK_PREFIX.exec(key);
    if (match === null) continue;
    const base = key.slice(match[0].length);
    if (plainKeys.has(base)) continue;
    groups.set(base, [...(groups.get(base) ?? []), key]);
  }
  const length = (key: string) => db.seriesLength(runId, key) ?? 0;
  const plain = [...plainKeys].map((key) => ({ key, stored: length(key) }));
  const ranked = [...groups].map(([key, rankKeys]) => ({
    key,
    rankKeys,
    stored: rankKeys.reduce((sum, k) => sum + length(k), 0),
  }));
  const points =
    plain.reduce((sum, p) => sum + (maxPoints === undefined ? p.stored : Math.min(p.stored, maxPoints)), 0) +
    ranked.reduce((sum, r) => sum + r.stored, 0);
  return { plain, ranked, points };
}

interface CombinedSeries extends MetricSeries {
  valuesMin: Float64Array;
  valuesMax: Float64Array;
}

/**
 * Per step (ascending): mean, min and max of the ranks' finite values, and the
 * timestamp of the first rank (by key) that logged the step. Steps with no
 * finite value are left out.
 */
export function combineRanks(key: string, ranks: MetricSeries[]): CombinedSeries {
  const byStep = new Map<number, { sum: number; n: number; min: number; max: number; time: number }>();
  for (const rank of ranks) {
    for (let i = 0; i < rank.steps.length; i++) {
      const step = rank.steps[i];
      const value = rank.values[i];
      let entry = byStep.get(step);
      if (entry === undefined) {
        entry = {
          sum: 0,
          n: 0,
          min: Number.POSITIVE_INFINITY,
          max: Number.NEGATIVE_INFINITY,
          time: rank.timestamps[i],
        };
        byStep.set(step, entry);
      }
      if (!Number.isFinite(value)) continue;
      entry.sum += value;
      entry.n += 1;
      entry.min = Math.min(entry.min, value);
      entry.max = Math.max(entry.max, value);
    }
  }
  const steps = [...byStep.keys()].filter((step) => (byStep.get(step)?.n ?? 0) > 0).sort((a, b) => a - b);
  const out: CombinedSeries = {
    key,
    steps: Float64Array.from(steps),
    values: new Float64Array(steps.length),
    valuesMin: new Float64Array(steps.length),
    valuesMax: new Float64Array(steps.length),
    timestamps: new Float64Array(steps.length),
  };
  steps.forEach((step, i) => {
    const entry = byStep.get(step);
    if (entry === undefined) return;
    out.values[i] = entry.sum / entry.n;
    out.valuesMin[i] = entry.min;
    out.valuesMax[i] = entry.max;
    out.timestamps[i] = entry.time;
  });
  return out;
}

/**
 * Indices that keep at most `target` points: the first and the last, and in
 * each of `target - 2` buckets between them the points of lowest and highest
 * value, in step order.
 */
export function minMaxIndices(values: Float64Array, target: number): number[] {
  const n = values.length;
  if (n <= target) return Array.from({ length: n }, (_, i) => i);
  const kept = [0];
  const buckets = Math.floor((target - 2) / 2);
  const size = (n - 2) / Math.max(1, buckets);
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor(b * size);
    const to = Math.min(n - 1, 1 + Math.floor((b + 1) * size));
    if (from >= to) continue;
    let low = from;
    let high = from;
    for (let i = from; i < to; i++) {
      if (values[i] < values[low]) low = i;
      if (values[i] > values[high]) high = i;
    }
    if (low === high) kept.push(low);
    else kept.push(Math.min(low, high), Math.max(low, high));
  }
  kept.push(n - 1);
  return kept;
}

function pick(values: Float64Array, indices: number[]): Float64Array {
  return Float64Array.from(indices, (i) => values[i]);
}

function downsampleCombined(series: CombinedSeries, maxPoints: number | undefined): CombinedSeries {
  if (maxPoints === undefined || series.steps.length <= maxPoints) return series;
  // One choice of points for all three value arrays, so min and max stay beside the mean of the same step.
  const indices = minMaxIndices(series.values, maxPoints);
  return {
    key: series.key,
    steps: pick(series.steps, indices),
    values: pick(series.values, indices),
    valuesMin: pick(series.valuesMin, indices),
    valuesMax: pick(series.valuesMax, indices),
    timestamps: pick(series.timestamps, indices),
  };
}

function* seriesEntryPieces(series: MetricSeries, extra: [string, Float64Array][]): Generator<string> {
  yield `${JSON.stringify(series.key)}:{"key":${JSON.stringify(series.key)},"steps":`;
  yield* numberArrayPieces(series.steps);
  yield ',"values":';
  yield* numberArrayPieces(series.values);
  for (const [name, values] of extra) {
    yield `,${JSON.stringify(name)}:`;
    yield* numberArrayPieces(values);
  }
  yield ',"timestamps":';
  yield* numberArrayPieces(series.timestamps);
  yield "}";
}

/** The answer's JSON text in pieces, reading one series (or one rank group) at a time. */
export function* allMetricsPieces(
  db: StonksDatabase,
  runId: string,
  plan: AllMetricsPlan,
  maxPoints: number | undefined,
): Generator<string> {
  yield "{";
  let first = true;
  for (const { key } of plan.plain) {
    if (!first) yield ",";
    first = false;
    const series =
      maxPoints === undefined ? db.getMetrics(runId, key) : db.getSeries([{ runId, key }], { maxPoints })[0];
    yield* seriesEntryPieces({ ...series, key }, []);
  }
  for (const { key, rankKeys } of plan.ranked) {
    if (!first) yield ",";
    first = false;
    const combined = downsampleCombined(
      combineRanks(
        key,
        rankKeys.map((rankKey) => db.getMetrics(runId, rankKey)),
      ),
      maxPoints,
    );
    yield* seriesEntryPieces(combined, [
      ["values_min", combined.valuesMin],
      ["values_max", combined.valuesMax],
    ]);
  }
  yield "}";
}
