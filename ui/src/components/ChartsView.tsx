import { useCallback, useEffect, useLayoutEffect, useMemo, useRef } from "react";
import type { Run } from "../api/types";
import { runColor } from "../lib/colors";
import { chartSections } from "../state/charted";
import { useMetricKeys } from "../state/runs";
import { setSmoothingDraft, smoothingDraft, useSmoothingDraft } from "../state/smoothing";
import type { Theme } from "../state/theme";
import { getView, metricXAxis, parseXAxis, updateView, type ViewState, type XAxis, xMetricOf } from "../state/view";
import { ChartPanel, patchChart } from "./ChartPanel";
import { EmptyState, Snippet } from "./EmptyState";
import { GroupLegend } from "./GroupLegend";
import { SearchBox } from "./SearchBox";
import { WorkspaceBar } from "./WorkspaceBar";

const LEGEND_LIMIT = 24;
/** How long the smoothing slider rests before its value goes into the link (a render of the whole page). */
const SMOOTH_COMMIT_MS = 250;

const X_AXES: { id: XAxis; label: string }[] = [
  { id: "step", label: "Step" },
  { id: "wall", label: "Wall time" },
  { id: "rel", label: "Relative time" },
];

/** Metrics that usually count progress, offered first as an x axis. */
const PROGRESS_KEYS = ["epoch", "tokens", "samples"];

/** The metric a press on "Metric…" puts on the x axis: a progress counter when the runs log one. */
function firstXMetric(keys: readonly string[]): string | undefined {
  return keys.find((k) => PROGRESS_KEYS.includes(k.split("/").pop() ?? k)) ?? keys[0];
}

/** The toolbar's smoothing slider: while it moves, only it and the charts (state/smoothing.ts) follow. */
function SmoothingSlider({ committed, onChange }: { committed: number; onChange(value: number): void }) {
  const value = useSmoothingDraft() ?? committed;
  return (
    <label className="smoothing">
      <span>Smoothing</span>
      <input
        type="range"
        min={0}
        max={0.99}
        step={0.01}
        value={value}
        data-testid="smoothing"
        onChange={(e) => onChange(Number(e.target.value))}
      />
      <span className="mono smoothing-value" data-testid="smoothing-value">
        {value.toFixed(2)}
      </span>
    </label>
  );
}

/** The grid of charts: as many columns as fit, or the 1 to 4 chosen. */
export function ChartGrid({
  keys,
  runs,
  view,
  theme,
  onZoom,
}: {
  keys: readonly string[];
  runs: Run[];
  view: ViewState;
  theme: Theme;
  onZoom(zoom: [number, number] | null): void;
}) {
  const style = view.chartCols > 0 ? { gridTemplateColumns: `repeat(${view.chartCols}, minmax(0, 1fr))` } : undefined;
  return (
    <div className="chart-grid" style={style} data-testid="chart-grid">
      {keys.map((key) => (
        <ChartPanel
          key={key}
          metricKey={key}
          runs={runs}
          settings={view.charts[key]}
          x={view.x}
          smooth={view.smooth}
          log={view.log}
          zoom={view.zoom}
          groupBy={view.groupBy}
          band={view.band}
          groupRuns={view.groupRuns}
          theme={theme}
          onZoom={onZoom}
        />
      ))}
    </div>
  );
}

export function ChartsView({
  runs,
  view,
  theme,
  experimentId,
}: {
  runs: Run[];
  view: ViewState;
  theme: Theme;
  experimentId: string;
}) {
  const filter = view.metrics;
  const collapsed = useMemo(() => new Set(view.collapsed), [view.collapsed]);
  const allKeys = useMetricKeys(runs);
  const xMetric = xMetricOf(view.x);
  const xMetricChoices = xMetric !== null && !allKeys.includes(xMetric) ? [...allKeys, xMetric] : allKeys;
  const { pinned, groups, hidden } = useMemo(
    () => chartSections(allKeys, { metrics: filter, charts: view.charts }),
    [allKeys, filter, view.charts],
  );
  const onZoom = useCallback((zoom: [number, number] | null) => updateView({ zoom }), []);
  // While the slider moves only the charts follow it; the page (table, link) learns the value once it
  // rests, or as soon as anything else is pressed (a zoom drag, say), so no later change misses it.
  const smoothPending = useRef<{ value: number; timer: ReturnType<typeof setTimeout> } | null>(null);
  const commitSmooth = useCallback(() => {
    const pending = smoothPending.current;
    if (!pending) return;
    smoothPending.current = null;
    clearTimeout(pending.timer);
    document.removeEventListener("pointerdown", commitSmooth, true);
    // The draft stays until the charts have the value as a prop (the layout effect below), so none
    // of them draws the old smoothing in between.
    if (getView().smooth === pending.value) setSmoothingDraft(null);
    else updateView({ smooth: pending.value });
  }, []);
  useLayoutEffect(() => {
    if (smoothingDraft() === view.smooth) setSmoothingDraft(null);
  }, [view.smooth]);
  useEffect(
    () => () => {
      commitSmooth();
      setSmoothingDraft(null);
    },
    [commitSmooth],
  );
  const onSmooth = useCallback(
    (value: number) => {
      setSmoothingDraft(value);
      if (smoothPending.current) clearTimeout(smoothPending.current.timer);
      else document.addEventListener("pointerdown", commitSmooth, true);
      smoothPending.current = { value, timer: setTimeout(commitSmooth, SMOOTH_COMMIT_MS) };
    },
    [commitSmooth],
  );

  const toggleGroup = (group: string) => {
    const next = new Set(collapsed);
    if (next.has(group)) next.delete(group);
    else next.add(group);
    updateView({ collapsed: [...next] });
  };

  if (runs.length === 0) {
    return (
      <EmptyState title="No runs selected" testId="empty-selection" icon="☐">
        <p>Tick runs in the table above to chart their metrics. Shift-click selects a range.</p>
      </EmptyState>
    );
  }

  return (
    <div className="charts-view" data-testid="charts-view">
      <div className="charts-sticky" data-testid="charts-sticky">
        <div className="chart-toolbar">
          <div className="segmented" title="X axis">
            {X_AXES.map((a) => (
              <button
                type="button"
                key={a.id}
                className={view.x === a.id ? "active" : ""}
                aria-pressed={view.x === a.id}
                data-testid={`x-${a.id}`}
                onClick={() => updateView({ x: a.id, zoom: null })}
              >
                {a.label}
              </button>
            ))}
            <button
              type="button"
              className={xMetric !== null ? "active" : ""}
              aria-pressed={xMetric !== null}
              data-testid="x-metric"
              title="Another metric logged at the same steps (epoch, tokens, samples)"
              disabled={allKeys.length === 0}
              onClick={() => {
                const key = xMetric ?? firstXMetric(allKeys);
                if (key !== undefined) updateView({ x: metricXAxis(key), zoom: null });
              }}
            >
              Metric…
            </button>
          </div>
          {xMetric !== null && (
            <select
              className="x-metric-select"
              value={view.x}
              data-testid="x-metric-key"
              aria-label="X axis metric"
              onChange={(e) => updateView({ x: parseXAxis(e.target.value) ?? "step", zoom: null })}
            >
              {xMetricChoices.map((key) => (
                <option key={key} value={metricXAxis(key)}>
                  {key}
                </option>
              ))}
            </select>
          )}
          <div className="segmented" title="Y scale">
            <button
              type="button"
              className={!view.log ? "active" : ""}
              aria-pressed={!view.log}
              data-testid="y-linear"
              onClick={() => updateView({ log: false })}
            >
              Linear
            </button>
            <button
              type="button"
              className={view.log ? "active" : ""}
              aria-pressed={view.log}
              data-testid="y-log"
              onClick={() => updateView({ log: true })}
            >
              Log
            </button>
          </div>
          <SmoothingSlider committed={view.smooth} onChange={onSmooth} />
          {view.zoom && (
            <button type="button" className="btn btn-sm" data-testid="reset-zoom" onClick={() => onZoom(null)}>
              Reset zoom
            </button>
          )}
          <div className="segmented" title="Chart columns">
            {[0, 1, 2, 3, 4].map((n) => (
              <button
                type="button"
                key={n}
                className={view.chartCols === n ? "active" : ""}
                aria-pressed={view.chartCols === n}
                data-testid={`chart-cols-${n}`}
                title={n === 0 ? "As many columns as fit" : `${n} column${n === 1 ? "" : "s"}`}
                onClick={() => updateView({ chartCols: n })}
              >
                {n === 0 ? "Auto" : n}
              </button>
            ))}
          </div>
          <SearchBox
            small
            placeholder="Filter metrics"
            value={filter}
            testId="metric-filter"
            onChange={(metrics) => updateView({ metrics })}
          />
          {hidden.length > 0 && (
            <select
              className="hidden-charts"
              value=""
              data-testid="hidden-charts"
              aria-label="Show a hidden chart"
              onChange={(e) => {
                if (e.target.value === "*") for (const key of hidden) patchChart(key, { hide: undefined });
                else if (e.target.value) patchChart(e.target.value, { hide: undefined });
              }}
            >
              <option value="">{hidden.length} hidden</option>
              {hidden.map((key) => (
                <option key={key} value={key}>
                  Show {key}
                </option>
              ))}
              <option value="*">Show all</option>
            </select>
          )}
          <WorkspaceBar experimentId={experimentId} view={view} />
        </div>
        {view.groupBy.length > 0 ? (
          <GroupLegend runs={runs} groupBy={view.groupBy} band={view.band} showRuns={view.groupRuns} />
        ) : (
          <div className="legend" data-testid="chart-legend">
            {runs.slice(0, LEGEND_LIMIT).map((r) => (
              <button
                type="button"
                key={r.id}
                className="legend-item"
                title="Open run details"
                onClick={() => updateView({ run: r.id })}
              >
                <span className="legend-line" style={{ background: runColor(r) }} />
                {r.name ?? r.id.slice(0, 8)}
              </button>
            ))}
            {runs.length > LEGEND_LIMIT && <span className="muted">+{runs.length - LEGEND_LIMIT} more</span>}
            <span className="legend-hint muted">Drag on a chart to zoom · double-click to reset</span>
          </div>
        )}
      </div>
      {pinned.length > 0 && (
        <section className="chart-group pinned-group" data-testid="pinned-charts">
          <div className="group-head static">
            <span className="group-name">Pinned</span>
            <span className="group-count">{pinned.length}</span>
          </div>
          <ChartGrid keys={pinned} runs={runs} view={view} theme={theme} onZoom={onZoom} />
        </section>
      )}
      {groups.length === 0 && pinned.length === 0 && hidden.length === 0 && (
        <EmptyState
          title={filter ? "No metric matches this filter" : "These runs have not logged metrics yet"}
          testId="empty-metrics"
          icon="∿"
        >
          {!filter && (
            <>
              <p>Charts appear here as soon as a selected run logs its first point:</p>
              <Snippet />
            </>
          )}
        </EmptyState>
      )}
      {groups.map(([group, keys]) => {
        const isCollapsed = collapsed.has(group);
        return (
          <section className="chart-group" key={group} data-testid="chart-group" data-group={group}>
            <button
              type="button"
              className="group-head"
              aria-expanded={!isCollapsed}
              data-testid="group-toggle"
              data-group={group}
              onClick={() => toggleGroup(group)}
            >
              <span className={`chevron${isCollapsed ? "" : " open"}`}>›</span>
              <span className="group-name">{group}</span>
              <span className="group-count">{keys.length}</span>
            </button>
            {!isCollapsed && <ChartGrid keys={keys} runs={runs} view={view} theme={theme} onZoom={onZoom} />}
          </section>
        );
      })}
    </div>
  );
}
