/** Numeric helpers for chart data: smoothing, alignment of several series, nearest-point search. */

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

export type YValues = Float64Array | (number | null | undefined)[];

export interface Aligned {
  x: Float64Array;
  /** Per input series, its y arrays (raw, smoothed...) on the shared x. */
  ys: YValues[][];
}

/**
 * The index of the longest x array when every other one is a prefix of it
 * (runs logging the same steps, some further along: the usual live case), else -1.
 */
function sharedPrefix(xs: Float64Array[], lengths: number[]): number {
  let longest = 0;
  for (let s = 1; s < xs.length; s++) if (lengths[s] > lengths[longest]) longest = s;
  const a = xs[longest];
  for (let s = 0; s < xs.length; s++) {
    const b = xs[s];
    if (b === a) continue;
    for (let i = 0; i < lengths[s]; i++) if (a[i] !== b[i]) return -1;
  }
  return longest;
}

/**
 * Puts several series on one shared, sorted x array, as uPlot wants. Each input
 * series has one x array and any number of y arrays over it. When the xs agree
 * (runs logged at the same steps, maybe not as far yet) the arrays are used as
 * they are; otherwise x is the union and each y has holes where it has no point.
 */
export function alignSeries(xs: Float64Array[], ys: Float64Array[][], lengths: number[]): Aligned {
  if (xs.length === 0) return { x: new Float64Array(0), ys: [] };
  const longest = sharedPrefix(xs, lengths);
  if (longest >= 0) {
    // Shorter series simply end early: reading past a typed array's end gives undefined, a hole to uPlot.
    return {
      x: xs[longest].subarray(0, lengths[longest]),
      ys: ys.map((group, s) => group.map((y) => y.subarray(0, lengths[s]))),
    };
  }
  let total = 0;
  for (const n of lengths) total += n;
  const all = new Float64Array(total);
  let offset = 0;
  for (let s = 0; s < xs.length; s++) {
    all.set(xs[s].subarray(0, lengths[s]), offset);
    offset += lengths[s];
  }
  all.sort();
  let unique = 0;
  for (let i = 0; i < total; i++) {
    if (i === 0 || all[i] !== all[unique - 1]) all[unique++] = all[i];
  }
  const x = all.slice(0, unique);
  const out: YValues[][] = new Array(xs.length);
  for (let s = 0; s < xs.length; s++) {
    const sx = xs[s];
    const n = lengths[s];
    const cols = ys[s].map(() => new Array<number | null | undefined>(unique));
    let j = 0;
    for (let i = 0; i < n; i++) {
      const v = sx[i];
      while (x[j] < v) j++;
      for (let c = 0; c < cols.length; c++) cols[c][j] = ys[s][c][i];
    }
    out[s] = cols;
  }
  return { x, ys: out };
}

/** Values a log scale cannot show (zero, negative) become holes. */
export function maskNonPositive(y: YValues): YValues {
  let needs = false;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v !== null && v !== undefined && v <= 0) {
      needs = true;
      break;
    }
  }
  if (!needs) return y;
  const out: (number | null | undefined)[] = new Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    out[i] = v !== null && v !== undefined && v > 0 ? v : undefined;
  }
  return out;
}

/** True when xs is sorted ascending. */
export function isSorted(xs: ArrayLike<number>, length: number): boolean {
  for (let i = 1; i < length; i++) if (xs[i] < xs[i - 1]) return false;
  return true;
}
