import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import { type BandKind, bandEdges } from "../../../src/contract/groups";
import type { Run } from "../api/types";
import { linearTickLabels, logTickLabels, STEP_INCRS } from "../lib/axes";
import { withAlpha } from "../lib/colors";
import { formatNumber, formatStep } from "../lib/format";
import { onIdle } from "../lib/frame";
import { HeldTransform } from "../lib/held-transform";
import { tooltipLeft } from "../lib/placement";
import { type GroupCursor, setGroupCursor } from "../state/group-cursor";
import { onPoints } from "../state/live-points";
import { markOnce } from "../state/perf";
import { type SeriesData, type StepRange, seriesStore } from "../state/series";
import type { Theme } from "../state/theme";
import { mirrorPlot } from "./chart/bitmap-layer";
import { Crosshair, keepRectFresh } from "./chart/crosshair";
import {
  type ColoredGroup,
  coloredGroups,
  fetchGroupLines,
  formatSpread,
  GROUP_BUCKETS,
  type GroupLine,
} from "./chart/groups";
import { axisStyle, rightPadding, syncedCursor } from "./chart/options";
import { Reveal, TOOLTIP_WIDTH, type TooltipRow, TooltipView } from "./chart/tooltip";
import { BAND_LABELS } from "./GroupBy";

const DEFAULT_HEIGHT = 220;
/** A grouped chart whose runs log points asks for its aggregates again at most this often. */
const LIVE_REFRESH_MS = 1000;
const BAND_ALPHA = 0.2;
/** The groups the tooltip lists at most. */
const GROUP_TIP_ROWS = 20;
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
  /** The label as people read it (groupNames). */
  name: string;
  color: string;
  steps: number[];
  mean: number[];
  low: number[];
  high: number[];
  count: number[];
  /** Where the group's data begins and ends (its first bucket's mean step is later than where it begins). */
  first: number | null;
  last: number | null;
}

function drawnGroups(lines: readonly GroupLine[], band: BandKind): DrawnGroup[] {
  return lines.map(({ label, name, color, aggregate: a }) => {
    const edges = a.steps.map((_, i) => bandEdges(a, i, band));
    return {
      label,
      name,
      color,
      steps: a.steps,
      mean: a.mean,
      low: edges.map((e) => e[0]),
      high: edges.map((e) => e[1]),
      count: a.count,
      first: a.first_step,
      last: a.last_step,
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

/** What the plot draws from: the groups' aggregates, the faint runs under them, and the y extent of both. */
interface PlotData {
  drawn: DrawnGroup[];
  faintRuns: { color: string; data: SeriesData }[];
  lo: number;
  hi: number;
  /** The x range the data spans: from the first group's first step to the last one's last. */
  xFirst: number;
  xLast: number;
}

function plotData(
  drawn: DrawnGroup[],
  groups: readonly ColoredGroup[],
  showRuns: boolean,
  metricKey: string,
  range: StepRange | null,
  logY: boolean,
): PlotData {
  const faintRuns = showRuns
    ? groups.flatMap((g) =>
        g.runs.flatMap((r) => {
          const data = seriesStore.get(r.id, metricKey, range);
          return data && data.length > 0 ? [{ color: g.color, data }] : [];
        }),
      )
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
  let xFirst = Number.POSITIVE_INFINITY;
  let xLast = Number.NEGATIVE_INFINITY;
  for (const g of drawn) {
    if (g.first !== null) xFirst = Math.min(xFirst, g.first);
    if (g.last !== null) xLast = Math.max(xLast, g.last);
  }
  return { drawn, faintRuns, lo, hi, xFirst, xLast };
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
  const bandRef = useRef(band);
  bandRef.current = band;
  const dataRef = useRef<PlotData | null>(null);
  /** Redraws the tooltip (and the legend's values) where the pointer is, after new data. */
  const refreshTipRef = useRef<(() => void) | null>(null);
  const [lines, setLines] = useState<GroupLine[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [runsVersion, setRunsVersion] = useState(0);
  const grouped = useMemo(() => coloredGroups(runs, groupBy), [runs, groupBy]);
  // The run list changes for reasons that leave every group as it was (a heartbeat, a rename):
  // the same groups keep their aggregates and their plot.
  const groupsKey = JSON.stringify(grouped.map((g) => [g.label, g.color, g.runs.map((r) => r.id)]));
  // biome-ignore lint/correctness/useExhaustiveDependencies: groupsKey stands for the groups
  const groups = useMemo(() => grouped, [groupsKey]);
  const range: StepRange | null = zoom;
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

  // The aggregates, and again (at most once a second, one request at a time) while runs of the groups log this key.
  useEffect(() => {
    if (!near) return;
    if (groups.length === 0) {
      setLines([]);
      return;
    }
    let current = true;
    let inFlight = false;
    let again = false;
    let lastLoad = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = (fresh: boolean) => {
      inFlight = true;
      lastLoad = performance.now();
      fetchGroupLines(metricKey, groups, range, fresh)
        .then(
          (next) => {
            if (!current) return;
            setLines(next);
            setError(null);
          },
          (e: unknown) => {
            if (current) setError(e instanceof Error ? e.message : String(e));
          },
        )
        .finally(() => {
          inFlight = false;
          if (again && current) {
            again = false;
            schedule();
          }
        });
    };
    const schedule = () => {
      if (timer !== undefined) return;
      if (inFlight) {
        again = true;
        return;
      }
      timer = setTimeout(
        () => {
          timer = undefined;
          load(true);
        },
        Math.max(0, lastLoad + LIVE_REFRESH_MS - performance.now()),
      );
    };
    const members = new Set(groups.flatMap((g) => g.runs.map((r) => r.id)));
    const stopListening = onPoints((event) => {
      if (event === null) schedule();
      else if (event.key === metricKey && members.has(event.run_id) && !(range && event.steps[0] > range[1]))
        schedule();
    });
    load(false);
    return () => {
      current = false;
      stopListening();
      clearTimeout(timer);
    };
  }, [metricKey, groups, range, near]);

  const runIds = useMemo(() => groups.flatMap((g) => g.runs.map((r) => r.id)), [groups]);
  useEffect(() => {
    if (!showRuns) return;
    seriesStore.request(metricKey, runIds, GROUP_BUCKETS, range, false);
    return seriesStore.subscribe(metricKey, () => setRunsVersion((v) => v + 1));
  }, [showRuns, metricKey, runIds, range]);

  const drawn = useMemo(() => (lines === null ? null : drawnGroups(lines, band)), [lines, band]);

  // New aggregates or faint runs go into the plot as it is (no rebuild: the picture and the tooltip stay).
  // biome-ignore lint/correctness/useExhaustiveDependencies: runsVersion (the faint runs' series arrived or grew) redraws without being read
  useLayoutEffect(() => {
    if (drawn === null) return;
    dataRef.current = plotData(drawn, groups, showRuns, metricKey, range, logY);
    const u = uRef.current;
    if (!u || u.series.length !== drawn.length + 1) return;
    u.setData(alignedData(drawn));
    refreshTipRef.current?.();
  }, [drawn, groups, showRuns, metricKey, range, logY, runsVersion]);

  const hasData = drawn !== null;
  const seriesKey = JSON.stringify(drawn?.map((g) => [g.label, g.color]) ?? []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: seriesKey stands for the drawn groups' labels and colours, theme (axis colours come from CSS) rebuilds without being read
  useLayoutEffect(() => {
    const box = boxRef.current;
    const target = plotRef.current;
    const initial = dataRef.current;
    if (!box || !target || !hasData || initial === null) return;
    const axis = axisStyle();
    /** Tick labels as the plain chart reads them, recorded on the card (for people inspecting the page and the tests). */
    const labelled =
      (name: "xTicks" | "yTicks", format: (splits: (number | null)[]) => string[]) =>
      (_u: uPlot, splits: (number | null)[]) => {
        const labels = format(splits);
        box.dataset[name] = JSON.stringify(labels);
        return labels;
      };
    const drawUnder = (u: uPlot) => {
      const data = dataRef.current;
      if (!data) return;
      const ctx = u.ctx;
      ctx.save();
      ctx.beginPath();
      ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
      ctx.clip();
      const px = (v: number, scale: string) => u.valToPos(v, scale, true);
      // On a log scale a band edge at or below 0 (mean - std of small values) runs to the bottom of the plot.
      const py = (v: number) => u.valToPos(logY && v <= 0 ? (u.scales.y.min ?? v) : v, "y", true);
      ctx.lineWidth = Math.max(1, uPlot.pxRatio);
      for (const { color, data: run } of data.faintRuns) {
        ctx.strokeStyle = withAlpha(color, RUN_ALPHA);
        ctx.beginPath();
        for (let i = 0; i < run.length; i++) {
          const x = px(run.steps[i], "x");
          const y = py(run.values[i]);
          if (i === 0) ctx.moveTo(x, y);
          else ctx.lineTo(x, y);
        }
        ctx.stroke();
      }
      for (const g of data.drawn) {
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
    /** Whether the legend shows this chart's values (it was the hovered chart last). */
    let published = false;
    const publish = (cursor: GroupCursor | null) => {
      if (cursor === null && !published) return;
      published = cursor !== null;
      setGroupCursor(cursor);
    };
    let crosshair: Crosshair | null = null;
    let tipView: TooltipView | null = null;
    let tipHold: HeldTransform | null = null;
    /** The tooltip's view, made on first use (or ahead of it, when the page is idle). */
    const view = (el: HTMLDivElement): TooltipView => {
      tipView ??= new TooltipView(el, GROUP_TIP_ROWS, "group-tip-row");
      return tipView;
    };
    const hideTip = () => {
      tipView?.hide();
      tipHold?.rest();
    };
    // The tooltip and the legend's values appear in the frame after the pointer enters the plot.
    const reveal = new Reveal(() => showTip(u), false);
    const showTip = (u: uPlot) => {
      crosshair?.placed();
      const el = tipRef.current;
      const drawnNow = dataRef.current?.drawn ?? [];
      if (!el) return;
      const left = u.cursor.left ?? -1;
      if (!hovered || left < 0 || drawnNow.length === 0) {
        reveal.cancel();
        hideTip();
        if (hovered) publish(null);
        return;
      }
      if (!reveal.now(tipView?.visible ?? false)) return;
      tipHold ??= new HeldTransform(el, ["x"]);
      const x = u.posToVal(left, "x");
      const rows = drawnNow.flatMap((g) => {
        if (g.steps.length === 0) return [];
        const i = nearest(g.steps, x);
        return [{ g, i }];
      });
      const bandNow = bandRef.current;
      const step = rows[0] ? rows[0].g.steps[rows[0].i] : x;
      const listed = rows.slice(0, GROUP_TIP_ROWS).map(
        ({ g, i }): TooltipRow => ({
          key: g.label,
          name: g.name,
          color: g.color,
          // A min–max range is long ("0.7696 [0.6642, 0.9164]"): it goes with the run count in the
          // row's muted, narrower text, so the group's label keeps its room (it was cut to "lr…").
          value: bandNow === "minmax" ? formatNumber(g.mean[i]) : formatSpread(bandNow, g.mean[i], g.low[i], g.high[i]),
          detail:
            bandNow === "minmax"
              ? `[${formatNumber(g.low[i])}, ${formatNumber(g.high[i])}] n=${g.count[i]}`
              : `n=${g.count[i]}`,
          active: false,
        }),
      );
      view(el).show(`step ${formatStep(step)}`, BAND_LABELS[bandNow], listed, rows.length - listed.length);
      publish({
        metricKey,
        step,
        groups: rows.map(({ g, i }) => ({
          label: g.label,
          mean: g.mean[i],
          low: g.low[i],
          high: g.high[i],
          count: g.count[i],
        })),
      });
      // Beside the pointer (tooltipLeft says which side), from uPlot's own numbers: a move forces no layout.
      const plotLeft = u.bbox.left / uPlot.pxRatio;
      tipHold.follow();
      tipHold.place(tooltipLeft(plotLeft + left, TOOLTIP_WIDTH, u.width), 0);
    };
    const u = new uPlot(
      {
        width: Math.max(100, target.clientWidth),
        height,
        legend: { show: false },
        padding: [8, rightPadding, 0, 0],
        // The crosshair follows the pointer across every chart; the tooltip shows on the hovered one.
        cursor: {
          sync: syncedCursor(),
          // The crosshair's lines are chart/crosshair.ts's own.
          x: false,
          y: false,
          drag: { x: true, y: false, setScale: false },
          points: { show: false },
        },
        select: { show: true, left: 0, top: 0, width: 0, height: 0 },
        scales: {
          x: {
            time: false,
            // Unzoomed, the axis spans the runs' steps, from where the data begins (a group's line
            // starts at its first bucket's mean step, later than that).
            range: (_u, dataMin, dataMax) => {
              if (zoom) return zoom;
              const data = dataRef.current;
              const min = data && Number.isFinite(data.xFirst) ? Math.min(data.xFirst, dataMin) : dataMin;
              const max = data && Number.isFinite(data.xLast) ? Math.max(data.xLast, dataMax) : dataMax;
              return min === max ? [min - 1, max + 1] : [min, max];
            },
          },
          y: {
            ...(logY ? { distr: 3, log: 10 } : {}),
            range: (_u, min, max) => {
              const data = dataRef.current;
              const a = data && Number.isFinite(data.lo) ? data.lo : min;
              const b = data && Number.isFinite(data.hi) ? data.hi : max;
              if (logY) return uPlot.rangeLog(Math.max(a, Number.MIN_VALUE), Math.max(b, Number.MIN_VALUE), 10, false);
              return uPlot.rangeNum(a, b, 0.1, true);
            },
          },
        },
        axes: [
          { ...axis, size: 30, values: labelled("xTicks", linearTickLabels), incrs: STEP_INCRS },
          {
            ...axis,
            size: 56,
            // Every split reaches the labeller, which blanks the minor ones itself.
            ...(logY ? { filter: (_u: uPlot, splits: number[]) => splits } : {}),
            values: labelled("yTicks", logY ? logTickLabels : linearTickLabels),
          },
        ],
        series: [
          {},
          ...initial.drawn.map((g) => ({
            label: g.label,
            stroke: g.color,
            width: 2,
            spanGaps: true,
            points: { show: false },
          })),
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
      alignedData(initial.drawn),
      target,
    );
    uRef.current = u;
    const unmirror = mirrorPlot(u);
    crosshair = new Crosshair(u, boxRef.current);
    const forgetRect = keepRectFresh(u);
    // The tooltip's elements and fonts are made ready before the first hover, whose frame is the fullest.
    const cancelPrepare = onIdle(() => {
      const el = tipRef.current;
      if (el) view(el).prepare();
    });
    refreshTipRef.current = () => showTip(u);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(100, target.clientWidth), height }));
    resize.observe(target);
    const enter = () => {
      hovered = true;
    };
    const leave = () => {
      hovered = false;
      publish(null);
      hideTip();
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
      publish(null);
      refreshTipRef.current = null;
      crosshair?.dispose();
      reveal.cancel();
      hideTip();
      forgetRect();
      cancelPrepare();
      unmirror();
      u.destroy();
      uRef.current = null;
    };
  }, [hasData, seriesKey, metricKey, logY, zoom, height, theme]);

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
        <div ref={tipRef} className="chart-tooltip group-tip" data-testid="group-tooltip" />
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
