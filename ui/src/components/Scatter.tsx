import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { Run } from "../api/types";
import { runColor } from "../lib/colors";
import { formatTick, formatValue } from "../lib/format";
import { axisUnit, buildAxis, type SweepAxis, type SweepValue } from "../lib/sweep";
import { categoryUnit, scaleTicks } from "../lib/sweep-math";
import { chartColors, type Theme } from "../state/theme";
import { updateView } from "../state/view";

const HEIGHT = 340;
const PAD = { left: 64, right: 20, top: 14, bottom: 44 };
const RADIUS = 3.5;
/** The pointer picks the nearest point within this many CSS px. */
const HOVER_REACH = 10;
/** Point positions are recorded on the canvas (for tests and tools) up to this many points. */
const RECORDED_POINTS = 2000;

interface ScatterProps {
  runs: readonly Run[];
  xValues: SweepValue[];
  yValues: SweepValue[];
  xLabel: string;
  yLabel: string;
  /** Runs outside the brush are drawn faint (null: no brush). */
  kept: ReadonlySet<number> | null;
  theme: Theme;
}

interface Point {
  index: number;
  x: number;
  y: number;
}

function ticksOf(axis: SweepAxis): { unit: number; label: string }[] {
  if (axis.kind === "category") {
    const n = axis.categories.length;
    const every = Math.max(1, Math.ceil(n / 10));
    return axis.categories.map((c, i) => ({ unit: categoryUnit(i, n), label: c })).filter((_, i) => i % every === 0);
  }
  return scaleTicks(axis.scale, 6)
    .map((v) => ({ unit: axis.scale.toUnit(v), label: formatTick(v) }))
    .filter((t) => t.unit >= -1e-9 && t.unit <= 1 + 1e-9);
}

/** The plot spans these units: categories and constant axes get room at the ends. */
const INSET = 0.04;

/** A scatter plot of one field against another, a point per run in the run's colour; hover names the run, a click opens it. */
export const Scatter = memo(function Scatter({ runs, xValues, yValues, xLabel, yLabel, kept, theme }: ScatterProps) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);
  const [hover, setHover] = useState<Point | null>(null);

  useLayoutEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    setWidth(el.clientWidth);
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const plotW = Math.max(1, width - PAD.left - PAD.right);
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const xAxis = useMemo(() => buildAxis("x", xValues), [xValues]);
  const yAxis = useMemo(() => buildAxis("y", yValues), [yValues]);
  const toX = (u: number) => PAD.left + (INSET + u * (1 - 2 * INSET)) * plotW;
  const toY = (u: number) => PAD.top + (1 - (INSET + u * (1 - 2 * INSET))) * plotH;

  const points = useMemo(() => {
    const out: Point[] = [];
    for (let i = 0; i < runs.length; i++) {
      const ux = axisUnit(xAxis, xValues[i]);
      const uy = axisUnit(yAxis, yValues[i]);
      if (Number.isNaN(ux) || Number.isNaN(uy)) continue;
      out.push({
        index: i,
        x: PAD.left + (INSET + ux * (1 - 2 * INSET)) * plotW,
        y: PAD.top + (1 - (INSET + uy * (1 - 2 * INSET))) * plotH,
      });
    }
    return out;
  }, [runs, xAxis, yAxis, xValues, yValues, plotW, plotH]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the colours come from the theme's CSS variables
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || width === 0) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(HEIGHT * dpr);
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const faint = chartColors().axis;
    // Faint points first, so the kept ones are drawn over them.
    for (const pass of [false, true]) {
      for (const p of points) {
        const isKept = kept === null || kept.has(p.index);
        if (isKept !== pass) continue;
        ctx.globalAlpha = isKept ? 0.9 : 0.35;
        ctx.fillStyle = isKept ? runColor(runs[p.index]) : faint;
        ctx.beginPath();
        ctx.arc(p.x, p.y, RADIUS, 0, Math.PI * 2);
        ctx.fill();
      }
    }
    ctx.globalAlpha = 1;
  }, [points, runs, kept, width, theme]);

  const nearest = (clientX: number, clientY: number): Point | null => {
    const box = wrapRef.current?.getBoundingClientRect();
    if (!box) return null;
    const x = clientX - box.left;
    const y = clientY - box.top;
    let best: Point | null = null;
    let bestD = HOVER_REACH * HOVER_REACH;
    for (const p of points) {
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d <= bestD) {
        best = p;
        bestD = d;
      }
    }
    return best;
  };

  const recorded =
    points.length <= RECORDED_POINTS
      ? JSON.stringify(points.map((p) => [runs[p.index].id, Math.round(p.x * 10) / 10, Math.round(p.y * 10) / 10]))
      : undefined;
  const hoverRun = hover ? runs[hover.index] : null;
  const left = runs.length - points.length;

  return (
    <div className="scatter" data-testid="scatter">
      {/* biome-ignore lint/a11y/noStaticElementInteractions: points are found under the pointer on a canvas; each run is reachable by keyboard in the run table */}
      {/* biome-ignore lint/a11y/useKeyWithClickEvents: as above */}
      <div
        className="scatter-plot"
        ref={wrapRef}
        style={{ height: HEIGHT }}
        onPointerMove={(e) => setHover(nearest(e.clientX, e.clientY))}
        onPointerLeave={() => setHover(null)}
        onClick={(e) => {
          const p = nearest(e.clientX, e.clientY);
          if (p) updateView({ run: runs[p.index].id });
        }}
      >
        {width > 0 && (
          <svg className="pc-layer scatter-axes" width={width} height={HEIGHT} aria-hidden="true">
            <rect x={PAD.left} y={PAD.top} width={plotW} height={plotH} className="scatter-frame" />
            {ticksOf(xAxis).map((t) => (
              <g key={`x${t.unit}:${t.label}`}>
                <line x1={toX(t.unit)} x2={toX(t.unit)} y1={PAD.top} y2={PAD.top + plotH} className="scatter-grid" />
                <text
                  x={toX(t.unit)}
                  y={PAD.top + plotH + 16}
                  className="pc-tick"
                  textAnchor="middle"
                  data-testid="scatter-x-tick"
                >
                  {t.label}
                </text>
              </g>
            ))}
            {ticksOf(yAxis).map((t) => (
              <g key={`y${t.unit}:${t.label}`}>
                <line x1={PAD.left} x2={PAD.left + plotW} y1={toY(t.unit)} y2={toY(t.unit)} className="scatter-grid" />
                <text
                  x={PAD.left - 6}
                  y={toY(t.unit) + 4}
                  className="pc-tick"
                  textAnchor="end"
                  data-testid="scatter-y-tick"
                >
                  {t.label}
                </text>
              </g>
            ))}
            <text x={PAD.left + plotW / 2} y={HEIGHT - 6} className="pc-axis-title" textAnchor="middle">
              {xLabel}
              {xAxis.kind === "numeric" && xAxis.scale.kind === "log" ? " (log)" : ""}
            </text>
            <text
              x={14}
              y={PAD.top + plotH / 2}
              className="pc-axis-title"
              textAnchor="middle"
              transform={`rotate(-90 14 ${PAD.top + plotH / 2})`}
            >
              {yLabel}
              {yAxis.kind === "numeric" && yAxis.scale.kind === "log" ? " (log)" : ""}
            </text>
            {hover && <circle cx={hover.x} cy={hover.y} r={RADIUS + 3} className="scatter-hover" />}
          </svg>
        )}
        <canvas
          ref={canvasRef}
          className="pc-layer"
          data-testid="scatter-canvas"
          data-points={recorded}
          style={{ width, height: HEIGHT }}
        />
        {hover && hoverRun && (
          <div
            className="scatter-tooltip"
            data-testid="scatter-tooltip"
            style={{ left: Math.min(hover.x + 12, Math.max(0, width - 220)), top: Math.max(0, hover.y - 56) }}
          >
            <div className="scatter-tooltip-name">
              <span className="legend-line" style={{ background: runColor(hoverRun) }} />
              <strong>{hoverRun.name ?? hoverRun.id.slice(0, 8)}</strong>
            </div>
            <div>
              {xLabel}: {formatValue(xValues[hover.index])}
            </div>
            <div>
              {yLabel}: {formatValue(yValues[hover.index])}
            </div>
            <div className="muted">Click to open the run</div>
          </div>
        )}
      </div>
      {left > 0 && (
        <p className="muted sweep-note" data-testid="scatter-left-out">
          {left} run{left === 1 ? "" : "s"} without both values left out.
        </p>
      )}
    </div>
  );
});
