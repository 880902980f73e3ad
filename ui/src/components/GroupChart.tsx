import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import { type BandKind, bandEdges } from "../../../src/contract/groups";
import type { Run } from "../api/types";
import { withAlpha } from "../lib/colors";
import { formatNumber } from "../lib/format";
import { markOnce } from "../state/perf";
import { type StepRange, seriesStore } from "../state/series";
import { chartColors, type Theme } from "../state/theme";
import { coloredGroups, fetchGroupLines, GROUP_BUCKETS, type GroupLine } from "./chart/groups";
import { SYNC_KEY } from "./chart/options";
import { BAND_LABELS } from "./GroupBy";

const DEFAULT_HEIGHT = 220;
/** How often a grouped chart with running runs asks for its aggregates again. */
const LIVE_REFRESH_MS = 5000;
const BAND_ALPHA = 0.2;
const RUN_ALPHA = 0.28;

export interface GroupChartProps {
  metricKey: string;
  runs: Run[];
  groupBy: string[];
  band: BandKind;
  showRuns: boolean;
  logY: boolean;
  zoom: [number, number] | null;
  onZoom(zoom: [number, number] | null): void;
  theme: Theme;
  height?: number;
}

/** What a grouped chart draws, as the page records it (data-drawn) for tests and people reading the DOM. */
interface DrawnGroup {
  label: string;
  color: string;
  steps: number[];
  mean: number[];
  low: number[];
  high: number[];
  count: number[];
}

function drawnGroups(lines: readonly GroupLine[], band: BandKind): DrawnGroup[] {
  return lines.map(({ label, color, aggregate: a }) => {
    const edges = a.steps.map((_, i) => bandEdges(a, i, band));
    return {
      label,
      color,
      steps: a.steps,
      mean: a.mean,
      low: edges.map((e) => e[0]),
      high: edges.map((e) => e[1]),
      count: a.count,
    };
  });
}

/** Per x of the union of the groups' steps, each group's mean there or null (uPlot's aligned data). */
function alignedData(groups: readonly DrawnGroup[]): uPlot.AlignedData {
  const xs = [...new Set(groups.flatMap((g) => g.steps))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const columns = groups.map((g) => {
    const column: (number | null)[] = new Array(xs.length).fill(null);
    g.steps.forEach((s, i) => {
      column[at.get(s) ?? 0] = g.mean[i];
    });
    return column;
  });
  return [xs, ...columns] as uPlot.AlignedData;
}

function nearest(steps: readonly number[], x: number): number {
  let lo = 0;
  let hi = steps.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(steps[lo - 1] - x) <= Math.abs(steps[lo] - x)) return lo - 1;
  return lo;
}

/** One metric with the runs grouped: per group a mean line in the group's colour over a band, runs faintly beneath when asked. */
export const GroupChart = memo(function GroupChart(props: GroupChartProps) {
  const { metricKey, runs, groupBy, band, showRuns, logY, zoom, theme } = props;
  const height = props.height ?? DEFAULT_HEIGHT;
  const boxRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<HTMLDivElement>(null);
  const tipRef = useRef<HTMLDivElement>(null);
  const uRef = useRef<uPlot | null>(null);
  const onZoomRef = useRef(props.onZoom);
  onZoomRef.current = props.onZoom;
  const [lines, setLines] = useState<GroupLine[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [runsVersion, setRunsVersion] = useState(0);
  const groups = useMemo(() => coloredGroups(runs, groupBy), [runs, groupBy]);
  const range: StepRange | null = zoom;
  const live = runs.some((r) => r.status === "running" && !r.stale);
  // Charts far below the fold ask for their aggregates when they come near: each costs a read of every point.
  const [near, setNear] = useState(false);
  useEffect(() => {
    const box = boxRef.current;
    if (!box || near) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) setNear(true);
      },
      { rootMargin: "400px" },
    );
    observer.observe(box);
    return () => observer.disconnect();
  }, [near]);

  useEffect(() => {
    let current = true;
    if (!near) return;
    if (groups.length === 0) {
      setLines([]);
      return;
    }
    const load = (fresh: boolean) =>
      fetchGroupLines(metricKey, groups, range, fresh).then(
        (next) => {
          if (!current) return;
          setLines(next);
          setError(null);
        },
        (e: unknown) => {
          if (current) setError(e instanceof Error ? e.message : String(e));
        },
      );
    load(false);
    const timer = live ? setInterval(() => load(true), LIVE_REFRESH_MS) : undefined;
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [metricKey, groups, range, live, near]);

  const runIds = useMemo(() => groups.flatMap((g) => g.runs.map((r) => r.id)), [groups]);
  useEffect(() => {
    if (!showRuns) return;
    seriesStore.request(metricKey, runIds, GROUP_BUCKETS, range, false);
    return seriesStore.subscribe(metricKey, () => setRunsVersion((v) => v + 1));
  }, [showRuns, metricKey, runIds, range]);

  const drawn = useMemo(() => (lines === null ? null : drawnGroups(lines, band)), [lines, band]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: runsVersion (the faint runs' series arrived or grew) and theme (axis colours come from CSS) redraw without being read
  useLayoutEffect(() => {
    const box = boxRef.current;
    const target = plotRef.current;
    if (!box || !target || drawn === null) return;
    const colors = chartColors();
    const runColorOf = new Map(groups.flatMap((g) => g.runs.map((r) => [r.id, g.color] as const)));
    const faintRuns = showRuns
      ? runIds.flatMap((id) => {
          const data = seriesStore.get(id, metricKey, range);
          return data && data.length > 0 ? [{ color: runColorOf.get(id) ?? "#888", data }] : [];
        })
      : [];
    // The y range holds the bands and the faint runs, not only the means (uPlot fits the series it draws).
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    const include = (v: number) => {
      if (!Number.isFinite(v) || (logY && v <= 0)) return;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    };
    for (const g of drawn) {
      for (let i = 0; i < g.steps.length; i++) {
        include(g.low[i]);
        include(g.high[i]);
      }
    }
    for (const { data } of faintRuns) for (let i = 0; i < data.length; i++) include(data.values[i]);
    const axis = {
      stroke: colors.text,
      grid: { stroke: colors.grid, width: 1 },
      ticks: { stroke: colors.grid, width: 1, size: 4 },
      font: "11px system-ui, -apple-system, Segoe UI, sans-serif",
    };
    const drawUnder = (u: uPlot) => {
      const ctx = u.ctx;
      ctx.save();
      ctx.beginPath();
      ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
      ctx.clip();
      const px = (v: number, scale: string) => u.valToPos(v, scale, true);
      // On a log scale a band edge at or below 0 (mean - std of small values) runs to the bottom of the plot.
      const py = (v: number) => u.valToPos(logY && v <= 0 ? (u.scales.y.min ?? v) : v, "y", true);
      ctx.lineWidth = Math.max(1, uPlot.pxRatio);
      for (const { color, data } of faintRuns) {
        ctx.strokeStyle = withAlpha(color, RUN_ALPHA);
        ctx.beginPath();
        for (let i = 0; i < data.length; i++) {
          const x = px(data.steps[i], "x");
          const y = py(data.values[i]);
          if (i === 0) ctx.moveTo(x, y);
          else ctx.lineTo(x, y);
        }
        ctx.stroke();
      }
      for (const g of drawn) {
        if (g.steps.length === 0) continue;
        ctx.fillStyle = withAlpha(g.color, BAND_ALPHA);
        ctx.beginPath();
        const n = g.steps.length;
        const widen = n === 1 ? 2 * uPlot.pxRatio : 0;
        for (let i = 0; i < n; i++) {
          const x = px(g.steps[i], "x") + (i === n - 1 ? widen : 0);
          if (i === 0) ctx.moveTo(x - widen, py(g.high[i]));
          else ctx.lineTo(x, py(g.high[i]));
        }
        for (let i = n - 1; i >= 0; i--) ctx.lineTo(px(g.steps[i], "x") - (i === 0 ? widen : 0), py(g.low[i]));
        ctx.closePath();
        ctx.fill();
      }
      ctx.restore();
    };
    let hovered = false;
    const showTip = (u: uPlot) => {
      const tip = tipRef.current;
      if (!tip) return;
      const left = u.cursor.left ?? -1;
      if (!hovered || left < 0 || drawn.length === 0) {
        tip.hidden = true;
        return;
      }
      const x = u.posToVal(left, "x");
      const rows = drawn.flatMap((g) => {
        if (g.steps.length === 0) return [];
        const i = nearest(g.steps, x);
        return [{ g, i }];
      });
      tip.replaceChildren(
        Object.assign(document.createElement("div"), {
          className: "tip-head",
          textContent: `step ${formatNumber(rows[0] ? rows[0].g.steps[rows[0].i] : x)} · ${BAND_LABELS[band]}`,
        }),
        ...rows.map(({ g, i }) => {
          const row = document.createElement("div");
          row.className = "tip-row";
          row.dataset.testid = "group-tip-row";
          const swatch = document.createElement("span");
          swatch.className = "tip-dot";
          swatch.style.background = g.color;
          const label = Object.assign(document.createElement("span"), { className: "tip-name", textContent: g.label });
          const spread =
            band === "minmax"
              ? `${formatNumber(g.mean[i])} [${formatNumber(g.low[i])}, ${formatNumber(g.high[i])}]`
              : `${formatNumber(g.mean[i])} ± ${formatNumber(g.high[i] - g.mean[i])}`;
          const value = Object.assign(document.createElement("span"), {
            className: "tip-value mono",
            textContent: `${spread} · n=${g.count[i]}`,
          });
          row.append(swatch, label, value);
          return row;
        }),
      );
      tip.hidden = false;
      const boxWidth = target.clientWidth;
      let tipX = u.over.offsetLeft + left + 14;
      if (tipX + tip.offsetWidth > boxWidth) tipX = u.over.offsetLeft + left - tip.offsetWidth - 14;
      tip.style.transform = `translate(${Math.max(0, tipX)}px, 0px)`;
    };
    const u = new uPlot(
      {
        width: Math.max(100, target.clientWidth),
        height,
        legend: { show: false },
        padding: [8, 12, 0, 0],
        // The crosshair follows the pointer across every chart; the tooltip shows on the hovered one.
        cursor: {
          sync: { key: SYNC_KEY, setSeries: false },
          drag: { x: true, y: false, setScale: false },
          points: { show: false },
        },
        select: { show: true, left: 0, top: 0, width: 0, height: 0 },
        scales: {
          x: { time: false, range: (_u, min, max) => zoom ?? (min === max ? [min - 1, max + 1] : [min, max]) },
          y: {
            ...(logY ? { distr: 3, log: 10 } : {}),
            range: (_u, min, max) => {
              const a = Number.isFinite(lo) ? lo : min;
              const b = Number.isFinite(hi) ? hi : max;
              if (logY) return uPlot.rangeLog(Math.max(a, Number.MIN_VALUE), Math.max(b, Number.MIN_VALUE), 10, false);
              return uPlot.rangeNum(a, b, 0.1, true);
            },
          },
        },
        axes: [
          { ...axis, size: 30 },
          { ...axis, size: 56 },
        ],
        series: [
          {},
          ...drawn.map((g) => ({ label: g.label, stroke: g.color, width: 2, spanGaps: true, points: { show: false } })),
        ],
        hooks: {
          drawAxes: [drawUnder],
          draw: [
            () => {
              box.dataset.painted = String(Number(box.dataset.painted ?? 0) + 1);
              markOnce("group-chart-painted");
            },
          ],
          setCursor: [showTip],
          setSelect: [
            (su: uPlot) => {
              if (su.select.width > 4) {
                const a = su.posToVal(su.select.left, "x");
                const b = su.posToVal(su.select.left + su.select.width, "x");
                onZoomRef.current([a, b]);
              }
              su.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            },
          ],
        },
      },
      alignedData(drawn),
      target,
    );
    uRef.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(100, target.clientWidth), height }));
    resize.observe(target);
    const enter = () => {
      hovered = true;
    };
    const leave = () => {
      hovered = false;
      if (tipRef.current) tipRef.current.hidden = true;
    };
    const reset = () => onZoomRef.current(null);
    target.addEventListener("mouseenter", enter);
    target.addEventListener("mouseleave", leave);
    target.addEventListener("dblclick", reset);
    return () => {
      resize.disconnect();
      target.removeEventListener("mouseenter", enter);
      target.removeEventListener("mouseleave", leave);
      target.removeEventListener("dblclick", reset);
      u.destroy();
      uRef.current = null;
    };
  }, [drawn, groups, runIds, showRuns, metricKey, range, logY, zoom, height, band, theme, runsVersion]);

  return (
    <div
      className="chart-card group-chart"
      ref={boxRef}
      data-testid="group-chart"
      data-key={metricKey}
      data-band={band}
      data-drawn={drawn === null ? undefined : JSON.stringify(drawn)}
      data-faint-runs={showRuns ? runIds.length : 0}
    >
      <div className="chart-head">
        <span className="chart-title" title={metricKey}>
          {metricKey}
        </span>
        <span className="chart-badges">
          <span className="badge badge-muted" title="One line per group: the mean across its runs, with a band">
            {groups.length} group{groups.length === 1 ? "" : "s"} · {BAND_LABELS[band]}
          </span>
          {zoom && <span className="badge badge-accent">zoomed</span>}
          {lines === null && error === null && <span className="spinner" title="Loading" />}
        </span>
      </div>
      <div className="chart-plot" style={{ height }}>
        <div className="chart-canvas" ref={plotRef} />
        <div ref={tipRef} className="chart-tooltip group-tip" hidden data-testid="group-tooltip" />
        {error !== null && (
          <div className="chart-message error" data-testid="chart-error">
            {error}
          </div>
        )}
        {drawn?.every((g) => g.steps.length === 0) && <div className="chart-message">No group logged {metricKey}</div>}
      </div>
    </div>
  );
});
