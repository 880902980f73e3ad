/**
 * The grouped aggregate of docs/grouping.md: per step bucket, statistics across
 * runs of each run's mean value in that bucket. Pure; the additions follow the
 * rule's order exactly (a run's points or spans by step, runs in the order
 * given), so the numbers equal the Python reader's
 * (tests/vectors/reads/group-aggregates.json).
 */
import type { GroupAggregateJson } from "../contract/groups.js";
import type { StepValueSpans } from "../store/reads.js";

/** One run's points inside the window, by step (ties in logging order). */
export interface RunPoints {
  steps: ArrayLike<number>;
  values: ArrayLike<number>;
}

/** A run's window as points and rollup spans (readGroupWindow): a span counts in the bucket of its mean step. */
export type RunSpans = StepValueSpans;

function isSpans(run: RunPoints | RunSpans): run is RunSpans {
  return "counts" in run;
}

function emptyAggregate(): GroupAggregateJson {
  return { steps: [], mean: [], std: [], stderr: [], min: [], max: [], count: [], first_step: null, last_step: null };
}

/** Smallest and largest step of the finite points of all runs, or null when there are none. */
function finiteExtent(runs: readonly (RunPoints | RunSpans)[]): [number, number] | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const run of runs) {
    if (isSpans(run)) {
      if (run.extent === null) continue;
      lo = Math.min(lo, run.extent[0]);
      hi = Math.max(hi, run.extent[1]);
      continue;
    }
    const n = run.values.length;
    let first = 0;
    while (first < n && !Number.isFinite(run.values[first])) first++;
    if (first === n) continue;
    let last = n - 1;
    while (!Number.isFinite(run.values[last])) last--;
    lo = Math.min(lo, run.steps[first]);
    hi = Math.max(hi, run.steps[last]);
  }
  return lo === Number.POSITIVE_INFINITY ? null : [lo, hi];
}

/**
 * Appends, per bucket a run reaches, its mean step and mean value there. Entry i
 * is counts[i] points (one when counts is null) whose steps and values add up
 * to steps[i] and values[i]; entries are by step, a span placed at its mean step.
 */
function addRunMeans(
  steps: Float64Array,
  values: Float64Array,
  counts: Float64Array | null,
  lo: number,
  width: number,
  buckets: number,
  cellSteps: number[][],
  cellValues: number[][],
): void {
  const n = values.length;
  let bucket = -1;
  let stepSum = 0;
  let valueSum = 0;
  let points = 0;
  for (let i = 0; i < n; i++) {
    const value = values[i];
    if (!Number.isFinite(value)) continue;
    const step = steps[i];
    const count = counts === null ? 1 : counts[i];
    const b = width <= 0 ? 0 : Math.min(buckets - 1, Math.floor((step / count - lo) / width));
    if (b !== bucket) {
      if (points > 0) {
        cellSteps[bucket].push(stepSum / points);
        cellValues[bucket].push(valueSum / points);
      }
      bucket = b;
      stepSum = 0;
      valueSum = 0;
      points = 0;
    }
    stepSum += step;
    valueSum += value;
    points += count;
  }
  if (points > 0) {
    cellSteps[bucket].push(stepSum / points);
    cellValues[bucket].push(valueSum / points);
  }
}

/**
 * `buckets` step buckets over [minStep, maxStep] (an infinite side is open:
 * the runs' smallest or largest step); runs are expected already cut to that
 * range. Buckets no run reaches are left out.
 */
export function aggregateGroup(
  runs: readonly (RunPoints | RunSpans)[],
  buckets: number,
  minStep = Number.NEGATIVE_INFINITY,
  maxStep = Number.POSITIVE_INFINITY,
): GroupAggregateJson {
  const extent = finiteExtent(runs);
  if (extent === null) return emptyAggregate();
  const lo = minStep === Number.NEGATIVE_INFINITY ? extent[0] : minStep;
  const hi = maxStep === Number.POSITIVE_INFINITY ? extent[1] : maxStep;
  const width = (hi - lo) / buckets;
  // Per bucket, each contributing run's mean step and mean value, runs in the order given.
  const cellSteps: number[][] = Array.from({ length: buckets }, () => []);
  const cellValues: number[][] = Array.from({ length: buckets }, () => []);
  for (const run of runs) {
    if (isSpans(run)) {
      addRunMeans(run.stepSums, run.valueSums, run.counts, lo, width, buckets, cellSteps, cellValues);
      continue;
    }
    // Typed arrays keep the loop below monomorphic: it visits every point of every run.
    const steps = run.steps instanceof Float64Array ? run.steps : Float64Array.from(run.steps);
    const values = run.values instanceof Float64Array ? run.values : Float64Array.from(run.values);
    addRunMeans(steps, values, null, lo, width, buckets, cellSteps, cellValues);
  }
  const out = emptyAggregate();
  out.first_step = extent[0];
  out.last_step = extent[1];
  for (let b = 0; b < buckets; b++) {
    const values = cellValues[b];
    const n = values.length;
    if (n === 0) continue;
    let sum = 0;
    let stepSum = 0;
    let min = values[0];
    let max = values[0];
    for (let i = 0; i < n; i++) {
      sum += values[i];
      stepSum += cellSteps[b][i];
      if (values[i] < min) min = values[i];
      if (values[i] > max) max = values[i];
    }
    const mean = sum / n;
    let squares = 0;
    for (const v of values) squares += (v - mean) * (v - mean);
    const std = n > 1 ? Math.sqrt(squares / (n - 1)) : 0;
    out.steps.push(stepSum / n);
    out.mean.push(mean);
    out.std.push(std);
    out.stderr.push(std / Math.sqrt(n));
    out.min.push(min);
    out.max.push(max);
    out.count.push(n);
  }
  return out;
}

export interface GroupSeriesOptions {
  /** How many step buckets the window is cut into (at least 1). */
  buckets: number;
  /** Lowest step of the window; open (the runs' smallest step) when left out. */
  minStep?: number;
  /** Highest step of the window; open (the runs' largest step) when left out. */
  maxStep?: number;
}

/**
 * What StonksDatabase.getGroupSeries returns: the aggregate with the runs it was asked for, and
 * where the data begins and ends (the wire's first_step and last_step).
 */
export interface GroupSeries extends Omit<GroupAggregateJson, "first_step" | "last_step"> {
  firstStep: number | null;
  lastStep: number | null;
  key: string;
  runIds: string[];
  /** Runs (counted as listed) that logged the key at all. */
  runsWithKey: number;
}
