import uPlot from "uplot";
import { axisWidth, linearTickLabels, logTickLabels, STEP_INCRS } from "../../lib/axes";
import { withAlpha } from "../../lib/colors";
import { formatNumber } from "../../lib/format";
import { onFrameAfterThis } from "../../lib/frame";
import { markOnce } from "../../state/perf";
import { chartColors } from "../../state/theme";
import { type XAxis, xMetricOf, type YRange } from "../../state/view";
import { type ChartProps, type ColoredLine, type Drawn, SERIES_PER_RUN, smoothingOf } from "./types";

/** Charts sharing this key move one crosshair. */
const SYNC_KEY = "stonks-charts";

/**
 * How a chart follows the hovered one: its vertical line goes to the hovered x; its horizontal
 * line stays off. uPlot's default also moves that line to the hovered chart's y value on every
 * synced chart, a level that means nothing on a chart of another metric (a loss of 0.9 drawn
 * across an accuracy chart), and writes the line's place on each of them at every move (its
 * style, and the collector's garbage, for nothing).
 */
export function syncedCursor(): uPlot.Cursor.Sync {
  return {
    key: SYNC_KEY,
    setSeries: false,
    // No series event is synced (setSeries: false); -1 would also tell uPlot to ignore one.
    match: [(sub, pub) => sub === pub, () => false, () => -1],
  };
}

/** The axes' labels, drawn by uPlot on its canvas. */
export const AXIS_FONT = "11px system-ui, -apple-system, Segoe UI, sans-serif";

/** How every chart's axes look (plain and grouped charts alike), in the theme's colours now. */
export function axisStyle() {
  const colors = chartColors();
  return {
    stroke: colors.text,
    grid: { stroke: colors.grid, width: 1 },
    ticks: { stroke: colors.grid, width: 1, size: 4 },
    font: AXIS_FONT,
  };
}

/** The least room right of the plot. */
const RIGHT_PAD = 12;
/** Each plot's room right of it so far (it never narrows, see rightPadding). */
const rightPads = new WeakMap<uPlot, number>();
let measurer: CanvasRenderingContext2D | null | undefined;

/** Width in CSS pixels of an axis label (its longest line). */
function labelWidth(label: string): number {
  measurer ??= document.createElement("canvas").getContext("2d");
  const ctx = measurer;
  if (!ctx) return label.length * 6.5;
  ctx.font = AXIS_FONT;
  return Math.max(...label.split("\n").map((line) => ctx.measureText(line).width));
}

/**
 * Room right of the plot for half the x axis' last label: uPlot centres each label on its tick,
 * and the canvas ends at the padding, so a tick at the plot's right edge (a run that ends at step
 * 1,000) lost half its label: "1000" read "100". uPlot works out the labels before the padding,
 * and lays the plot out again while the padding changes. The room only grows while the plot
 * lives (as the y axis' width does): zooming in and out would otherwise move the plot's edge and
 * resize its layers on every step.
 */
export function rightPadding(u: uPlot): number {
  // uPlot keeps each axis' last labels in `_values` (not in its types).
  const labels = (u.axes[0] as { _values?: (string | number | null)[] } | undefined)?._values ?? [];
  let pad = rightPads.get(u) ?? RIGHT_PAD;
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = labels[i];
    if (label === null || label === "") continue;
    pad = Math.max(pad, Math.ceil(labelWidth(String(label)) / 2) + 2);
    break;
  }
  rightPads.set(u, pad);
  return pad;
}

export const REL_INCRS = [
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

/**
 * Plot series for `runs` runs. They are not tied to runs: each draws the line the last redraw
 * gave its index, in that line's color, so a new set of runs changes no series (uPlot's
 * delSeries fails without cursor markers) and spare series draw nothing.
 */
export function plotSeries(
  runs: number,
  lines: { current: (ColoredLine | null)[] },
  props: { current: ChartProps },
  paths: uPlot.Series.PathBuilder,
): uPlot.Series[] {
  const stroke = (_u: uPlot, si: number) => {
    const line = lines.current[si];
    if (!line) return "transparent";
    // Under its smoothed line a run's own values are drawn faint.
    return si % SERIES_PER_RUN === 1 && smoothingOf(props.current) > 0 ? withAlpha(line.color, 0.25) : line.color;
  };
  return Array.from({ length: runs * SERIES_PER_RUN }, () => ({
    stroke,
    spanGaps: true,
    points: { show: false },
    paths,
  }));
}

export function formatRelative(seconds: number): string {
  const s = Math.round(seconds);
  if (Math.abs(s) < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (Math.abs(m) < 60) return s % 60 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h${String(m % 60).padStart(2, "0")}m` : `${h}h`;
}

export function formatX(xAxis: XAxis, value: number): string {
  if (xAxis === "wall") return new Date(value * 1000).toLocaleString();
  if (xAxis === "rel") return formatRelative(value);
  const xMetric = xMetricOf(xAxis);
  if (xMetric !== null) return `${xMetric} ${formatNumber(value)}`;
  return `step ${formatNumber(Math.round(value))}`;
}

/** The pct and 100-pct percentiles of every drawn value (smoothed where smoothing is on), padded a little; null without values. */
export function percentileRange(drawn: Drawn[], pct: number, log: boolean): [number, number] | null {
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

/**
 * A percent axis kept within 0–100 on the sides where the values are: uPlot pads a flat line at
 * 100 to [0, 200] (and 0–100 to 110), which labels a share that cannot be.
 */
export function withinPercent(range: uPlot.Range.MinMax, lo: number, hi: number): uPlot.Range.MinMax {
  const [min, max] = range;
  if (min === null || max === null) return range;
  const clamped: [number, number] = [lo >= 0 ? Math.max(min, 0) : min, hi <= 100 ? Math.min(max, 100) : max];
  return clamped[0] < clamped[1] ? clamped : range;
}

/** A y scale range function for the chosen range, or undefined for uPlot's own fit. */
export function yScaleRange(
  range: YRange | undefined,
  log: boolean,
  drawn: () => Drawn[],
): uPlot.Range.Function | undefined {
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

/** A mutable box, as React's refs are. */
interface Box<T> {
  current: T;
}

/** What the plot's options read as it draws: the chart's current props, lines and labels. */
export interface PlotRefs {
  props: Box<ChartProps>;
  drawn: Box<Drawn[]>;
  lines: Box<(ColoredLine | null)[]>;
  singles: Box<Map<number, number>>;
  labels: Box<string[][]>;
  yAxisWidth: Box<number>;
  yExtent: Box<[number, number] | null>;
  card: Box<HTMLDivElement | null>;
}

/** The chart's own drawing, called from uPlot's hooks. */
export interface PlotHooks {
  linePaths: uPlot.Series.PathBuilder;
  renderTooltip(u: uPlot): void;
  /** Repaints the smoothed lines' layer in the next frame (see Chart's queueSmoothLayer). */
  queueSmoothLayer(u: uPlot): void;
  repaintHighlight(u: uPlot): void;
  /** Clears the envelope layer when it no longer matches and queues its painting. */
  queueEnvelopes(u: uPlot): void;
}

/** uPlot's options for a chart of `runs` runs, `width` × `height` CSS pixels, with the chart's current props. */
export function plotOptions(
  width: number,
  height: number,
  runs: number,
  refs: PlotRefs,
  hooks: PlotHooks,
): uPlot.Options {
  const p = refs.props.current;
  refs.yAxisWidth.current = 0;
  const series: uPlot.Series[] = [{}, ...plotSeries(runs, refs.lines, refs.props, hooks.linePaths)];
  const labelled =
    (axis: number, format: (splits: (number | null)[]) => string[]) => (_u: uPlot, splits: (number | null)[]) => {
      const labels = format(splits);
      refs.labels.current[axis] = labels;
      return labels;
    };
  const axisCommon = axisStyle();
  // A drag's zoom applies in the frame after the button is released: the release's own frame
  // already holds uPlot's work, and the view change (link, every chart panel) made it the
  // longest frame of a zoom.
  let zoomTo: [number, number] | null = null;
  const applyZoom = (): boolean => {
    const zoom = zoomTo;
    zoomTo = null;
    if (zoom) refs.props.current.onZoom(zoom);
    return false;
  };
  return {
    width: width,
    height: height,
    legend: { show: false },
    padding: [8, rightPadding, 0, 0],
    cursor: {
      sync: syncedCursor(),
      // The crosshair's lines are chart/crosshair.ts's own.
      x: false,
      y: false,
      drag: { x: true, y: false, setScale: false },
      // The hovered chart marks each listed run's point itself (uPlot's markers read its data: extents only).
      points: { show: false },
      focus: { prox: -1 },
      // A double-click resets the zoom through the chart's own listener (the view's zoom, redrawn a
      // chart per frame); uPlot's would first rescale and redraw every synced chart in that one event.
      bind: { dblclick: () => null },
    },
    select: { show: true, left: 0, top: 0, width: 0, height: 0 },
    scales: {
      x: {
        time: p.xAxis === "wall",
        range: (_u, min, max) => {
          const z = refs.props.current.zoom;
          if (z) return [z[0], z[1]];
          if (min === max || min === null || max === null) return [(min ?? 0) - 1, (max ?? 0) + 1];
          return [min, max];
        },
      },
      y: {
        ...(p.logY ? { distr: 3, log: 10 } : {}),
        // A chosen range wins; otherwise a zoomed window's range holds the lines up to its edges
        // (uPlot's own sees only the points inside).
        range:
          yScaleRange(p.yRange, p.logY, () => refs.drawn.current) ??
          ((_u, min, max) => {
            const [lo, hi] = refs.yExtent.current ?? [min, max];
            if (lo === null || hi === null) return [min, max];
            const fitted = p.logY ? uPlot.rangeLog(lo, hi, 10, false) : uPlot.rangeNum(lo, hi, 0.1, true);
            return refs.props.current.yLabel === "%" ? withinPercent(fitted, lo, hi) : fitted;
          }),
      },
    },
    axes: [
      {
        ...axisCommon,
        ...(p.xAxis === "step"
          ? { values: labelled(0, linearTickLabels), incrs: STEP_INCRS }
          : p.xAxis === "rel"
            ? {
                values: labelled(0, (splits) => splits.map((v) => (v === null ? "" : formatRelative(v)))),
                incrs: REL_INCRS,
              }
            : xMetricOf(p.xAxis) !== null
              ? { values: labelled(0, linearTickLabels) }
              : {}),
      },
      {
        ...axisCommon,
        // Every split reaches the labeller, which blanks the minor ones itself (uPlot's filter would hand them over as null).
        ...(p.logY ? { filter: (_u: uPlot, splits: number[]) => splits } : {}),
        // The axis only grows while the plot lives: a narrower one resizes uPlot's canvas, which
        // costs a whole frame's rasterisation, and zooming in and out would do so on every step.
        size: (_u: uPlot, values: string[] | null) => {
          refs.yAxisWidth.current = Math.max(refs.yAxisWidth.current, axisWidth(values));
          return refs.yAxisWidth.current;
        },
        values: labelled(1, p.logY ? logTickLabels : linearTickLabels),
        // Recorded as uPlot draws it on the canvas, as the tick labels are.
        ...(p.yLabel
          ? {
              label: () => {
                const label = refs.props.current.yLabel ?? "";
                if (refs.card.current) refs.card.current.dataset.yLabel = label;
                return label;
              },
              labelSize: 14,
              labelFont: axisCommon.font,
              labelGap: 0,
            }
          : {}),
      },
    ],
    series,
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width < 3) return;
          let lo = u.posToVal(u.select.left, "x");
          let hi = u.posToVal(u.select.left + u.select.width, "x");
          // Steps are whole numbers: so is a zoom on them (and the link that keeps it).
          if (refs.props.current.xAxis === "step") {
            lo = Math.floor(lo);
            hi = Math.max(lo + 1, Math.ceil(hi));
          }
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          if (hi > lo) {
            zoomTo = [lo, hi];
            onFrameAfterThis(applyZoom);
          }
        },
      ],
      setCursor: [(u) => hooks.renderTooltip(u)],
      // A single point makes no line: it gets a dot.
      drawSeries: [
        (u, si) => {
          const only = refs.singles.current.get(si);
          const line = refs.lines.current[si];
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
          const card = refs.card.current;
          if (!card) return;
          card.dataset.yDistr = String(u.scales.y.distr ?? 1);
          card.dataset.xMin = String(u.scales.x.min);
          card.dataset.xMax = String(u.scales.x.max);
          card.dataset.yMax = String(u.scales.y.max);
          card.dataset.yMin = String(u.scales.y.min);
          card.dataset.xTicks = JSON.stringify(refs.labels.current[0]);
          card.dataset.yTicks = JSON.stringify(refs.labels.current[1]);
          card.dataset.dots = String(refs.singles.current.size);
          if (u.data[0].length > 0) markOnce("firstChart");
          hooks.queueEnvelopes(u);
          hooks.queueSmoothLayer(u);
          hooks.repaintHighlight(u);
        },
      ],
    },
  };
}
