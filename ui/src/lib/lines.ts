import type uPlot from "uplot";
import { lowerBound } from "./series.js";

/**
 * Chart lines built straight from each run's own arrays, and stroked as hairlines
 * (one device pixel wide) where they can be.
 *
 * Runs downsampled by min/max keep the steps of their extremes, so no two runs share
 * x values: put on one shared x array (as uPlot's data wants) 24 lines of 500 points
 * become 48 arrays of 12,000 mostly empty slots, which uPlot scans on every redraw.
 * The charts give uPlot only each line's extent (for the scales) and draw every line
 * from its own points.
 *
 * Without a GPU, Chromium rasterises a canvas' lines on the main thread, and a stroke
 * wider than one device pixel costs an order of magnitude more than a hairline (its
 * outline is built and filled with anti-aliasing): 24 lines of 500 points at 1.75 px
 * take about 20 ms, as hairlines about 1.5 ms. A line meant to be up to two device
 * pixels wide is drawn as the same hairline three times, nudged down and right by the
 * extra width, which looks the same at a fraction of the cost.
 */

/**
 * Device-pixel offsets of the hairline copies that make a line `width` device pixels wide,
 * or null to stroke it as it is (a hairline already, or too wide to fake).
 */
export function hairlineOffsets(width: number): [number, number][] | null {
  if (width <= 1 || width > 2) return null;
  const extra = width - 1;
  return [
    [0, 0],
    [0, extra],
    [extra, 0],
  ];
}

/** What a line is drawn into: the browser's Path2D (this module is also type-checked for Node, in the tests). */
export interface PathSink {
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
}

/** One line to draw: x and y arrays of which the first `length` points count. */
export interface Line {
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  length: number;
}

/** The smallest and largest y a line shows (only positive ones on a log scale), or null without any. */
export function lineExtent(line: Line, log: boolean): [number, number] | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < line.length; i++) {
    const v = line.ys[i];
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** The index of a line's only drawable point, or -1 when it has none or several (a line needs two; one gets a dot). */
export function onlyPoint(line: Line, log: boolean): number {
  let found = -1;
  for (let i = 0; i < line.length; i++) {
    const v = line.ys[i];
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    if (found >= 0) return -1;
    found = i;
  }
  return found;
}

/** Canvas x of a value on the plot's x scale (linear: steps, seconds), as u.valToPos(v, "x", true) without its per-call lookups. */
export function xToPixels(u: uPlot): (v: number) => number {
  const min = u.scales.x.min ?? 0;
  const max = u.scales.x.max ?? 1;
  const { left, width } = u.bbox;
  const k = width / (max - min || 1);
  return (v) => left + (v - min) * k;
}

/** Canvas y of a value on the plot's y scale, linear or log. */
export function yToPixels(u: uPlot): (v: number) => number {
  const log = u.scales.y.distr === 3;
  const f = log ? Math.log10 : (v: number) => v;
  const min = f(u.scales.y.min ?? 0);
  const max = f(u.scales.y.max ?? 1);
  const { top, height } = u.bbox;
  const k = height / (max - min || 1);
  return (v) => top + height - (f(v) - min) * k;
}

/** What a drawn path depends on besides its arrays: scales, plot box and width. */
export function plotSignature(u: uPlot, extra: number): string {
  const { left, top, width, height } = u.bbox;
  return `${u.scales.x.min}|${u.scales.x.max}|${u.scales.y.min}|${u.scales.y.max}|${u.scales.y.distr}|${left}|${top}|${width}|${height}|${extra}`;
}

/**
 * Paths kept per y array, reused while the array, its length, its x array and the plot's
 * scales are the same: moving the smoothing slider redraws only the smoothed lines' paths.
 * A series' arrays only ever grow in place (or are replaced), so this says when they changed.
 */
export class PathCache<T> {
  private byYs = new WeakMap<object, { xs: object; length: number; signature: string; value: T }>();

  get(line: Line, signature: string, build: () => T): T {
    const held = this.byYs.get(line.ys);
    if (held && held.xs === line.xs && held.length === line.length && held.signature === signature) return held.value;
    const value = build();
    this.byYs.set(line.ys, { xs: line.xs, length: line.length, signature, value });
    return value;
  }
}

/**
 * The line's path in canvas pixels over the x scale's window (and one point beyond each
 * edge), skipping points the y scale cannot show. Points falling in the same pixel column
 * become that column's first, lowest, highest and last value, as uPlot's own paths do.
 */
export function linePath<P extends PathSink>(u: uPlot, line: Line, path: P): P {
  const toX = xToPixels(u);
  const toY = yToPixels(u);
  const log = u.scales.y.distr === 3;
  const xMin = u.scales.x.min ?? Number.NEGATIVE_INFINITY;
  const xMax = u.scales.x.max ?? Number.POSITIVE_INFINITY;
  const from = Math.max(0, lowerBound(line.xs, line.length, xMin) - 1);
  const to = Math.min(line.length, lowerBound(line.xs, line.length, xMax) + 1);
  let started = false;
  let col = Number.NaN;
  let first = 0;
  let low = 0;
  let high = 0;
  let last = 0;
  const flush = () => {
    if (started) path.lineTo(col, first);
    else path.moveTo(col, first);
    started = true;
    let pen = first;
    if (low < first) {
      path.lineTo(col, low);
      pen = low;
    }
    if (high > first) {
      path.lineTo(col, high);
      pen = high;
    }
    if (last !== pen) path.lineTo(col, last);
  };
  for (let i = from; i < to; i++) {
    const v = line.ys[i];
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    const x = Math.round(toX(line.xs[i]));
    const y = Math.round(toY(v));
    if (x === col) {
      if (y < low) low = y;
      if (y > high) high = y;
      last = y;
      continue;
    }
    if (!Number.isNaN(col)) flush();
    col = x;
    first = low = high = last = y;
  }
  if (!Number.isNaN(col)) flush();
  return path;
}
