/**
 * The sweep views' math: ranks and Spearman's rank correlation, the scales
 * that place values on an axis (linear, log, categorical), their ticks, and
 * the colour scale of the metric. Pure functions, no DOM.
 */

/** 1-based ranks of `values`; tied values share the mean of the ranks they span. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  let start = 0;
  while (start < n) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    // Positions start..end-1 hold ranks start+1..end: their mean.
    const rank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) ranks[order[i]] = rank;
    start = end;
  }
  return ranks;
}

/** Pearson's correlation of two equally long samples; NaN when either is constant or shorter than 2. */
export function pearson(xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2 || ys.length !== n) return Number.NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - mx;
    const dy = ys[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return Number.NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

export interface Correlation {
  /** Spearman's rho; NaN when it is undefined (fewer than 2 pairs, or a constant side). */
  rho: number;
  /** How many pairs had both values. */
  n: number;
}

/**
 * Spearman's rank correlation over the pairs where both values are finite
 * numbers (Pearson's correlation of the average ranks, which handles ties).
 */
export function spearman(
  xs: ArrayLike<number | null | undefined>,
  ys: ArrayLike<number | null | undefined>,
): Correlation {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const x = xs[i];
    const y = ys[i];
    if (typeof x === "number" && typeof y === "number" && Number.isFinite(x) && Number.isFinite(y)) {
      a.push(x);
      b.push(y);
    }
  }
  return { rho: pearson(averageRanks(a), averageRanks(b)), n: a.length };
}

/** A numeric axis: maps a value to [0, 1] (0 at the domain's low end) and back. */
export interface NumericScale {
  kind: "linear" | "log";
  domain: [number, number];
  toUnit(value: number): number;
  fromUnit(unit: number): number;
}

export function linearScale(lo: number, hi: number): NumericScale {
  // A constant axis puts its one value in the middle.
  const [a, b] = lo === hi ? [lo - 1, hi + 1] : [lo, hi];
  return {
    kind: "linear",
    domain: [lo, hi],
    toUnit: (v) => (v - a) / (b - a),
    fromUnit: (u) => a + u * (b - a),
  };
}

export function logScale(lo: number, hi: number): NumericScale {
  const [a, b] = lo === hi ? [Math.log10(lo) - 1, Math.log10(hi) + 1] : [Math.log10(lo), Math.log10(hi)];
  return {
    kind: "log",
    domain: [lo, hi],
    toUnit: (v) => (Math.log10(v) - a) / (b - a),
    fromUnit: (u) => 10 ** (a + u * (b - a)),
  };
}

/**
 * The scale for these values: log when every value is positive and they span
 * at least two decades (learning rates, weight decays), else linear.
 */
export function numericScale(values: readonly number[]): NumericScale {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (values.length === 0) return linearScale(0, 1);
  return lo > 0 && hi / lo >= 100 ? logScale(lo, hi) : linearScale(lo, hi);
}

/** "Nice" tick values (1, 2, 5 × 10^k steps) inside [lo, hi], about `count` of them. */
export function linearTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo) || count < 1) return Number.isFinite(lo) ? [lo] : [];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) {
    // Rounded through the step's own decimals, so 0.30000000000000004 reads 0.3.
    ticks.push(Number((k * step).toPrecision(12)));
  }
  return ticks;
}

/** Powers of ten inside [lo, hi]; the ends themselves when no power falls inside. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.ceil(Math.log10(lo) - 1e-9); 10 ** e <= hi * (1 + 1e-9); e++)
    ticks.push(Number((10 ** e).toPrecision(12)));
  return ticks.length > 0 ? ticks : [lo, hi];
}

export function scaleTicks(scale: NumericScale, count: number): number[] {
  const [lo, hi] = scale.domain;
  return scale.kind === "log" ? logTicks(lo, hi) : linearTicks(lo, hi, count);
}

/** Categories evenly spaced along [0, 1], first at 0 (one category sits in the middle). */
export function categoryUnit(index: number, count: number): number {
  return count <= 1 ? 0.5 : index / (count - 1);
}

/** Viridis, sampled: dark purple (low) through teal to yellow (high); readable on both themes. */
const VIRIDIS: readonly [number, number, number][] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 73, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [110, 206, 88],
  [181, 222, 43],
  [253, 231, 37],
];

/** The colour of a unit value (clamped to [0, 1]) on the metric's colour scale, as #rrggbb. */
export function colorAt(unit: number): string {
  const u = Math.max(0, Math.min(1, Number.isFinite(unit) ? unit : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const t = u - i;
  const channel = (c: number) => Math.round(VIRIDIS[i][c] + (VIRIDIS[i + 1][c] - VIRIDIS[i][c]) * t);
  return `#${[0, 1, 2].map((c) => channel(c).toString(16).padStart(2, "0")).join("")}`;
}

/** The colour scale as a CSS gradient, low to high from left to right. */
export function colorGradient(): string {
  return `linear-gradient(to right, ${VIRIDIS.map((_, i) => colorAt(i / (VIRIDIS.length - 1))).join(", ")})`;
}
