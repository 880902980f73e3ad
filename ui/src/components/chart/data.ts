import type { Run } from "../../api/types";
import { type Derived, extendEma, extendOffset, lowerBound } from "../../lib/series";
import { type SeriesData, type StepRange, seriesStore } from "../../state/series";
import type { XAxis } from "../../state/view";
import type { Drawn } from "./types";

/** Relative times and smoothed values per held series, extended as live points arrive instead of rebuilt per redraw. */
export const derived = new WeakMap<SeriesData, { rel?: Derived; ema?: Derived }>();

export function derivedOf(data: SeriesData): { rel?: Derived; ema?: Derived } {
  let d = derived.get(data);
  if (!d) {
    d = {};
    derived.set(data, d);
  }
  return d;
}

export function xsOf(data: SeriesData, xAxis: XAxis, run: Run): Float64Array {
  if (xAxis === "step") return data.steps;
  if (xAxis === "wall") return data.times;
  const d = derivedOf(data);
  d.rel = extendOffset(d.rel, data.times, data.length, run.created_at);
  return d.rel.out;
}

export function smoothOf(data: SeriesData, weight: number): Float64Array {
  const d = derivedOf(data);
  d.ema = extendEma(d.ema, data.values, data.length, weight);
  return d.ema.out;
}

/** Reorders a series by x when its points are not in x order (wall time of a resumed run, say). */
export function sortByX(xs: Float64Array, steps: Float64Array, values: Float64Array, n: number) {
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const pick = (a: Float64Array) => Float64Array.from(order, (i) => a[i]);
  return { xs: pick(xs), steps: pick(steps), values: pick(values) };
}

/** The step range a zoom on a time axis covers, with one point more on each side so lines reach the edges. */
export function stepRangeOfTimeZoom(runs: Run[], key: string, xAxis: XAxis, zoom: [number, number]): StepRange | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const run of runs) {
    const data = seriesStore.get(run.id, key, null);
    if (!data?.hasTimes) return null;
    if (data.length === 0) continue;
    const xs = xsOf(data, xAxis, run);
    const i0 = Math.max(0, lowerBound(xs, data.length, zoom[0]) - 1);
    const i1 = Math.min(data.length - 1, lowerBound(xs, data.length, zoom[1]));
    if (i0 > i1) continue;
    lo = Math.min(lo, data.steps[i0]);
    hi = Math.max(hi, data.steps[i1]);
  }
  return Number.isFinite(lo) && Number.isFinite(hi) ? [Math.floor(lo), Math.ceil(hi)] : null;
}

/**
 * How many points of the x metric are fetched per run: up to this many in the window, the server
 * sends every point, so each y point's step finds its own x value (an exact join). Past it the x
 * series comes as bucket extremes and a y step between two of them gets the value interpolated
 * between them (off by at most one bucket of x, which is marked downsampled); zooming in makes it
 * exact again. The y metric keeps its own downsampling, whose min and max buckets keep its peaks:
 * asking both at the same downsampling would pick different steps in each, and join few of them.
 * One x fetch per run serves every chart on that axis.
 */
export const X_METRIC_POINTS = 100_000;

/** A y series against the x metric's values at the same steps, in x order. */
export interface Joined {
  xs: Float64Array;
  steps: Float64Array;
  values: Float64Array;
  length: number;
  /** Whether x never decreases as the step grows; when it does, the points were sorted by x. */
  monotonic: boolean;
}

const joins = new WeakMap<SeriesData, { x: SeriesData; yLength: number; xLength: number; joined: Joined }>();

/**
 * Pairs each y point with the x metric's value at its step. Both series come ordered by step; a
 * step the x metric has no value for is left out, except between two points of a downsampled x
 * series, where the x value is interpolated (see X_METRIC_POINTS).
 */
export function joinByStep(y: SeriesData, x: SeriesData): Joined {
  const held = joins.get(y);
  if (held && held.x === x && held.yLength === y.length && held.xLength === x.length) return held.joined;
  const xs = new Float64Array(y.length);
  const steps = new Float64Array(y.length);
  const values = new Float64Array(y.length);
  let n = 0;
  let j = 0;
  let monotonic = true;
  for (let i = 0; i < y.length; i++) {
    const step = y.steps[i];
    while (j < x.length && x.steps[j] < step) j++;
    let xv: number;
    if (j < x.length && x.steps[j] === step) xv = x.values[j];
    else if (x.downsampled && j > 0 && j < x.length) {
      const s0 = x.steps[j - 1];
      xv = x.values[j - 1] + ((x.values[j] - x.values[j - 1]) * (step - s0)) / (x.steps[j] - s0);
    } else continue;
    if (!Number.isFinite(xv)) continue;
    if (n > 0 && xv < xs[n - 1]) monotonic = false;
    xs[n] = xv;
    steps[n] = step;
    values[n] = y.values[i];
    n++;
  }
  let joined: Joined = { xs, steps, values, length: n, monotonic };
  if (!monotonic) joined = { ...sortByX(xs, steps, values, n), length: n, monotonic };
  joins.set(y, { x, yLength: y.length, xLength: x.length, joined });
  return joined;
}

/**
 * The step range a zoom on a metric x axis covers: the steps whose x value falls in the window
 * (wherever they are, for an x that is not monotonic), with one point more on each side.
 */
export function stepRangeOfMetricZoom(runs: Run[], xKey: string, zoom: [number, number]): StepRange | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const run of runs) {
    const x = seriesStore.get(run.id, xKey, null);
    if (!x) return null;
    for (let i = 0; i < x.length; i++) {
      if (!(x.values[i] >= zoom[0] && x.values[i] <= zoom[1])) continue;
      lo = Math.min(lo, x.steps[Math.max(0, i - 1)]);
      hi = Math.max(hi, x.steps[Math.min(x.length - 1, i + 1)]);
    }
  }
  return Number.isFinite(lo) && Number.isFinite(hi) ? [Math.floor(lo), Math.ceil(hi)] : null;
}

/** Min and max of the lines over a window: the points inside and the values where the lines cross its edges. */
export function yExtent(drawn: Drawn[], window: [number, number], log: boolean): [number, number] | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const take = (v: number) => {
    if (!Number.isFinite(v) || (log && v <= 0)) return;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  };
  for (const d of drawn) {
    for (const ys of d.smooth ? [d.values, d.smooth] : [d.values]) {
      const first = lowerBound(d.xs, d.length, window[0]);
      let i = first;
      for (; i < d.length && d.xs[i] <= window[1]; i++) take(ys[i]);
      for (const [a, b, x] of [
        [first - 1, first, window[0]],
        [i - 1, i, window[1]],
      ]) {
        if (a < 0 || b >= d.length || d.xs[b] === d.xs[a]) continue;
        take(ys[a] + ((ys[b] - ys[a]) * (x - d.xs[a])) / (d.xs[b] - d.xs[a]));
      }
    }
  }
  return lo <= hi ? [lo, hi] : null;
}
