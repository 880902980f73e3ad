import { type RefObject, useCallback, useEffect, useRef, useState } from "react";
import type uPlot from "uplot";
import { runColor } from "../../lib/colors";
import { onNextFrame } from "../../lib/frame";
import { lineExtent, onlyPoint } from "../../lib/lines";
import { extendEma, isSorted } from "../../lib/series";
import { type SeriesData, type StepRange, seriesStore } from "../../state/series";
import { type XAxis, xMetricOf } from "../../state/view";
import {
  joinByStep,
  smoothOf,
  sortByX,
  stepRangeOfMetricZoom,
  stepRangeOfTimeZoom,
  X_METRIC_POINTS,
  xsOf,
  yExtent,
} from "./data";
import { type ChartProps, type ColoredLine, type Drawn, SERIES_PER_RUN, type Status, smoothingOf } from "./types";

function isTimeAxis(xAxis: XAxis): boolean {
  return xAxis === "wall" || xAxis === "rel";
}

/** The y and x series to join for a metric x axis: both of the zoomed window, or else both of the full view. */
function pairOf(runId: string, key: string, xKey: string, range: StepRange | null): [SeriesData, SeriesData] | null {
  if (range) {
    const y = seriesStore.get(runId, key, range);
    const x = seriesStore.get(runId, xKey, range);
    if (y && x) return [y, x];
  }
  const y = seriesStore.get(runId, key, null);
  const x = seriesStore.get(runId, xKey, null);
  return y && x ? [y, x] : null;
}

/** What the chart's plot, tooltip and layers read of its data. */
export interface ChartData {
  status: Status;
  /** Each run's series as drawn (their own arrays). */
  drawn: RefObject<Drawn[]>;
  /** What each uPlot series draws (by series index; none for x and for runs without data yet). */
  lines: RefObject<(ColoredLine | null)[]>;
  /** Series (uPlot index) with a single point to draw, and that point's index: a line needs two, so these get a dot. */
  singles: RefObject<Map<number, number>>;
  /** The y extent of the lines inside a zoomed window, where they cross its edges included. */
  yExtent: RefObject<[number, number] | null>;
  /** Redraws the plot from the held series; says whether it painted (lib/frame.ts says why that matters). */
  redraw(): boolean;
  /** The same, in the next animation frame (at most once per frame however often it is asked). */
  scheduleRedraw(): void;
}

interface Where {
  props: RefObject<ChartProps>;
  plot: RefObject<uPlot | null>;
  /** The chart's card, whose data attributes say what is drawn (for people inspecting the page and the tests). */
  card: RefObject<HTMLDivElement | null>;
  /** Whether the chart is near the screen (charts far below the fold fetch nothing). */
  visible: boolean;
  /** The plot's width in CSS pixels (0 until measured). */
  width: number;
}

/**
 * A chart's data: fetches its runs' series for the current x axis and zoom (about one point per
 * pixel), follows the series store, and turns what is held into the lines the plot draws.
 */
export function useChartData({ props: propsRef, plot, card, visible, width }: Where): ChartData {
  const { metricKey, runs, xAxis, zoom } = propsRef.current;
  const xKey = xMetricOf(xAxis);
  const drawnRef = useRef<Drawn[]>([]);
  const linesRef = useRef<(ColoredLine | null)[]>([]);
  const singlesRef = useRef(new Map<number, number>());
  const yExtentRef = useRef<[number, number] | null>(null);
  const timeRangeRef = useRef<{ signature: string; range: StepRange } | null>(null);
  const statusRef = useRef<Status>({ loading: true, error: null, downsampled: false, points: 0 });
  const [status, setStatus] = useState<Status>(statusRef.current);

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
    const xMetric = xMetricOf(p.xAxis);
    const range = xMetric
      ? stepRangeOfMetricZoom(p.runs, xMetric, p.zoom)
      : stepRangeOfTimeZoom(p.runs, p.metricKey, p.xAxis, p.zoom);
    if (!range) return null;
    timeRangeRef.current = { signature, range };
    return range;
  }, [propsRef]);

  const redraw = useCallback((): boolean => {
    const u = plot.current;
    const p = propsRef.current;
    const range = stepRange();
    const xMetric = xMetricOf(p.xAxis);
    const ids = p.runs.map((r) => r.id);
    if (range) seriesStore.request(p.metricKey, ids, targetRef.current, range, isTimeAxis(p.xAxis));
    // Asked on every redraw: a sparser copy of the x metric fetched for its own chart may have come in meanwhile.
    if (xMetric) seriesStore.request(xMetric, ids, X_METRIC_POINTS, range, false);
    const smoothing = smoothingOf(p);
    const drawn: Drawn[] = [];
    let downsampled = false;
    let points = 0;
    let missing = false;
    for (const run of p.runs) {
      if (xMetric) {
        const pair = pairOf(run.id, p.metricKey, xMetric, range);
        if (!pair) {
          missing = true;
          continue;
        }
        const joined = joinByStep(pair[0], pair[1]);
        downsampled ||= pair[0].downsampled || pair[1].downsampled;
        points += joined.length;
        drawn.push({
          run,
          color: runColor(run),
          xs: joined.xs,
          steps: joined.steps,
          values: joined.values,
          smooth: smoothing > 0 ? extendEma(undefined, joined.values, joined.length, smoothing).out : null,
          length: joined.length,
          downsampled: pair[0].downsampled,
          sortedByX: !joined.monotonic,
        });
        continue;
      }
      const data =
        (range ? seriesStore.get(run.id, p.metricKey, range) : undefined) ?? seriesStore.get(run.id, p.metricKey, null);
      // On a time axis, a copy fetched for the step axis (no times) waits for its refetch.
      if (!data || (isTimeAxis(p.xAxis) && !data.hasTimes)) {
        missing = true;
        continue;
      }
      let xs = xsOf(data, p.xAxis, run);
      let steps = data.steps;
      let values = data.values;
      let smooth: Float64Array | null = null;
      if (!isSorted(xs, data.length)) {
        ({ xs, steps, values } = sortByX(xs, steps, values, data.length));
        if (smoothing > 0) smooth = extendEma(undefined, values, data.length, smoothing).out;
      } else if (smoothing > 0) smooth = smoothOf(data, smoothing);
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
        ) ||
        (xMetric !== null &&
          seriesStore.isLoading(
            p.runs.map((r) => r.id),
            xMetric,
            range,
          )),
      error: seriesStore.error(p.metricKey) ?? (xMetric ? seriesStore.error(xMetric) : undefined) ?? null,
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
    if (!u || u.series.length - 1 < p.runs.length * SERIES_PER_RUN) return false;
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
    const box = card.current;
    if (box) {
      box.dataset.runs = String(drawn.length);
      box.dataset.series = String(p.runs.length * (smoothing > 0 ? 2 : 1));
      box.dataset.points = String(points);
      box.dataset.downsampled = String(downsampled);
      box.dataset.envelopes = String(drawn.filter((d) => d.downsampled && d.length > 0).length);
      box.dataset.xSorted = String(drawn.some((d) => d.sortedByX));
    }
    return true;
  }, [stepRange, plot, propsRef, card]);

  const scheduleRedraw = useCallback(() => onNextFrame(redraw), [redraw]);

  useEffect(() => seriesStore.subscribe(metricKey, scheduleRedraw), [metricKey, scheduleRedraw]);
  useEffect(() => (xKey ? seriesStore.subscribe(xKey, scheduleRedraw) : undefined), [xKey, scheduleRedraw]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: runKey, colorKey and zoomSignature stand for runs and zoom
  useEffect(() => {
    if (!visible || !hasWidth) return;
    seriesStore.request(metricKey, runIds, target, null, isTimeAxis(xAxis));
    if (xKey) seriesStore.request(xKey, runIds, X_METRIC_POINTS, null, false);
    scheduleRedraw();
  }, [visible, metricKey, runKey, colorKey, target, zoomSignature, hasWidth, xAxis, scheduleRedraw]);

  return {
    status,
    drawn: drawnRef,
    lines: linesRef,
    singles: singlesRef,
    yExtent: yExtentRef,
    redraw,
    scheduleRedraw,
  };
}
