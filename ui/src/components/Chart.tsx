import { memo, useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import uPlot from "uplot";
import { formatNumber } from "../lib/format";
import { cancelFrame, onFrameAfterThis, onIdle, onNextFrame, onNextFrameFirst, useDelayedFlag } from "../lib/frame";
import { HeldTransform } from "../lib/held-transform";
import { lineExtent } from "../lib/lines";
import { tooltipLeft } from "../lib/placement";
import { type Derived, nearestIndex, recomputeEma } from "../lib/series";
import { setHoveredRun } from "../state/hover";
import { subscribeSmoothingDraft } from "../state/smoothing";
import { BitmapLayer, mirrorPlot } from "./chart/bitmap-layer";
import { Crosshair, keepRectFresh } from "./chart/crosshair";
import { clearStaleEnvelopes, drawEnvelopeLayer, drawHighlight, drawSmoothLayer, rawLinePaths } from "./chart/layers";
import { formatX, plotOptions, plotSeries } from "./chart/options";
import { byValueDescending, type HoverRow, Reveal, runLabel, type TooltipRow, TooltipView } from "./chart/tooltip";
import { type ChartProps, type Mark, SERIES_PER_RUN, smoothingOf } from "./chart/types";
import { useChartData } from "./chart/useChartData";

export type { ChartProps } from "./chart/types";

const DEFAULT_HEIGHT = 220;
const TOOLTIP_ROWS = 12;
/** A chart's read shows a spinner once it has taken this long (useDelayedFlag says why). */
const SPINNER_DELAY_MS = 300;
/** How far (CSS pixels) beyond a run's first or last point the pointer still reads that run. */
const NEAR_PX = 8;

/** The run to mark in the run table, once the frame that moved the pointer is over. */
let nextHoveredRun: string | null = null;

function markHoveredRow(): boolean {
  setHoveredRun(nextHoveredRun);
  return false;
}

/**
 * Marks the run's row in the run table in the next frame: its style, layout and paint then
 * land in a frame apart from the chart's highlight and tooltip (together they took more than
 * one). The last chart to ask wins, as the pointer is on one chart at a time.
 */
function queueHoveredRun(runId: string | null): void {
  nextHoveredRun = runId;
  onFrameAfterThis(markHoveredRow);
}

/**
 * Puts the tooltip beside the pointer (tooltipLeft says which side) and within the plot's height;
 * `size` is the tooltip's size as last laid out. It moves on the compositor (`hold`, see
 * HeldTransform) while it follows the pointer.
 */
function placeTooltip(u: uPlot, hold: HeldTransform, size: { width: number; height: number }, height: number): void {
  const left = u.cursor.left ?? 0;
  const top = u.cursor.top ?? 0;
  const plotLeft = u.bbox.left / uPlot.pxRatio;
  const x = tooltipLeft(plotLeft + left, size.width, u.width);
  const y = Math.min(Math.max(0, top - 10), height - size.height);
  hold.follow();
  hold.place(x, Math.max(0, y));
}

/** One metric: a uPlot chart with a line per run, synced crosshair, shared tooltip and drag-to-zoom. */
export const Chart = memo(function Chart(props: ChartProps) {
  const { metricKey, runs, xAxis, smoothing, logY, zoom, theme, yLabel } = props;
  const HEIGHT = props.height ?? DEFAULT_HEIGHT;
  const yRangeKey = JSON.stringify(props.yRange ?? null);
  const boxRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<HTMLDivElement>(null);
  const tipRef = useRef<HTMLDivElement>(null);
  const tooltipRef = useRef<TooltipView | null>(null);
  const tipSizeRef = useRef({ width: 0, height: 0 });
  const tipObserverRef = useRef<ResizeObserver | null>(null);
  /** The tooltip's place while it follows the pointer (HeldTransform says why), and the crosshair's. */
  const tipHoldRef = useRef<HeldTransform | null>(null);
  const crosshairRef = useRef<Crosshair | null>(null);
  /** The runs with a point near the pointer, reused from move to move (tooltip and marks). */
  const hoverRowsRef = useRef<HoverRow[]>([]);
  const sortedRows = useRef<HoverRow[]>([]);
  const tipRowsRef = useRef<TooltipRow[]>([]);
  /** Where the tooltip is to show (the x it snaps to, the nearest run); null while it is hidden. */
  const tipAtRef = useRef<{ snapped: number; nearest: HoverRow } | null>(null);
  const uRef = useRef<uPlot | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;
  const hoveredRef = useRef(false);
  /** The run whose line is nearest the pointer while this chart is hovered; drawn on top, wider. */
  const highlightRef = useRef<string | null>(null);
  const highlightLayerRef = useRef<BitmapLayer | null>(null);
  const marksLayerRef = useRef<BitmapLayer | null>(null);
  const smoothLayerRef = useRef<BitmapLayer | null>(null);
  const envelopeLayerRef = useRef<BitmapLayer | null>(null);
  /** The smoothing and scale options the plot was last drawn with, to tell a smoothing-only change. */
  const drawnSmoothingRef = useRef(smoothingOf(props));
  /** Per run, the array a smoothing-only change smooths into (reused move after move). */
  const smoothBuffersRef = useRef(new Map<string, Derived>());
  /** The listed runs' points under the pointer, marked on the highlight layer. */
  const marksRef = useRef<Mark[]>([]);
  /** The tick labels last drawn per axis (x, y), for people inspecting the page and the browser tests. */
  const labelsRef = useRef<string[][]>([[], []]);
  /** The y axis' width in this plot so far (it never narrows, see its size option). */
  const yAxisWidthRef = useRef(0);
  const [visible, setVisible] = useState(false);
  const [width, setWidth] = useState(0);

  const runIds = runs.map((r) => r.id);
  const runKey = runIds.join(",");
  const hasWidth = width > 0;
  const zoomSignature = zoom ? `${xAxis}:${zoom[0]}:${zoom[1]}:${runKey}` : "";

  const {
    status,
    drawn: drawnRef,
    lines: linesRef,
    singles: singlesRef,
    yExtent: yExtentRef,
    redraw,
    scheduleRedraw,
  } = useChartData({ props: propsRef, plot: uRef, card: boxRef, visible, width });
  const spinner = useDelayedFlag(status.loading && visible, SPINNER_DELAY_MS);

  /** Each series' line, from its run's own arrays (uPlot's data holds extents only). */
  const linePaths = useCallback<uPlot.Series.PathBuilder>(
    (u, si) => {
      const line = linesRef.current[si];
      // Smoothed lines are drawn on their own layer (drawSmoothLayer says why).
      if (!line || si % SERIES_PER_RUN === 0) return null;
      return rawLinePaths(u, line, smoothingOf(propsRef.current) > 0 ? 1 : 1.5);
    },
    [linesRef],
  );

  const repaintSmoothLayer = useCallback(
    (u: uPlot): boolean => {
      const layer = smoothLayerRef.current;
      return layer ? drawSmoothLayer(u, layer, linesRef.current) : false;
    },
    [linesRef],
  );

  const paintSmoothLayer = useCallback((): boolean => {
    const u = uRef.current;
    return u ? repaintSmoothLayer(u) : false;
  }, [repaintSmoothLayer]);

  /**
   * After the plot's redraw, its smoothed lines are painted in the next frame, ahead of other
   * charts: without a GPU the plot (axes, raw lines) and the smoothed lines (three hairlines each)
   * rasterised in one frame took more than the frame.
   */
  const queueSmoothLayer = useCallback(() => onNextFrameFirst(paintSmoothLayer), [paintSmoothLayer]);

  const paintEnvelopes = useCallback((): boolean => {
    const u = uRef.current;
    const layer = envelopeLayerRef.current;
    return u && layer ? drawEnvelopeLayer(u, layer, drawnRef.current) : false;
  }, [drawnRef]);

  const queueEnvelopes = useCallback(
    (u: uPlot) => {
      const layer = envelopeLayerRef.current;
      if (layer && clearStaleEnvelopes(u, layer, drawnRef.current)) onNextFrame(paintEnvelopes);
    },
    [drawnRef, paintEnvelopes],
  );

  /**
   * A smoothing change that leaves the plot's scales as they are (unzoomed, linear, no percentile
   * range: every smoothed value lies between the run's own lowest and highest) recomputes the
   * smoothed lines and repaints their layer only.
   */
  // biome-ignore lint/correctness/useExhaustiveDependencies: repaintHighlight reads refs only
  const redrawSmoothed = useCallback((): boolean => {
    const u = uRef.current;
    const p = propsRef.current;
    const lines = linesRef.current;
    if (!u) return false;
    const smoothing = smoothingOf(p);
    const byRun = new Map(drawnRef.current.map((d) => [d.run.id, d]));
    p.runs.forEach((run, i) => {
      const d = byRun.get(run.id);
      const si = 1 + i * SERIES_PER_RUN + 1;
      if (!d || si >= lines.length) return;
      const buffer = recomputeEma(smoothBuffersRef.current.get(run.id), d.values, d.length, smoothing);
      smoothBuffersRef.current.set(run.id, buffer);
      d.smooth = buffer.out;
      const line = { xs: d.xs, ys: d.smooth, length: d.length, color: d.color };
      lines[si] = lineExtent(line, false) ? line : null;
    });
    repaintSmoothLayer(u);
    repaintHighlight(u);
    return true;
  }, [repaintSmoothLayer]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: repaintHighlightLine reads refs only
  const paintHighlightLine = useCallback((): boolean => {
    const u = uRef.current;
    if (u) repaintHighlightLine(u);
    return true;
  }, []);

  /**
   * The pointer left the plot: the tooltip, the marks and the highlighted line go in the next
   * frame. The leaving move's own frame already holds uPlot's work for every synced chart and the
   * page's restyle, and with these on top it was the fullest of a hover's last frames.
   */
  // biome-ignore lint/correctness/useExhaustiveDependencies: hideTip, clearMarks and highlight read refs only
  const leave = useCallback((): boolean => {
    const u = uRef.current;
    // Back in the plot already: the next move shows what is under the pointer.
    if (!u || (hoveredRef.current && (u.cursor.left ?? -1) >= 0)) return false;
    const tip = tooltipRef.current;
    if (tip) hideTip(tip);
    clearMarks(u);
    highlight(u, null);
    return true;
  }, []);

  /** A double-click's reset applies in the frame after the click (as a drag's zoom does, see plotOptions). */
  const resetZoom = useCallback((): boolean => {
    propsRef.current.onZoom(null);
    return false;
  }, []);

  // The marks and the tooltip appear a frame after the pointer enters the plot (Reveal says why).
  const [reveal] = useState(
    () =>
      new Reveal(() => {
        const u = uRef.current;
        const tip = tooltipRef.current;
        if (!u || !tip || !tipAtRef.current) return;
        repaintMarks(u);
        showTip(u, tip);
      }, true),
  );

  useEffect(() => () => tipObserverRef.current?.disconnect(), []);

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

  // biome-ignore lint/correctness/useExhaustiveDependencies: the plot is rebuilt when what its options depend on changes
  useEffect(() => {
    const box = plotRef.current;
    if (!visible || !box || !hasWidth) return;
    yAxisWidthRef.current = 0;
    const opts = plotOptions(
      box.clientWidth,
      HEIGHT,
      runs.length,
      {
        props: propsRef,
        drawn: drawnRef,
        lines: linesRef,
        singles: singlesRef,
        labels: labelsRef,
        yAxisWidth: yAxisWidthRef,
        yExtent: yExtentRef,
        card: boxRef,
      },
      { linePaths, renderTooltip, queueSmoothLayer, repaintHighlight, queueEnvelopes },
    );
    // Built in the next frame, so the data requests of every chart on screen leave first.
    let u: uPlot | null = null;
    let forgetRect = () => {};
    let cancelPrepare = () => {};
    let unmirror = () => {};
    const build = () => {
      u = new uPlot({ ...opts, width: box.clientWidth || opts.width }, [[]], box);
      uRef.current = u;
      crosshairRef.current = new Crosshair(u, boxRef.current);
      forgetRect = keepRectFresh(u);
      u.over.addEventListener("mouseenter", () => {
        hoveredRef.current = true;
      });
      u.over.addEventListener("mouseleave", () => {
        hoveredRef.current = false;
        onFrameAfterThis(leave, true);
      });
      u.over.addEventListener("dblclick", () => onFrameAfterThis(resetZoom));
      const place = (name: string, parent: HTMLElement, ref: { current: BitmapLayer | null }) => {
        ref.current = new BitmapLayer(`chart-layer chart-${name}`);
        parent.append(ref.current.canvas);
      };
      // Under uPlot's canvas: the envelopes shade behind the lines and the grid.
      place("envelope", u.under, envelopeLayerRef);
      place("smooth", u.over, smoothLayerRef);
      // The points under the pointer change on every move, the highlighted line only when another
      // run is nearest: on separate layers a move repaints a few dots, not a wide line.
      place("highlight", u.over, highlightLayerRef);
      place("marks", u.over, marksLayerRef);
      unmirror = mirrorPlot(u);
      // The tooltip's elements and fonts are made ready before the first hover, whose frame is the fullest.
      cancelPrepare = onIdle(() => tooltip()?.prepare());
      redraw();
      return true;
    };
    onNextFrame(build);
    return () => {
      cancelFrame(build);
      cancelFrame(redraw);
      cancelFrame(paintEnvelopes);
      cancelFrame(paintSmoothLayer);
      reveal.cancel();
      cancelFrame(paintHighlightLine);
      cancelFrame(leave);
      crosshairRef.current?.dispose();
      crosshairRef.current = null;
      forgetRect();
      cancelPrepare();
      unmirror();
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
      if (!u || have >= want) return false;
      u.batch(() => {
        for (const s of plotSeries(want - have, linesRef, propsRef, linePaths)) u.addSeries(s);
        redraw();
      });
      return true;
    };
    onNextFrame(grow);
    return () => cancelFrame(grow);
  }, [runKey]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new height rebuilds the plot; only width changes resize it
  useEffect(() => {
    const u = uRef.current;
    if (u && width > 0 && Math.abs(u.width - width) > 1) u.setSize({ width, height: HEIGHT });
  }, [width]);

  const applySmoothing = useCallback(() => {
    const before = drawnSmoothingRef.current;
    const p = propsRef.current;
    const now = smoothingOf(p);
    drawnSmoothingRef.current = now;
    const scalesKept = !p.zoom && !p.logY && p.yRange?.mode !== "pct";
    if (before > 0 && now > 0 && scalesKept && uRef.current) {
      if (before !== now) onNextFrame(redrawSmoothed);
    } else {
      cancelFrame(redrawSmoothed);
      scheduleRedraw();
    }
  }, [redrawSmoothed, scheduleRedraw]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: smoothing and zoomSignature are what applySmoothing reads through propsRef
  useEffect(applySmoothing, [smoothing, zoomSignature, applySmoothing]);

  useEffect(
    () =>
      subscribeSmoothingDraft(() => {
        if (smoothingOf(propsRef.current) !== drawnSmoothingRef.current) applySmoothing();
      }),
    [applySmoothing],
  );

  /** Marks the run nearest the pointer: its line drawn on top, its row in the run table. */
  function highlight(u: uPlot, runId: string | null): void {
    if (highlightRef.current === runId) return;
    highlightRef.current = runId;
    queueHoveredRun(runId);
    const card = boxRef.current;
    if (card) {
      if (runId) card.dataset.highlight = runId;
      else delete card.dataset.highlight;
    }
    // The move entering the plot (no tooltip yet) has the fullest frame: the wide line follows in the next.
    if (tooltipRef.current?.visible) repaintHighlightLine(u);
    else onFrameAfterThis(paintHighlightLine, true);
  }

  function clearMarks(u: uPlot): void {
    if (marksRef.current.length === 0) return;
    marksRef.current = [];
    repaintMarks(u);
  }

  function repaintHighlightLine(u: uPlot): void {
    const layer = highlightLayerRef.current;
    const id = highlightRef.current;
    if (layer) drawHighlight(u, layer, id ? drawnRef.current.find((d) => d.run.id === id) : undefined, []);
  }

  function repaintMarks(u: uPlot): void {
    const layer = marksLayerRef.current;
    if (layer) drawHighlight(u, layer, undefined, marksRef.current);
  }

  function repaintHighlight(u: uPlot): void {
    repaintHighlightLine(u);
    repaintMarks(u);
  }

  /** The tooltip's view, made on first use (or ahead of it, when the page is idle). */
  function tooltip(): TooltipView | null {
    const el = tipRef.current;
    if (!el) return null;
    if (!tooltipRef.current) {
      tooltipRef.current = new TooltipView(el, TOOLTIP_ROWS);
      tipHoldRef.current = new HeldTransform(el);
      // The tooltip's size as last laid out, so placing it reads no layout in the pointer's handler.
      tipObserverRef.current = new ResizeObserver((entries) => {
        const size = entries[entries.length - 1].borderBoxSize[0];
        tipSizeRef.current = { width: size.inlineSize, height: size.blockSize };
        const u = uRef.current;
        const hold = tipHoldRef.current;
        if (u && hold && tooltipRef.current?.visible)
          placeTooltip(u, hold, tipSizeRef.current, propsRef.current.height ?? DEFAULT_HEIGHT);
      });
      tipObserverRef.current.observe(el);
    }
    return tooltipRef.current;
  }

  function hideTip(tip: TooltipView): void {
    tipAtRef.current = null;
    reveal.cancel();
    tip.hide();
    tipHoldRef.current?.rest();
  }

  function renderTooltip(u: uPlot): void {
    crosshairRef.current?.placed();
    const tip = tooltip();
    if (!tip) return;
    const left = u.cursor.left ?? -1;
    const drawn = drawnRef.current;
    // The other charts follow the crosshair only: one tooltip, where the pointer is.
    if (left < 0 && hoveredRef.current) {
      // The pointer is leaving the plot (uPlot moves the cursor off first): see leave.
      onFrameAfterThis(leave, true);
      return;
    }
    if (left < 0 || drawn.length === 0 || !hoveredRef.current) {
      hideTip(tip);
      if (hoveredRef.current) {
        clearMarks(u);
        highlight(u, null);
      }
      return;
    }
    const p = propsRef.current;
    const xv = u.posToVal(left, "x");
    const near = Math.abs(u.posToVal(left + NEAR_PX, "x") - xv);
    // Rows and marks are reused move after move: a hover makes no garbage per pointer event.
    const rows = hoverRowsRef.current;
    let count = 0;
    for (const d of drawn) {
      // A run that has not started or has already ended at this x has nothing to say here.
      if (d.length === 0 || xv < d.xs[0] - near || xv > d.xs[d.length - 1] + near) continue;
      const j = nearestIndex(d.xs, d.length, xv);
      if (j < 0) continue;
      const row = rows[count] ?? { d, value: 0, step: 0, x: 0 };
      rows[count++] = row;
      row.d = d;
      row.value = d.smooth ? d.smooth[j] : d.values[j];
      row.step = d.steps[j];
      row.x = d.xs[j];
    }
    if (count === 0) {
      hideTip(tip);
      clearMarks(u);
      highlight(u, null);
      return;
    }
    const found = sortedRows.current;
    found.length = 0;
    for (let i = 0; i < count; i++) found.push(rows[i]);
    found.sort(byValueDescending);
    let snapped = found[0].x;
    for (const row of found) if (Math.abs(row.x - xv) < Math.abs(snapped - xv)) snapped = row.x;
    const top = u.cursor.top ?? 0;
    let nearest = found[0];
    let nearestDistance = Number.POSITIVE_INFINITY;
    for (const row of found) {
      if (!Number.isFinite(row.value) || (p.logY && row.value <= 0)) continue;
      const distance = Math.hypot(u.valToPos(row.x, "x") - left, u.valToPos(row.value, "y") - top);
      if (distance < nearestDistance) {
        nearestDistance = distance;
        nearest = row;
      }
    }
    const marks = marksRef.current;
    for (let i = 0; i < found.length; i++) {
      const mark = marks[i] ?? { x: 0, y: 0, color: "" };
      marks[i] = mark;
      mark.x = found[i].x;
      mark.y = found[i].value;
      mark.color = found[i].d.color;
    }
    marks.length = found.length;
    // The move entering the plot has the fullest frame (the page restyles for the hover, every
    // chart shows its crosshair): the marks and the tooltip follow in the next, the wide line after.
    const now = reveal.now(tip.visible);
    if (now) repaintMarks(u);
    highlight(u, nearest.d.run.id);
    tipAtRef.current = { snapped, nearest };
    if (now) showTip(u, tip);
  }

  /** Shows the tooltip for the rows the last move found (sortedRows, tipAtRef). */
  function showTip(u: uPlot, tip: TooltipView): void {
    const at = tipAtRef.current;
    if (!at) return;
    const p = propsRef.current;
    const found = sortedRows.current;
    const { snapped, nearest } = at;
    // The highlighted run is always listed, even past the row limit.
    const shown = Math.min(found.length, TOOLTIP_ROWS);
    const nearestAt = found.indexOf(nearest);
    const listed = tipRowsRef.current;
    for (let i = 0; i < shown; i++) {
      const row = i === shown - 1 && nearestAt >= shown ? nearest : found[i];
      const out = listed[i] ?? { key: "", name: "", color: "", value: "", detail: "", active: false };
      listed[i] = out;
      out.key = row.d.run.id;
      out.name = runLabel(row.d.run);
      out.color = row.d.color;
      out.value = formatNumber(row.value);
      // Each run's own step: runs logged at other steps, or at this time, are at steps of their own.
      out.detail = `@${formatNumber(row.step)}`;
      out.active = row === nearest;
    }
    listed.length = shown;
    // A metric x that goes back as the step grows is drawn in x order (the line joins points far apart in steps).
    const sortedNote = drawnRef.current.some((d) => d.sortedByX) ? " · x not monotonic" : "";
    tip.show(p.metricKey, `${formatX(p.xAxis, snapped)}${sortedNote}`, listed, found.length - shown);
    const hold = tipHoldRef.current;
    if (hold) placeTooltip(u, hold, tipSizeRef.current, p.height ?? DEFAULT_HEIGHT);
  }

  return (
    <div
      className="chart-card"
      ref={boxRef}
      data-testid="chart"
      data-key={metricKey}
      data-loading={status.loading && visible ? "" : undefined}
    >
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
          {spinner && <span className="spinner" data-testid="chart-loading" title="Loading" />}
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
