/** Numeric helpers for chart data: smoothing, relative time, nearest-point search. */

/** An array derived point by point from a series that only grows, with what it needs to go on. */
export interface Derived {
  out: Float64Array;
  length: number;
  /** EMA state after out[length - 1]. */
  last: number;
  norm: number;
  param: number;
}

function room(prev: Derived | undefined, length: number, param: number): Derived {
  if (!prev || prev.param !== param || prev.length > length) {
    return { out: new Float64Array(Math.max(64, length * 2)), length: 0, last: 0, norm: 0, param };
  }
  if (prev.out.length < length) {
    const out = new Float64Array(length * 2);
    out.set(prev.out.subarray(0, prev.length));
    prev.out = out;
  }
  return prev;
}

/**
 * Exponential moving average with bias correction (the TensorBoard / W&B smoothing)
 * of a growing series, computing only the points added since `prev` (live updates
 * redraw every frame: the history is not smoothed again each time).
 */
export function extendEma(
  prev: Derived | undefined,
  values: ArrayLike<number>,
  length: number,
  weight: number,
): Derived {
  const d = room(prev, length, weight);
  let { last, norm } = d;
  for (let i = d.length; i < length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      d.out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    norm = norm * weight + (1 - weight);
    d.out[i] = last / norm;
  }
  d.last = last;
  d.norm = norm;
  d.length = length;
  return d;
}

/**
 * The whole series' EMA again, into `buffer`'s array where it is long enough: a smoothing
 * slider drag recomputes every line on each move, and fresh arrays each time make garbage
 * whose collection lands in later frames.
 */
export function recomputeEma(
  buffer: Derived | undefined,
  values: ArrayLike<number>,
  length: number,
  weight: number,
): Derived {
  if (buffer) Object.assign(buffer, { length: 0, last: 0, norm: 0, param: weight });
  return extendEma(buffer, values, length, weight);
}

/** xs - origin of a growing series (relative time), computing only the points added since `prev`. */
export function extendOffset(
  prev: Derived | undefined,
  xs: ArrayLike<number>,
  length: number,
  origin: number,
): Derived {
  const d = room(prev, length, origin);
  for (let i = d.length; i < length; i++) d.out[i] = xs[i] - origin;
  d.length = length;
  return d;
}

/** Index of the point whose x is nearest to target in a sorted array, or -1 when empty. */
export function nearestIndex(xs: ArrayLike<number>, length: number, target: number): number {
  if (length === 0) return -1;
  const lo = Math.min(lowerBound(xs, length, target), length - 1);
  if (lo > 0 && Math.abs(xs[lo - 1] - target) <= Math.abs(xs[lo] - target)) return lo - 1;
  return lo;
}

/** First index with xs[i] >= target. */
export function lowerBound(xs: ArrayLike<number>, length: number, target: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** True when xs is sorted ascending. */
export function isSorted(xs: ArrayLike<number>, length: number): boolean {
  for (let i = 1; i < length; i++) if (xs[i] < xs[i - 1]) return false;
  return true;
}
