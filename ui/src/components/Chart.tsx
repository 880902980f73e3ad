import { memo, useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import uPlot from "uplot";
import type { Run } from "../api/types";
import { axisWidth, linearTickLabels, logTickLabels, STEP_INCRS } from "../lib/axes";
import { runColor, withAlpha } from "../lib/colors";
import { formatNumber } from "../lib/format";
import { cancelFrame, onNextFrame } from "../lib/frame";
import {
  type Line,
  lineExtent,
  linePath,
  onlyPoint,
  PathCache,
  plotSignature,
  xToPixels,
  yToPixels,
} from "../lib/lines";
import { type Derived, extendEma, extendOffset, isSorted, lowerBound, nearestIndex, recomputeEma } from "../lib/series";
import { strokePaths } from "../lib/strokes";
import { setHoveredRun } from "../state/hover";
import { markOnce } from "../state/perf";
import { type SeriesData, type StepRange, seriesStore } from "../state/series";
import { chartColors, type Theme } from "../state/theme";
import type { XAxis, YRange } from "../state/view";

export interface ChartProps {
  metricKey: string;
  runs: Run[];
  xAxis: XAxis;
  smoothing: number;
  logY: boolean;
  zoom: [number, number] | null;
  onZoom(zoom: [number, number] | null): void;
  theme: Theme;
  /** Plot height in pixels (default HEIGHT). */
  height?: number;
  /** The y range; uPlot's own fit when left out. */
  yRange?: YRange;
  /** The y axis' title (a unit such as "%" or "GB"); none when left out. */
  yLabel?: string;
}

const DEFAULT_HEIGHT = 220;
const SYNC_KEY = "stonks-charts";
const TOOLTIP_ROWS = 12;
/** How far (CSS pixels) beyond a run's first or last point the pointer still reads that run. */
const NEAR_PX = 8;
const REL_INCRS = [
  1,
  2,
  5,
  10,
  15,
  30,
  60,
  120,
  300,
  600,
  900,
  1800,
  3600,
  7200,
  3 * 3600,
  6 * 3600,
  12 * 3600,
  86400,
  2 * 86400,
  7 * 86400,
];

/** A run's point marked under the pointer. */
interface Mark {
  x: number;
  y: number;
  color: string;
}

/** A line of the plot and its run's color (for the dot a single point gets). */
interface ColoredLine extends Line {
  color: string;
}

/** A run's series in the plot: its values, and their smoothing (drawn only while smoothing is on). */
const SERIES_PER_RUN = 2;

/**
 * Plot series for `runs` runs. They are not tied to runs: each draws the line the last redraw
 * gave its index, in that line's color, so a new set of runs changes no series (uPlot's
 * delSeries fails without cursor markers) and spare series draw nothing.
 */
function plotSeries(
  runs: number,
  lines: { current: (ColoredLine | null)[] },
  props: { current: ChartProps },
  paths: uPlot.Series.PathBuilder,
): uPlot.Series[] {
  const stroke = (_u: uPlot, si: number) => {
    const line = lines.current[si];
    if (!line) return "transparent";
    // Under its smoothed line a run's own values are drawn faint.
    return si % SERIES_PER_RUN === 1 && props.current.smoothing > 0 ? withAlpha(line.color, 0.25) : line.color;
  };
  return Array.from({ length: runs * SERIES_PER_RUN }, () => ({
    stroke,
    spanGaps: true,
    points: { show: false },
    paths,
  }));
}

/** One run's series as drawn: its own x and y arrays before alignment (tooltips and envelopes read these). */
interface Drawn {
  run: Run;
  color: string;
  xs: Float64Array;
  steps: Float64Array;
  values: Float64Array;
  smooth: Float64Array | null;
  length: number;
  downsampled: boolean;
}

interface Status {
  loading: boolean;
  error: string | null;
  downsampled: boolean;
  points: number;
}

function formatRelative(seconds: number): string {
  const s = Math.round(seconds);
  if (Math.abs(s) < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (Math.abs(m) < 60) return s % 60 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h${String(m % 60).padStart(2, "0")}m` : `${h}h`;
}

function formatX(xAxis: XAxis, value: number): string {
  if (xAxis === "wall") return new Date(value * 1000).toLocaleString();
  if (xAxis === "rel") return formatRelative(value);
  return `step ${formatNumber(Math.round(value))}`;
}

function runLabel(run: Run): string {
  return run.name ?? run.id.slice(0, 8);
}

/** Relative times and smoothed values per held series, extended as live points arrive instead of rebuilt per redraw. */
const derived = new WeakMap<SeriesData, { rel?: Derived; ema?: Derived }>();

function derivedOf(data: SeriesData): { rel?: Derived; ema?: Derived } {
  let d = derived.get(data);
  if (!d) {
    d = {};
    derived.set(data, d);
  }
  return d;
}

function xsOf(data: SeriesData, xAxis: XAxis, run: Run): Float64Array {
  if (xAxis === "step") return data.steps;
  if (xAxis === "wall") return data.times;
  const d = derivedOf(data);
  d.rel = extendOffset(d.rel, data.times, data.length, run.created_at);
  return d.rel.out;
}

function smoothOf(data: SeriesData, weight: number): Float64Array {
  const d = derivedOf(data);
  d.ema = extendEma(d.ema, data.values, data.length, weight);
  return d.ema.out;
}

/** Reorders a series by x when its points are not in x order (wall time of a resumed run, say). */
function sortByX(xs: Float64Array, steps: Float64Array, values: Float64Array, n: number) {
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const pick = (a: Float64Array) => Float64Array.from(order, (i) => a[i]);
  return { xs: pick(xs), steps: pick(steps), values: pick(values) };
}

/** The step range a zoom on a time axis covers, with one point more on each side so lines reach the edges. */
function stepRangeOfTimeZoom(runs: Run[], key: string, xAxis: XAxis, zoom: [number, number]): StepRange | null {
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

/** Min and max of the lines over a window: the points inside and the values where the lines cross its edges. */
function yExtent(drawn: Drawn[], window: [number, number], log: boolean): [number, number] | null {
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

/** Highlight layers with nothing drawn on them. */
const clearLayers = new WeakSet<HTMLCanvasElement>();

/**
 * Draws the highlighted run's line, wider, on a canvas of its own over the plot:
 * the highlight follows the pointer, and redrawing every line of the chart for
 * each move would cost more than a frame.
 */
function drawHighlight(u: uPlot, canvas: HTMLCanvasElement, d: Drawn | undefined, marks: Mark[]): void {
  const dpr = devicePixelRatio || 1;
  const width = Math.round(u.over.clientWidth * dpr);
  const height = Math.round(u.over.clientHeight * dpr);
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
    clearLayers.add(canvas);
  }
  const nothing = (!d || d.length === 0) && marks.length === 0;
  // A layer already clear stays as it is: clearing it again still costs a rasterised frame per chart.
  if (nothing && clearLayers.has(canvas)) return;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.clearRect(0, 0, width, height);
  if (nothing) clearLayers.add(canvas);
  else clearLayers.delete(canvas);
  for (const m of marks) {
    if (!Number.isFinite(m.y) || (u.scales.y.distr === 3 && m.y <= 0)) continue;
    ctx.beginPath();
    ctx.arc(u.valToPos(m.x, "x") * dpr, u.valToPos(m.y, "y") * dpr, 3 * dpr, 0, 2 * Math.PI);
    ctx.fillStyle = m.color;
    ctx.fill();
  }
  if (!d || d.length === 0) return;
  const ys = d.smooth ?? d.values;
  const log = u.scales.y.distr === 3;
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < d.length; i++) {
    const v = ys[i];
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    const px = u.valToPos(d.xs[i], "x") * dpr;
    const py = u.valToPos(v, "y") * dpr;
    if (pen) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    pen = true;
  }
  ctx.strokeStyle = d.color;
  ctx.lineWidth = 3 * dpr;
  ctx.lineJoin = "round";
  ctx.stroke();
}

/** Each run's min/max envelope as drawn, kept while its points and the plot's scales stay the same. */
const envelopeCache = new PathCache<Path2D | null>();
/** Each series' stroke, kept the same way (a smoothing change redraws only the smoothed lines' paths). */
const linePathCache = new PathCache<uPlot.Series.Paths>();

function smoothedOrRawPaths(u: uPlot, line: ColoredLine, width: number): uPlot.Series.Paths {
  return linePathCache.get(line, plotSignature(u, width * uPlot.pxRatio), () =>
    strokePaths(linePath(u, line, new Path2D()), width, uPlot.pxRatio),
  );
}

/**
 * Draws the smoothed lines on a canvas of their own over the plot: dragging the smoothing
 * slider then repaints this layer only, while the faint raw lines, envelopes and axes under it
 * stay as they were (redrawing them each move cost more than a frame without a GPU).
 */
function drawSmoothLayer(u: uPlot, canvas: HTMLCanvasElement, lines: (ColoredLine | null)[]): void {
  const width = Math.round(u.over.clientWidth * uPlot.pxRatio);
  const height = Math.round(u.over.clientHeight * uPlot.pxRatio);
  const smoothed: ColoredLine[] = [];
  for (let si = SERIES_PER_RUN; si < lines.length; si += SERIES_PER_RUN) {
    const line = lines[si];
    if (line && u.series[si]?.show !== false) smoothed.push(line);
  }
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
    clearLayers.add(canvas);
  }
  if (smoothed.length === 0 && clearLayers.has(canvas)) return;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.clearRect(0, 0, width, height);
  if (smoothed.length === 0) {
    clearLayers.add(canvas);
    return;
  }
  clearLayers.delete(canvas);
  ctx.save();
  // uPlot's paths are in the whole canvas's pixels; this layer covers the plot area only.
  ctx.translate(-u.bbox.left, -u.bbox.top);
  ctx.beginPath();
  ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
  ctx.clip();
  for (const line of smoothed) {
    const paths = smoothedOrRawPaths(u, line, 1.75);
    const stroke = paths.stroke;
    if (!(stroke instanceof Path2D)) continue;
    ctx.strokeStyle = line.color;
    ctx.lineWidth = ((paths as { _width?: number })._width ?? 1.75) * uPlot.pxRatio;
    ctx.lineJoin = "round";
    ctx.stroke(stroke);
  }
  ctx.restore();
}

/**
 * The shaded band between each pixel column's lowest and highest value: one pixel-wide hairline per
 * column rather than a filled outline, the same shading at a fraction of the cost without a GPU.
 */
function envelopePath(u: uPlot, d: Drawn): Path2D | null {
  const { left, width } = u.bbox;
  const xMin = u.scales.x.min ?? Number.NEGATIVE_INFINITY;
  const xMax = u.scales.x.max ?? Number.POSITIVE_INFINITY;
  const log = u.scales.y.distr === 3;
  const toX = xToPixels(u);
  const toY = yToPixels(u);
  const columns = Math.ceil(width) + 1;
  const lowY = new Float64Array(columns).fill(Number.NEGATIVE_INFINITY);
  const highY = new Float64Array(columns).fill(Number.POSITIVE_INFINITY);
  let first = columns;
  let last = -1;
  for (let i = 0; i < d.length; i++) {
    const xv = d.xs[i];
    if (xv < xMin || xv > xMax) continue;
    const v = d.values[i];
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    const c = Math.round(toX(xv) - left);
    if (c < 0 || c >= columns) continue;
    const py = toY(v);
    if (py > lowY[c]) lowY[c] = py;
    if (py < highY[c]) highY[c] = py;
    if (c < first) first = c;
    if (c > last) last = c;
  }
  if (last < first) return null;
  const path = new Path2D();
  let prev = -1;
  for (let c = first; c <= last; c++) {
    if (!Number.isFinite(highY[c])) continue;
    // Columns between two with points are shaded as the outline joining them would be.
    const from = prev < 0 ? c : prev;
    for (let g = prev < 0 ? c : prev + 1; g <= c; g++) {
      const t = g === from ? 1 : (g - from) / (c - from);
      const hi = highY[from] + (highY[c] - highY[from]) * t;
      const lo = lowY[from] + (lowY[c] - lowY[from]) * t;
      if (lo - hi < 0.5) continue;
      const x = Math.round(left + g) + 0.5;
      path.moveTo(x, hi);
      path.lineTo(x, lo);
    }
    prev = c;
  }
  return path;
}

function envelopePlugin(drawn: () => Drawn[]): uPlot.Plugin {
  return {
    hooks: {
      drawAxes: (u: uPlot) => {
        const list = drawn().filter((d) => d.downsampled && d.length > 0);
        if (list.length === 0) return;
        const { ctx } = u;
        const { left, top, width, height } = u.bbox;
        const signature = plotSignature(u, 0);
        ctx.save();
        ctx.beginPath();
        ctx.rect(left, top, width, height);
        ctx.clip();
        ctx.lineWidth = 1;
        for (const d of list) {
          const path = envelopeCache.get({ xs: d.xs, ys: d.values, length: d.length }, signature, () =>
            envelopePath(u, d),
          );
          if (!path) continue;
          ctx.strokeStyle = withAlpha(d.color, 0.16);
          ctx.stroke(path);
        }
        ctx.restore();
      },
    },
  };
}

/** The pct and 100-pct percentiles of every drawn value (smoothed where smoothing is on), padded a little; null without values. */
function percentileRange(drawn: Drawn[], pct: number, log: boolean): [number, number] | null {
  let total = 0;
  for (const d of drawn) total += d.length;
  const all = new Float64Array(total);
  let n = 0;
  for (const d of drawn) {
    const ys = d.smooth ?? d.values;
    for (let i = 0; i < d.length; i++) {
      const v = ys[i];
      if (Number.isFinite(v) && (!log || v > 0)) all[n++] = v;
    }
  }
  if (n === 0) return null;
  const sorted = all.subarray(0, n).sort();
  const lo = sorted[Math.floor(((n - 1) * pct) / 100)];
  const hi = sorted[Math.ceil(((n - 1) * (100 - pct)) / 100)];
  if (log) return [lo / 1.2, hi * 1.2];
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  return [lo - pad, hi + pad];
}

/** A y scale range function for the chosen range, or undefined for uPlot's own fit. */
function yScaleRange(range: YRange | undefined, log: boolean, drawn: () => Drawn[]): uPlot.Range.Function | undefined {
  if (!range || range.mode === "auto") return undefined;
  return (_u, min, max) => {
    if (range.mode === "manual") {
      const lo = range.min ?? min;
      const hi = range.max ?? max;
      return lo < hi ? [lo, hi] : [lo, lo + 1];
    }
    return percentileRange(drawn(), range.pct, log) ?? [min, max];
  };
}

/** One metric: a uPlot chart with a line per run, synced crosshair, shared tooltip and drag-to-zoom. */
export const Chart = memo(function Chart(props: ChartProps) {
  const { metricKey, runs, xAxis, smoothing, logY, zoom, theme, yLabel } = props;
  const HEIGHT = props.height ?? DEFAULT_HEIGHT;
  const yRangeKey = JSON.stringify(props.yRange ?? null);
  const boxRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<HTMLDivElement>(null);
  const tipRef = useRef<HTMLDivElement>(null);
  const uRef = useRef<uPlot | null>(null);
  const drawnRef = useRef<Drawn[]>([]);
  const propsRef = useRef(props);
  propsRef.current = props;
  const hoveredRef = useRef(false);
  /** The run whose line is nearest the pointer while this chart is hovered; drawn on top, wider. */
  const highlightRef = useRef<string | null>(null);
  const highlightCanvasRef = useRef<HTMLCanvasElement | null>(null);
  const smoothCanvasRef = useRef<HTMLCanvasElement | null>(null);
  /** The smoothing and scale options the plot was last drawn with, to tell a smoothing-only change. */
  const drawnSmoothingRef = useRef(smoothing);
  /** Per run, the array a smoothing-only change smooths into (reused move after move). */
  const smoothBuffersRef = useRef(new Map<string, Derived>());
  /** What each uPlot series draws (by series index; none for x and for runs without data yet). */
  const linesRef = useRef<(ColoredLine | null)[]>([]);
  /** The listed runs' points under the pointer, marked on the highlight layer. */
  const marksRef = useRef<Mark[]>([]);
  /** Series (uPlot index) with a single point to draw, and that point's index: a line needs two, so these get a dot. */
  const singlesRef = useRef(new Map<number, number>());
  /** The tick labels last drawn per axis (x, y), for people inspecting the page and the browser tests. */
  const labelsRef = useRef<string[][]>([[], []]);
  /** The y extent of the lines inside a zoomed window, where they cross its edges included. */
  const yExtentRef = useRef<[number, number] | null>(null);
  const timeRangeRef = useRef<{ signature: string; range: StepRange } | null>(null);
  const statusRef = useRef<Status>({ loading: true, error: null, downsampled: false, points: 0 });
  const [status, setStatus] = useState<Status>(statusRef.current);
  const [visible, setVisible] = useState(false);
  const [width, setWidth] = useState(0);

  const runIds = runs.map((r) => r.id);
  const runKey = runIds.join(",");
  const colorKey = runs.map(runColor).join(",");
  const target = Math.min(2000, Math.max(200, Math.round(width / 100) * 100));
  const targetRef = useRef(target);
  targetRef.current = target;
  const hasWidth = width > 0;
  const zoomSignature = zoom ? `${xAxis}:${zoom[0]}:${zoom[1]}:${runKey}` : "";

  /** The step range to fetch at full detail, or null when not zoomed (or not yet known). */
  const stepRange = useCallback((): StepRange | null => {
    const p = propsRef.current;
    if (!p.zoom) return null;
    if (p.xAxis === "step") return [Math.floor(p.zoom[0]), Math.ceil(p.zoom[1])];
    const signature = `${p.xAxis}:${p.zoom[0]}:${p.zoom[1]}:${p.runs.map((r) => r.id).join(",")}`;
    if (timeRangeRef.current?.signature === signature) return timeRangeRef.current.range;
    const range = stepRangeOfTimeZoom(p.runs, p.metricKey, p.xAxis, p.zoom);
    if (!range) return null;
    timeRangeRef.current = { signature, range };
    return range;
  }, []);

  const redraw = useCallback(() => {
    const u = uRef.current;
    const p = propsRef.current;
    const range = stepRange();
    if (range) {
      seriesStore.request(
        p.metricKey,
        p.runs.map((r) => r.id),
        targetRef.current,
        range,
        p.xAxis !== "step",
      );
    }
    const drawn: Drawn[] = [];
    let downsampled = false;
    let points = 0;
    let missing = false;
    for (const run of p.runs) {
      const data =
        (range ? seriesStore.get(run.id, p.metricKey, range) : undefined) ?? seriesStore.get(run.id, p.metricKey, null);
      // On a time axis, a copy fetched for the step axis (no times) waits for its refetch.
      if (!data || (p.xAxis !== "step" && !data.hasTimes)) {
        missing = true;
        continue;
      }
      let xs = xsOf(data, p.xAxis, run);
      let steps = data.steps;
      let values = data.values;
      let smooth: Float64Array | null = null;
      if (!isSorted(xs, data.length)) {
        ({ xs, steps, values } = sortByX(xs, steps, values, data.length));
        if (p.smoothing > 0) smooth = extendEma(undefined, values, data.length, p.smoothing).out;
      } else if (p.smoothing > 0) smooth = smoothOf(data, p.smoothing);
      downsampled ||= data.downsampled;
      points += data.length;
      drawn.push({
        run,
        color: runColor(run),
        xs,
        steps,
        values,
        smooth,
        length: data.length,
        downsampled: data.downsampled,
      });
    }
    drawnRef.current = drawn;
    yExtentRef.current = p.zoom ? yExtent(drawn, p.zoom, p.logY) : null;
    const next: Status = {
      loading:
        missing ||
        seriesStore.isLoading(
          p.runs.map((r) => r.id),
          p.metricKey,
          range,
        ),
      error: seriesStore.error(p.metricKey) ?? null,
      downsampled,
      points,
    };
    const prev = statusRef.current;
    if (
      prev.loading !== next.loading ||
      prev.error !== next.error ||
      prev.downsampled !== next.downsampled ||
      (prev.points === 0) !== (next.points === 0)
    ) {
      statusRef.current = next;
      setStatus(next);
    } else statusRef.current = next;
    // Until the plot's series follow a new set of runs they do not match: the change redraws.
    if (!u || u.series.length - 1 < p.runs.length * SERIES_PER_RUN) return;
    // uPlot gets each line's extent only (its scales read that); the lines are drawn from their own arrays.
    const byRun = new Map(drawn.map((d) => [d.run.id, d]));
    const lines: (ColoredLine | null)[] = [null];
    const data: (number | null)[][] = [[]];
    let xLo = Number.POSITIVE_INFINITY;
    let xHi = Number.NEGATIVE_INFINITY;
    for (const run of p.runs) {
      const d = byRun.get(run.id);
      for (let c = 0; c < SERIES_PER_RUN; c++) {
        const ys = c === 0 ? d?.values : d?.smooth;
        const line = d && ys ? { xs: d.xs, ys, length: d.length, color: d.color } : null;
        const extent = line ? lineExtent(line, p.logY) : null;
        lines.push(extent ? line : null);
        data.push(extent ?? [null, null]);
        if (d && extent) {
          xLo = Math.min(xLo, d.xs[0]);
          xHi = Math.max(xHi, d.xs[d.length - 1]);
        }
      }
    }
    for (let si = lines.length; si < u.series.length; si++) {
      lines.push(null);
      data.push([null, null]);
    }
    data[0] = xLo <= xHi ? [xLo, xHi] : [];
    if (data[0].length === 0) data.length = 1;
    const singles = new Map<number, number>();
    for (let si = 1; si < lines.length; si++) {
      const line = lines[si];
      const only = line ? onlyPoint(line, p.logY) : -1;
      if (only >= 0) singles.set(si, only);
    }
    linesRef.current = lines;
    singlesRef.current = singles;
    // Drawn now rather than in uPlot's own microtask, so the frame that asked for it pays for it (and measures it).
    u.batch(() => u.setData(data as uPlot.AlignedData));
    // What the plot shows, for people inspecting the page and for the browser tests.
    const box = boxRef.current;
    if (box) {
      box.dataset.runs = String(drawn.length);
      box.dataset.series = String(p.runs.length * (p.smoothing > 0 ? 2 : 1));
      box.dataset.points = String(points);
      box.dataset.downsampled = String(downsampled);
      box.dataset.envelopes = String(drawn.filter((d) => d.downsampled && d.length > 0).length);
    }
  }, [stepRange]);

  const scheduleRedraw = useCallback(() => onNextFrame(redraw), [redraw]);

  /** Each series' line, from its run's own arrays (uPlot's data holds extents only). */
  const linePaths = useCallback<uPlot.Series.PathBuilder>((u, si) => {
    const line = linesRef.current[si];
    // Smoothed lines are drawn on their own layer (drawSmoothLayer says why).
    if (!line || si % SERIES_PER_RUN === 0) return null;
    return smoothedOrRawPaths(u, line, propsRef.current.smoothing > 0 ? 1 : 1.5);
  }, []);

  const repaintSmoothLayer = useCallback((u: uPlot) => {
    const canvas = smoothCanvasRef.current;
    if (canvas) drawSmoothLayer(u, canvas, linesRef.current);
  }, []);

  /**
   * A smoothing change that leaves the plot's scales as they are (unzoomed, linear, no percentile
   * range: every smoothed value lies between the run's own lowest and highest) recomputes the
   * smoothed lines and repaints their layer only.
   */
  // biome-ignore lint/correctness/useExhaustiveDependencies: repaintHighlight reads refs only
  const redrawSmoothed = useCallback(() => {
    const u = uRef.current;
    const p = propsRef.current;
    const lines = linesRef.current;
    if (!u) return;
    const byRun = new Map(drawnRef.current.map((d) => [d.run.id, d]));
    p.runs.forEach((run, i) => {
      const d = byRun.get(run.id);
      const si = 1 + i * SERIES_PER_RUN + 1;
      if (!d || si >= lines.length) return;
      const buffer = recomputeEma(smoothBuffersRef.current.get(run.id), d.values, d.length, p.smoothing);
      smoothBuffersRef.current.set(run.id, buffer);
      d.smooth = buffer.out;
      const line = { xs: d.xs, ys: d.smooth, length: d.length, color: d.color };
      lines[si] = lineExtent(line, false) ? line : null;
    });
    repaintSmoothLayer(u);
    repaintHighlight(u);
  }, [repaintSmoothLayer]);

  // Charts far below the fold are built (and fetched) when they scroll near.
  useEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setVisible(true);
          observer.disconnect();
        }
      },
      { rootMargin: "400px" },
    );
    observer.observe(box);
    return () => observer.disconnect();
  }, []);

  useLayoutEffect(() => {
    const box = plotRef.current;
    if (!box) return;
    setWidth(box.clientWidth);
    // Charts already on screen start fetching in this frame rather than after the observer's first callback.
    const rect = box.getBoundingClientRect();
    if (rect.top < window.innerHeight && rect.bottom > 0) setVisible(true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const observer = new ResizeObserver(() => {
      clearTimeout(timer);
      timer = setTimeout(() => setWidth(box.clientWidth), 120);
    });
    observer.observe(box);
    return () => {
      clearTimeout(timer);
      observer.disconnect();
    };
  }, []);

  useEffect(() => seriesStore.subscribe(metricKey, scheduleRedraw), [metricKey, scheduleRedraw]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: runKey, colorKey and zoomSignature stand for runs and zoom
  useEffect(() => {
    if (!visible || !hasWidth) return;
    seriesStore.request(metricKey, runIds, target, null, xAxis !== "step");
    scheduleRedraw();
  }, [visible, metricKey, runKey, colorKey, target, zoomSignature, hasWidth, xAxis, scheduleRedraw]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the plot is rebuilt when what its options depend on changes
  useEffect(() => {
    const box = plotRef.current;
    if (!visible || !box || !hasWidth) return;
    const colors = chartColors();
    const series: uPlot.Series[] = [{}, ...plotSeries(runs.length, linesRef, propsRef, linePaths)];
    const labelled =
      (axis: number, format: (splits: (number | null)[]) => string[]) => (_u: uPlot, splits: (number | null)[]) => {
        const labels = format(splits);
        labelsRef.current[axis] = labels;
        return labels;
      };
    const axisCommon = {
      stroke: colors.text,
      grid: { stroke: colors.grid, width: 1 },
      ticks: { stroke: colors.grid, width: 1, size: 4 },
      font: "11px system-ui, -apple-system, Segoe UI, sans-serif",
    };
    const opts: uPlot.Options = {
      width: box.clientWidth,
      height: HEIGHT,
      legend: { show: false },
      padding: [8, 12, 0, 0],
      cursor: {
        sync: { key: SYNC_KEY, setSeries: false },
        drag: { x: true, y: false, setScale: false },
        // The hovered chart marks each listed run's point itself (uPlot's markers read its data: extents only).
        points: { show: false },
        focus: { prox: -1 },
      },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        x: {
          time: xAxis === "wall",
          range: (_u, min, max) => {
            const z = propsRef.current.zoom;
            if (z) return [z[0], z[1]];
            if (min === max || min === null || max === null) return [(min ?? 0) - 1, (max ?? 0) + 1];
            return [min, max];
          },
        },
        y: {
          ...(logY ? { distr: 3, log: 10 } : {}),
          // A chosen range wins; otherwise a zoomed window's range holds the lines up to its edges
          // (uPlot's own sees only the points inside).
          range:
            yScaleRange(props.yRange, logY, () => drawnRef.current) ??
            ((_u, min, max) => {
              const [lo, hi] = yExtentRef.current ?? [min, max];
              if (lo === null || hi === null) return [min, max];
              return logY ? uPlot.rangeLog(lo, hi, 10, false) : uPlot.rangeNum(lo, hi, 0.1, true);
            }),
        },
      },
      axes: [
        {
          ...axisCommon,
          ...(xAxis === "step"
            ? { values: labelled(0, linearTickLabels), incrs: STEP_INCRS }
            : xAxis === "rel"
              ? {
                  values: labelled(0, (splits) => splits.map((v) => (v === null ? "" : formatRelative(v)))),
                  incrs: REL_INCRS,
                }
              : {}),
        },
        {
          ...axisCommon,
          // Every split reaches the labeller, which blanks the minor ones itself (uPlot's filter would hand them over as null).
          ...(logY ? { filter: (_u: uPlot, splits: number[]) => splits } : {}),
          size: (_u: uPlot, values: string[] | null) => axisWidth(values),
          values: labelled(1, logY ? logTickLabels : linearTickLabels),
          // Recorded as uPlot draws it on the canvas, as the tick labels are.
          ...(yLabel
            ? {
                label: () => {
                  if (boxRef.current) boxRef.current.dataset.yLabel = yLabel;
                  return yLabel;
                },
                labelSize: 14,
                labelFont: axisCommon.font,
                labelGap: 0,
              }
            : {}),
        },
      ],
      series,
      plugins: [envelopePlugin(() => drawnRef.current)],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            let lo = u.posToVal(u.select.left, "x");
            let hi = u.posToVal(u.select.left + u.select.width, "x");
            // Steps are whole numbers: so is a zoom on them (and the link that keeps it).
            if (propsRef.current.xAxis === "step") {
              lo = Math.floor(lo);
              hi = Math.max(lo + 1, Math.ceil(hi));
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (hi > lo) propsRef.current.onZoom([lo, hi]);
          },
        ],
        setCursor: [(u) => renderTooltip(u)],
        // A single point makes no line: it gets a dot.
        drawSeries: [
          (u, si) => {
            const only = singlesRef.current.get(si);
            const line = linesRef.current[si];
            if (only === undefined || !line) return;
            const x = u.valToPos(line.xs[only], "x", true);
            const y = u.valToPos(line.ys[only], "y", true);
            const { left, top, width, height } = u.bbox;
            if (x < left || x > left + width || y < top || y > top + height) return;
            u.ctx.save();
            u.ctx.beginPath();
            u.ctx.arc(x, y, 3.5 * uPlot.pxRatio, 0, 2 * Math.PI);
            u.ctx.fillStyle = line.color;
            u.ctx.fill();
            u.ctx.restore();
          },
        ],
        // Scales settle when uPlot commits (after setData returns): report them once drawn.
        draw: [
          (u) => {
            const card = boxRef.current;
            if (!card) return;
            card.dataset.yDistr = String(u.scales.y.distr ?? 1);
            card.dataset.xMin = String(u.scales.x.min);
            card.dataset.xMax = String(u.scales.x.max);
            card.dataset.yMax = String(u.scales.y.max);
            card.dataset.yMin = String(u.scales.y.min);
            card.dataset.xTicks = JSON.stringify(labelsRef.current[0]);
            card.dataset.yTicks = JSON.stringify(labelsRef.current[1]);
            card.dataset.dots = String(singlesRef.current.size);
            if (u.data[0].length > 0) markOnce("firstChart");
            repaintSmoothLayer(u);
            repaintHighlight(u);
          },
        ],
      },
    };
    // Built in the next frame, so the data requests of every chart on screen leave first.
    let u: uPlot | null = null;
    const build = () => {
      u = new uPlot({ ...opts, width: box.clientWidth || opts.width }, [[]], box);
      uRef.current = u;
      u.over.addEventListener("mouseenter", () => {
        hoveredRef.current = true;
      });
      u.over.addEventListener("mouseleave", () => {
        hoveredRef.current = false;
        if (u) {
          clearMarks(u);
          highlight(u, null);
        }
        if (tipRef.current) tipRef.current.style.display = "none";
      });
      u.over.addEventListener("dblclick", () => propsRef.current.onZoom(null));
      const smoothLayer = document.createElement("canvas");
      smoothLayer.className = "chart-layer chart-smooth";
      u.over.append(smoothLayer);
      smoothCanvasRef.current = smoothLayer;
      const overlay = document.createElement("canvas");
      overlay.className = "chart-layer chart-highlight";
      u.over.append(overlay);
      highlightCanvasRef.current = overlay;
      redraw();
    };
    onNextFrame(build);
    return () => {
      cancelFrame(build);
      cancelFrame(redraw);
      u?.destroy();
      uRef.current = null;
    };
  }, [visible, hasWidth, xAxis, logY, theme, HEIGHT, yRangeKey, yLabel]);

  // More runs than the plot has series for get series added; rebuilding every chart would cost frames.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runKey stands for the runs
  useEffect(() => {
    const grow = () => {
      const u = uRef.current;
      const have = u ? (u.series.length - 1) / SERIES_PER_RUN : 0;
      const want = propsRef.current.runs.length;
      if (!u || have >= want) return;
      u.batch(() => {
        for (const s of plotSeries(want - have, linesRef, propsRef, linePaths)) u.addSeries(s);
        redraw();
      });
    };
    onNextFrame(grow);
    return () => cancelFrame(grow);
  }, [runKey]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new height rebuilds the plot; only width changes resize it
  useEffect(() => {
    const u = uRef.current;
    if (u && width > 0 && Math.abs(u.width - width) > 1) u.setSize({ width, height: HEIGHT });
  }, [width]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: redraw reads the current props through propsRef
  useEffect(() => {
    const before = drawnSmoothingRef.current;
    drawnSmoothingRef.current = smoothing;
    const p = propsRef.current;
    const scalesKept = !p.zoom && !p.logY && p.yRange?.mode !== "pct";
    if (before > 0 && smoothing > 0 && scalesKept && uRef.current) {
      if (before !== smoothing) onNextFrame(redrawSmoothed);
    } else {
      cancelFrame(redrawSmoothed);
      scheduleRedraw();
    }
  }, [smoothing, zoomSignature, scheduleRedraw]);

  /** Marks the run nearest the pointer: its line drawn on top, its row in the run table. */
  function highlight(u: uPlot, runId: string | null): void {
    if (highlightRef.current === runId) return;
    highlightRef.current = runId;
    setHoveredRun(runId);
    const card = boxRef.current;
    if (card) {
      if (runId) card.dataset.highlight = runId;
      else delete card.dataset.highlight;
    }
    repaintHighlight(u);
  }

  function clearMarks(u: uPlot): void {
    if (marksRef.current.length === 0) return;
    marksRef.current = [];
    repaintHighlight(u);
  }

  function repaintHighlight(u: uPlot): void {
    const canvas = highlightCanvasRef.current;
    const id = highlightRef.current;
    if (canvas)
      drawHighlight(u, canvas, id ? drawnRef.current.find((d) => d.run.id === id) : undefined, marksRef.current);
  }

  function renderTooltip(u: uPlot): void {
    const tip = tipRef.current;
    if (!tip) return;
    const left = u.cursor.left ?? -1;
    const drawn = drawnRef.current;
    // The other charts follow the crosshair only: one tooltip, where the pointer is.
    if (left < 0 || drawn.length === 0 || !hoveredRef.current) {
      tip.style.display = "none";
      if (hoveredRef.current) {
        clearMarks(u);
        highlight(u, null);
      }
      return;
    }
    const p = propsRef.current;
    const xv = u.posToVal(left, "x");
    const near = Math.abs(u.posToVal(left + NEAR_PX, "x") - xv);
    const rows: { d: Drawn; value: number; step: number; x: number }[] = [];
    for (const d of drawn) {
      // A run that has not started or has already ended at this x has nothing to say here.
      if (d.length === 0 || xv < d.xs[0] - near || xv > d.xs[d.length - 1] + near) continue;
      const j = nearestIndex(d.xs, d.length, xv);
      if (j < 0) continue;
      rows.push({ d, value: d.smooth ? d.smooth[j] : d.values[j], step: d.steps[j], x: d.xs[j] });
    }
    if (rows.length === 0) {
      tip.style.display = "none";
      clearMarks(u);
      highlight(u, null);
      return;
    }
    rows.sort((a, b) => b.value - a.value);
    let snapped = rows[0].x;
    for (const row of rows) if (Math.abs(row.x - xv) < Math.abs(snapped - xv)) snapped = row.x;
    const top = u.cursor.top ?? 0;
    let nearest = rows[0];
    let nearestDistance = Number.POSITIVE_INFINITY;
    for (const row of rows) {
      if (!Number.isFinite(row.value) || (p.logY && row.value <= 0)) continue;
      const distance = Math.hypot(u.valToPos(row.x, "x") - left, u.valToPos(row.value, "y") - top);
      if (distance < nearestDistance) {
        nearestDistance = distance;
        nearest = row;
      }
    }
    marksRef.current = rows.map((row) => ({ x: row.x, y: row.value, color: row.d.color }));
    if (highlightRef.current === nearest.d.run.id) repaintHighlight(u);
    else highlight(u, nearest.d.run.id);
    // The highlighted run is always listed, even past the row limit.
    const listed = rows.slice(0, TOOLTIP_ROWS);
    if (!listed.includes(nearest)) listed[listed.length - 1] = nearest;
    tip.replaceChildren();
    const head = document.createElement("div");
    head.className = "tip-head";
    head.textContent = `${p.metricKey} · ${formatX(p.xAxis, snapped)}`;
    tip.append(head);
    for (const row of listed) {
      const line = document.createElement("div");
      line.className = row === nearest ? "tip-row active" : "tip-row";
      line.dataset.testid = "tooltip-row";
      line.dataset.runId = row.d.run.id;
      const dot = document.createElement("span");
      dot.className = "tip-dot";
      dot.style.background = row.d.color;
      const name = document.createElement("span");
      name.className = "tip-name";
      name.textContent = runLabel(row.d.run);
      const value = document.createElement("span");
      value.className = "tip-value";
      value.textContent = formatNumber(row.value);
      // Each run's own step: runs logged at other steps, or at this time, are at steps of their own.
      const step = document.createElement("span");
      step.className = "tip-step";
      step.textContent = `@${formatNumber(row.step)}`;
      line.append(dot, name, value, step);
      tip.append(line);
    }
    if (rows.length > TOOLTIP_ROWS) {
      const more = document.createElement("div");
      more.className = "tip-more";
      more.textContent = `+${rows.length - TOOLTIP_ROWS} more`;
      tip.append(more);
    }
    tip.style.display = "block";
    const plotLeft = u.over.offsetLeft;
    const boxWidth = plotRef.current?.clientWidth ?? 0;
    const tipWidth = tip.offsetWidth;
    let x = plotLeft + left + 14;
    if (x + tipWidth > boxWidth) x = plotLeft + left - tipWidth - 14;
    const y = Math.min(Math.max(0, top - 10), HEIGHT - tip.offsetHeight);
    tip.style.transform = `translate(${Math.max(0, x)}px, ${Math.max(0, y)}px)`;
  }

  return (
    <div className="chart-card" ref={boxRef} data-testid="chart" data-key={metricKey}>
      <div className="chart-head">
        <span className="chart-title" title={metricKey}>
          {metricKey}
        </span>
        <span className="chart-badges">
          {status.downsampled && (
            <span
              className="badge badge-muted"
              data-testid="downsampled-badge"
              title="Long series show the minimum and maximum of each bucket (shaded), so spikes stay visible. Drag to zoom for every point."
            >
              min/max
            </span>
          )}
          {zoom && (
            <span className="badge badge-accent" data-testid="zoom-badge">
              zoomed
            </span>
          )}
          {status.loading && visible && <span className="spinner" data-testid="chart-loading" title="Loading" />}
        </span>
      </div>
      <div className="chart-plot" style={{ height: HEIGHT }}>
        <div className="chart-canvas" ref={plotRef} />
        <div className="chart-tooltip" ref={tipRef} data-testid="chart-tooltip" />
        {status.error && (
          <div className="chart-message error" data-testid="chart-error">
            {status.error}
          </div>
        )}
        {!status.loading && !status.error && status.points === 0 && (
          <div className="chart-message">No points{zoom ? " in the zoomed range" : " yet"}</div>
        )}
      </div>
    </div>
  );
});
