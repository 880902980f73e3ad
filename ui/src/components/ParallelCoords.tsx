import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { formatNumber, formatTick } from "../lib/format";
import {
  type AxisBrush,
  axisUnit,
  type Brush,
  brushFromUnits,
  brushUnits,
  type SweepAxis,
  type SweepValue,
} from "../lib/sweep";
import { colorAt, colorGradient, scaleTicks } from "../lib/sweep-math";
import type { Theme } from "../state/theme";
import { chartColors } from "../state/theme";

const HEIGHT = 380;
const PAD = { left: 56, right: 72, top: 40, bottom: 40 };
/** Runs without a value for an axis cross it here, below its range. */
const MISSING_GAP = 22;
/** A pointer this close to an axis (CSS px) brushes it. */
const AXIS_REACH = 24;
/** Lines are drawn in this many colour steps: one path per step instead of one per run. */
const COLOR_BINS = 32;
const NO_METRIC_BIN = COLOR_BINS;
/**
 * Lines are drawn in chunks of this many runs (a random sample of all runs,
 * sorted by colour inside), as many chunks per animation frame as keep the
 * frame to about LINES_PER_FRAME lines: without a GPU the canvas is
 * rasterised on the main thread, about 5 µs per line, so 10,000 lines at once
 * would hold a frame for 50 ms. The picture fills in evenly over a few frames.
 */
const CHUNK = 250;
const LINES_PER_FRAME = 1000;

export interface ParallelCoordsProps {
  /** The config axes, then the metric axis last (it colours the lines). */
  axes: SweepAxis[];
  /** values[a][i]: run i's value on axis a. */
  values: SweepValue[][];
  /** Runs that pass the committed brush (null: no brush). */
  kept: ReadonlySet<number> | null;
  brush: Brush;
  theme: Theme;
  onBrush(next: Brush): void;
}

/** Pixel geometry of every line: computed when the data or the size change, not while brushing. */
interface Geometry {
  n: number;
  k: number;
  xs: Float64Array;
  /** units[a * n + i]: run i's position on axis a, 0..1, NaN when missing. */
  units: Float32Array;
  /** ys[i * k + a]: run i's y on axis a in CSS px. */
  ys: Float32Array;
  bins: Uint8Array;
  /** Run indices in drawing order: chunks of CHUNK shuffled runs, each sorted by colour bin. */
  order: Uint32Array;
}

function buildGeometry(axes: SweepAxis[], values: SweepValue[][], width: number): Geometry {
  const k = axes.length;
  const n = values[0]?.length ?? 0;
  const plotW = Math.max(1, width - PAD.left - PAD.right);
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const xs = Float64Array.from({ length: k }, (_, a) => PAD.left + (k === 1 ? plotW / 2 : (a * plotW) / (k - 1)));
  const units = new Float32Array(n * k);
  const ys = new Float32Array(n * k);
  for (let a = 0; a < k; a++) {
    const axis = axes[a];
    const column = values[a];
    for (let i = 0; i < n; i++) {
      const u = axisUnit(axis, column[i]);
      units[a * n + i] = u;
      ys[i * k + a] = Number.isNaN(u) ? PAD.top + plotH + MISSING_GAP : PAD.top + (1 - u) * plotH;
    }
  }
  const bins = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const u = units[(k - 1) * n + i];
    bins[i] = Number.isNaN(u) ? NO_METRIC_BIN : Math.min(COLOR_BINS - 1, Math.floor(u * COLOR_BINS));
  }
  // A fixed shuffle (the same picture every time), so each chunk is a sample of the whole sweep.
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  let seed = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (let c = 0; c < n; c += CHUNK) order.subarray(c, Math.min(n, c + CHUNK)).sort((a, b) => bins[a] - bins[b]);
  return { n, k, xs, units, ys, bins, order };
}

type Spans = ReadonlyMap<number, readonly [number, number]>;

/** Which runs pass every span (axis index → unit range): a live brush, before it is committed. */
function maskOf(geometry: Geometry, spans: Spans): Uint8Array {
  const { n, units } = geometry;
  const mask = new Uint8Array(n).fill(1);
  for (const [a, [lo, hi]] of spans) {
    for (let i = 0; i < n; i++) {
      const u = units[a * n + i];
      if (!(u >= lo && u <= hi)) mask[i] = 0;
    }
  }
  return mask;
}

function prepare(canvas: HTMLCanvasElement, width: number): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(width * dpr);
  const h = Math.round(HEIGHT * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, HEIGHT);
  return ctx;
}

function tracePolyline(ctx: CanvasRenderingContext2D, g: Geometry, i: number): void {
  const base = i * g.k;
  ctx.moveTo(g.xs[0], g.ys[base]);
  for (let a = 1; a < g.k; a++) ctx.lineTo(g.xs[a], g.ys[base + a]);
}

/** Lines' opacity: many overlapping lines need to be faint for their density to show. */
function lineAlpha(n: number): number {
  return n > 2000 ? 0.25 : n > 300 ? 0.45 : 0.85;
}

function binColor(bin: number, missingColor: string): string {
  return bin === NO_METRIC_BIN ? missingColor : colorAt((bin + 0.5) / COLOR_BINS);
}

/** Draws the lines of chunks [from, to) that pass `mask` (all when null), one path per colour bin; returns how many. */
function drawChunks(
  ctx: CanvasRenderingContext2D,
  g: Geometry,
  from: number,
  to: number,
  mask: Uint8Array | null,
  missingColor: string,
): number {
  // A few lines can afford a wider stroke; thousands are drawn as hairlines (a wider stroke costs several times more).
  ctx.lineWidth = g.n > 500 ? 1 : 1.5;
  ctx.globalAlpha = lineAlpha(g.n);
  let drawn = 0;
  let bin = -1;
  const end = Math.min(g.n, to * CHUNK);
  for (let j = from * CHUNK; j < end; j++) {
    const i = g.order[j];
    if (mask !== null && mask[i] === 0) continue;
    // A new bin, or a new chunk (each chunk is sorted by bin on its own): stroke what is traced so far.
    if (g.bins[i] !== bin || j % CHUNK === 0) {
      if (bin >= 0) ctx.stroke();
      bin = g.bins[i];
      ctx.strokeStyle = binColor(bin, missingColor);
      ctx.beginPath();
    }
    tracePolyline(ctx, g, i);
    drawn++;
  }
  if (bin >= 0) ctx.stroke();
  ctx.globalAlpha = 1;
  return drawn;
}

function drawContext(ctx: CanvasRenderingContext2D, g: Geometry, color: string): void {
  ctx.lineWidth = 1;
  ctx.globalAlpha = Math.min(0.5, lineAlpha(g.n));
  ctx.strokeStyle = color;
  ctx.beginPath();
  for (let i = 0; i < g.n; i++) tracePolyline(ctx, g, i);
  ctx.stroke();
  ctx.globalAlpha = 1;
}

function useWidth(ref: React.RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(el.clientWidth);
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

function axisTicks(axis: SweepAxis): { unit: number; label: string }[] {
  if (axis.kind === "category") {
    const n = axis.categories.length;
    // Every category when they fit, else every few.
    const every = Math.max(1, Math.ceil(n / 12));
    return axis.categories
      .map((c, i) => ({ unit: n <= 1 ? 0.5 : i / (n - 1), label: c.length > 14 ? `${c.slice(0, 13)}…` : c }))
      .filter((_, i) => i % every === 0);
  }
  return scaleTicks(axis.scale, 5)
    .map((v) => ({ unit: axis.scale.toUnit(v), label: formatTick(v) }))
    .filter((t) => t.unit >= -1e-9 && t.unit <= 1 + 1e-9);
}

/**
 * Parallel coordinates on canvas: an axis per field, a line per run coloured
 * by the last axis (the metric). Drag along an axis to brush it, several axes
 * at once; a click on an axis clears its brush. While dragging only the lines
 * layer is redrawn (one path per colour step, at most once per frame); the
 * brush reaches the view (and the table and charts) when the pointer is released.
 */
export const ParallelCoords = memo(function ParallelCoords({
  axes,
  values,
  kept,
  brush,
  theme,
  onBrush,
}: ParallelCoordsProps) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const contextRef = useRef<HTMLCanvasElement>(null);
  const linesRef = useRef<HTMLCanvasElement>(null);
  const width = useWidth(wrapRef);
  const [drag, setDrag] = useState<{ axis: number; from: number; to: number; moved: boolean } | null>(null);
  const [drawnCount, setDrawnCount] = useState(0);
  const frame = useRef(0);
  const n = values[0]?.length ?? 0;

  const geometry = useMemo(() => (width > 0 ? buildGeometry(axes, values, width) : null), [axes, values, width]);
  const plotH = HEIGHT - PAD.top - PAD.bottom;

  // The brushed spans as units, the dragged one replacing its axis' committed brush.
  const spans = useMemo(() => {
    const out = new Map<number, readonly [number, number]>();
    axes.forEach((axis, a) => {
      const b = brush[axis.id];
      const span = b === undefined ? null : brushUnits(axis, b);
      if (span) out.set(a, span);
    });
    if (drag?.moved) out.set(drag.axis, [Math.min(drag.from, drag.to), Math.max(drag.from, drag.to)]);
    else if (drag) out.delete(drag.axis);
    return out;
  }, [axes, brush, drag]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the colours come from the theme's CSS variables
  useEffect(() => {
    const canvas = contextRef.current;
    if (!canvas || !geometry) return;
    const ctx = prepare(canvas, width);
    if (ctx) drawContext(ctx, geometry, chartColors().axis);
  }, [geometry, width, theme]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the colours come from the theme's CSS variables
  useEffect(() => {
    const canvas = linesRef.current;
    if (!canvas || !geometry) return;
    let mask: Uint8Array | null = null;
    if (drag !== null) mask = maskOf(geometry, spans);
    else if (kept !== null) {
      mask = new Uint8Array(geometry.n);
      for (const i of kept) mask[i] = 1;
    }
    const chunks = Math.ceil(geometry.n / CHUNK);
    const missingColor = chartColors().axis;
    let next = 0;
    let drawn = 0;
    let ctx: CanvasRenderingContext2D | null = null;
    // Each frame draws chunks until about LINES_PER_FRAME lines are drawn; the canvas is cleared
    // only in the first frame, so the previous picture stays until the new one starts.
    const paint = () => {
      ctx ??= prepare(canvas, width);
      if (!ctx) return;
      let lines = 0;
      while (next < chunks && lines < LINES_PER_FRAME) {
        lines += drawChunks(ctx, geometry, next, next + 1, mask, missingColor);
        next++;
      }
      drawn += lines;
      if (next < chunks) frame.current = requestAnimationFrame(paint);
      else setDrawnCount(drawn);
    };
    frame.current = requestAnimationFrame(paint);
    return () => cancelAnimationFrame(frame.current);
  }, [geometry, width, spans, drag, kept, theme]);

  const unitAt = (clientY: number): number => {
    const top = wrapRef.current?.getBoundingClientRect().top ?? 0;
    return Math.max(0, Math.min(1, 1 - (clientY - top - PAD.top) / plotH));
  };

  const onPointerDown = (e: React.PointerEvent<SVGSVGElement>) => {
    if (!geometry || e.button !== 0) return;
    const left = wrapRef.current?.getBoundingClientRect().left ?? 0;
    const x = e.clientX - left;
    let best = -1;
    for (let a = 0; a < axes.length; a++) {
      if (
        Math.abs(geometry.xs[a] - x) <= AXIS_REACH &&
        (best < 0 || Math.abs(geometry.xs[a] - x) < Math.abs(geometry.xs[best] - x))
      )
        best = a;
    }
    if (best < 0) return;
    e.currentTarget.setPointerCapture(e.pointerId);
    const u = unitAt(e.clientY);
    setDrag({ axis: best, from: u, to: u, moved: false });
  };

  const onPointerMove = (e: React.PointerEvent<SVGSVGElement>) => {
    if (!drag) return;
    const to = unitAt(e.clientY);
    const moved = drag.moved || Math.abs(to - drag.from) * plotH >= 3;
    setDrag({ ...drag, to, moved });
  };

  const onPointerUp = () => {
    if (!drag) return;
    const axis = axes[drag.axis];
    const next: Record<string, AxisBrush> = { ...brush };
    delete next[axis.id];
    if (drag.moved) {
      const b = brushFromUnits(axis, drag.from, drag.to);
      if (b) next[axis.id] = b;
    }
    setDrag(null);
    onBrush(next);
  };

  const metricAxis = axes[axes.length - 1];
  const metricDomain = metricAxis?.kind === "numeric" ? metricAxis.scale.domain : null;

  return (
    <div
      className="pc"
      data-testid="parallel-coords"
      data-runs={n}
      data-drawn={drawnCount}
      data-axes={JSON.stringify(axes.map((a) => a.id))}
    >
      <div className="pc-legend" data-testid="pc-legend">
        <span className="muted">Colour: {metricAxis?.label}</span>
        {metricDomain && (
          <>
            <span className="pc-legend-value" data-testid="pc-legend-min">
              {formatNumber(metricDomain[0])}
            </span>
            <span className="pc-legend-bar" style={{ background: colorGradient() }} />
            <span className="pc-legend-value" data-testid="pc-legend-max">
              {formatNumber(metricDomain[1])}
            </span>
          </>
        )}
        <span className="muted pc-hint">Drag along an axis to brush it; click an axis to clear its brush.</span>
      </div>
      <div className="pc-plot" ref={wrapRef} style={{ height: HEIGHT }}>
        <canvas ref={contextRef} className="pc-layer" style={{ width, height: HEIGHT }} />
        <canvas ref={linesRef} className="pc-layer" data-testid="pc-lines" style={{ width, height: HEIGHT }} />
        {geometry && (
          <svg
            className="pc-layer pc-overlay"
            width={width}
            height={HEIGHT}
            role="img"
            aria-label="Parallel coordinates"
            onPointerDown={onPointerDown}
            onPointerMove={onPointerMove}
            onPointerUp={onPointerUp}
            onPointerCancel={() => setDrag(null)}
          >
            {axes.map((axis, a) => {
              const x = geometry.xs[a];
              const span = spans.get(a);
              const hasMissing = values[a].some((v) => v === undefined);
              return (
                <g
                  key={axis.id}
                  data-testid="pc-axis"
                  data-axis={axis.id}
                  data-scale={axis.kind === "numeric" ? axis.scale.kind : "category"}
                >
                  <line x1={x} x2={x} y1={PAD.top} y2={PAD.top + plotH} className="pc-axis-line" />
                  <text x={x} y={PAD.top - 16} className="pc-axis-title" textAnchor="middle">
                    {axis.label}
                    {axis.kind === "numeric" && axis.scale.kind === "log" ? " (log)" : ""}
                  </text>
                  {axisTicks(axis).map((t) => (
                    <g key={`${t.unit}:${t.label}`}>
                      <line
                        x1={x - 4}
                        x2={x}
                        y1={PAD.top + (1 - t.unit) * plotH}
                        y2={PAD.top + (1 - t.unit) * plotH}
                        className="pc-axis-line"
                      />
                      <text
                        x={x - 7}
                        y={PAD.top + (1 - t.unit) * plotH + 4}
                        className="pc-tick"
                        textAnchor="end"
                        data-testid="pc-tick"
                      >
                        {t.label}
                      </text>
                    </g>
                  ))}
                  {hasMissing && (
                    <text x={x - 7} y={PAD.top + plotH + MISSING_GAP + 4} className="pc-tick" textAnchor="end">
                      none
                    </text>
                  )}
                  {span && (
                    <rect
                      x={x - 9}
                      width={18}
                      y={PAD.top + (1 - span[1]) * plotH}
                      height={Math.max(2, (span[1] - span[0]) * plotH)}
                      className="pc-brush"
                      data-testid="pc-brush"
                      data-axis={axis.id}
                    />
                  )}
                  <rect
                    x={x - AXIS_REACH}
                    width={AXIS_REACH * 2}
                    y={PAD.top - 6}
                    height={plotH + 12}
                    className="pc-hit"
                  />
                </g>
              );
            })}
          </svg>
        )}
      </div>
    </div>
  );
});
