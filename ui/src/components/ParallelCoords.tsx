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
 * Lines drawn per animation frame at most: without a GPU the canvas is rasterised on the main
 * thread when the frame commits, about 10 µs per line, so 10,000 lines at once would hold a
 * frame for 100 ms. A brush that only adds lines draws just those; the rest fills in over frames.
 */
const LINES_PER_FRAME = 600;

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
  /** Run indices in drawing order: shuffled, so any frame's share of the lines is a sample of the whole sweep. */
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

/** The canvas sized for the plot, its context scaled to CSS pixels; cleared when asked. */
function prepare(canvas: HTMLCanvasElement, width: number, clear: boolean): CanvasRenderingContext2D | null {
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
  if (clear) ctx.clearRect(0, 0, width, HEIGHT);
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

/**
 * The lines layer, kept in step with the runs a brush passes by difference: runs that join
 * are drawn over what is there; only when runs leave is the layer cleared and drawn again.
 * Dragging a brush wider (or a new one from nothing) then costs the lines crossing its edge,
 * not every line, in each frame. Work is capped at LINES_PER_FRAME lines a frame.
 */
class LinesPainter {
  private readonly onCanvas: Uint8Array;
  private readonly all: Uint8Array;
  private want: Uint8Array;
  private clear = true;
  private frame = 0;
  /** Lines drawn and times the layer was cleared since it was made, recorded on the canvas (data-painted, data-clears) once it settles. */
  private painted = 0;
  private clears = 0;
  private readonly batch = new Uint32Array(LINES_PER_FRAME);
  private readonly sorted = new Uint32Array(LINES_PER_FRAME);
  private readonly binStarts = new Uint32Array(COLOR_BINS + 2);

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly g: Geometry,
    private readonly width: number,
    private readonly missingColor: string,
    private readonly onDrawn: (lines: number) => void,
  ) {
    this.onCanvas = new Uint8Array(g.n);
    this.all = new Uint8Array(g.n).fill(1);
    this.want = this.all;
    this.schedule();
  }

  /** Shows the runs whose mask entry is 1 (every run when null). */
  show(mask: Uint8Array | null): void {
    const want = mask ?? this.all;
    const { onCanvas } = this;
    for (let i = 0; i < onCanvas.length; i++) {
      if (onCanvas[i] === 1 && want[i] === 0) {
        onCanvas.fill(0);
        this.clear = true;
        break;
      }
    }
    this.want = want;
    this.schedule();
  }

  dispose(): void {
    cancelAnimationFrame(this.frame);
  }

  private schedule(): void {
    if (this.frame === 0) this.frame = requestAnimationFrame(this.paint);
  }

  private readonly paint = (): void => {
    this.frame = 0;
    const { g, want, onCanvas, batch } = this;
    const ctx = prepare(this.canvas, this.width, this.clear);
    if (!ctx) return;
    if (this.clear) this.clears++;
    this.clear = false;
    let count = 0;
    for (let j = 0; j < g.n && count < batch.length; j++) {
      const i = g.order[j];
      if (want[i] === 1 && onCanvas[i] === 0) batch[count++] = i;
    }
    if (count === 0) {
      let shown = 0;
      for (let i = 0; i < g.n; i++) shown += want[i];
      this.canvas.dataset.painted = String(this.painted);
      this.canvas.dataset.clears = String(this.clears);
      this.onDrawn(shown);
      return;
    }
    this.drawBatch(ctx, count);
    this.painted += count;
    this.schedule();
  };

  /** The batch's lines, one path per colour bin (a counting sort by bin: a stroke per line would cost far more). */
  private drawBatch(ctx: CanvasRenderingContext2D, count: number): void {
    const { g, batch, sorted, binStarts, onCanvas } = this;
    binStarts.fill(0);
    for (let b = 0; b < count; b++) binStarts[g.bins[batch[b]] + 1]++;
    for (let bin = 1; bin < binStarts.length; bin++) binStarts[bin] += binStarts[bin - 1];
    const fill = binStarts.slice();
    for (let b = 0; b < count; b++) sorted[fill[g.bins[batch[b]]]++] = batch[b];
    // A few lines can afford a wider stroke; thousands are drawn as hairlines (a wider stroke costs several times more).
    ctx.lineWidth = g.n > 500 ? 1 : 1.5;
    ctx.globalAlpha = lineAlpha(g.n);
    for (let bin = 0; bin <= NO_METRIC_BIN; bin++) {
      const from = binStarts[bin];
      const to = binStarts[bin + 1];
      if (from === to) continue;
      ctx.strokeStyle = binColor(bin, this.missingColor);
      ctx.beginPath();
      for (let s = from; s < to; s++) {
        tracePolyline(ctx, g, sorted[s]);
        onCanvas[sorted[s]] = 1;
      }
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }
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
 * layer changes, by difference (LinesPainter); the brush reaches the view (and
 * the table and charts) when the pointer is released.
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
  const painterRef = useRef<LinesPainter | null>(null);
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
    const ctx = prepare(canvas, width, true);
    if (ctx) drawContext(ctx, geometry, chartColors().axis);
  }, [geometry, width, theme]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the colours come from the theme's CSS variables
  useEffect(() => {
    const canvas = linesRef.current;
    if (!canvas || !geometry) return;
    const painter = new LinesPainter(canvas, geometry, width, chartColors().axis, setDrawnCount);
    painterRef.current = painter;
    return () => {
      painter.dispose();
      painterRef.current = null;
    };
  }, [geometry, width, theme]);

  useEffect(() => {
    const painter = painterRef.current;
    if (!painter || !geometry) return;
    if (drag !== null) painter.show(maskOf(geometry, spans));
    else if (kept !== null) {
      const mask = new Uint8Array(geometry.n);
      for (const i of kept) mask[i] = 1;
      painter.show(mask);
    } else painter.show(null);
  }, [geometry, spans, drag, kept]);

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
