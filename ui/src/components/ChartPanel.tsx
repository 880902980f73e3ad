import { memo, useRef, useState } from "react";
import type { Run } from "../api/types";
import { defaultXAxis, isSystemMetric, unitOf } from "../lib/metric-groups";
import { countRender } from "../state/perf";
import { useMetricKeys } from "../state/runs";
import type { Theme } from "../state/theme";
import {
  CHART_HEIGHTS,
  type ChartSettings,
  metricXAxis,
  parseXAxis,
  updateView,
  type ViewState,
  type XAxis,
  xMetricOf,
  type YRange,
} from "../state/view";
import { Chart } from "./Chart";
import { usePopoverPlacement } from "./ColumnPicker";
import { GroupChart } from "./GroupChart";
import { CloseIcon, GearIcon, PinIcon } from "./Icons";
import { useDismiss } from "./useDismiss";

const X_LABELS = { step: "Step", wall: "Wall time", rel: "Relative time" } as const;

/** How an x axis is named in menus: a metric axis by its key. */
export function xAxisLabel(x: XAxis): string {
  return xMetricOf(x) ?? X_LABELS[x as keyof typeof X_LABELS];
}
const DEFAULT_PCT = 5;
const SETTINGS_WIDTH = 300;

export function patchChart(key: string, patch: Partial<ChartSettings>): void {
  updateView((view) => {
    const next: ChartSettings = { ...view.charts[key], ...patch };
    for (const name of Object.keys(next) as (keyof ChartSettings)[]) if (next[name] === undefined) delete next[name];
    const charts = { ...view.charts };
    if (Object.keys(next).length === 0) delete charts[key];
    else charts[key] = next;
    return { charts };
  });
}

function numberOrNull(text: string): number | null {
  if (text.trim() === "") return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** The settings popover of one chart: y scale, y range, smoothing, x axis, height and width. */
function ChartSettingsPopover({
  metricKey,
  runs,
  settings,
  view,
  anchor,
  onClose,
}: {
  metricKey: string;
  runs: Run[];
  settings: ChartSettings;
  /** The toolbar's choices, which the chart follows where it has none of its own. */
  view: Pick<ViewState, "x" | "smooth" | "log">;
  anchor: React.RefObject<HTMLElement | null>;
  onClose(): void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useDismiss(true, onClose, [ref, anchor]);
  const placement = usePopoverPlacement(true, anchor, SETTINGS_WIDTH);
  const set = (patch: Partial<ChartSettings>) => patchChart(metricKey, patch);
  const range: YRange = settings.range ?? { mode: "auto" };
  const log = settings.log ?? view.log;
  const smooth = settings.smooth ?? view.smooth;
  const metricKeys = useMetricKeys(runs);
  const xChoices: XAxis[] = [...(Object.keys(X_LABELS) as XAxis[]), ...metricKeys.map(metricXAxis)];
  // A saved choice stays listed while the runs shown lack its metric.
  if (settings.x && !xChoices.includes(settings.x)) xChoices.push(settings.x);
  return (
    <div className="popover chart-settings" ref={ref} style={placement} data-testid="chart-settings">
      <h4 className="mono">{metricKey}</h4>
      <div className="setting-row">
        <span>Y scale</span>
        <div className="segmented">
          {[false, true].map((on) => (
            <button
              type="button"
              key={String(on)}
              className={log === on ? "active" : ""}
              aria-pressed={log === on}
              data-testid={on ? "chart-y-log" : "chart-y-linear"}
              onClick={() => set({ log: on === view.log ? undefined : on })}
            >
              {on ? "Log" : "Linear"}
            </button>
          ))}
        </div>
      </div>
      <div className="setting-row">
        <span>Y range</span>
        <select
          value={range.mode}
          data-testid="chart-range-mode"
          onChange={(e) => {
            const mode = e.target.value;
            if (mode === "manual") set({ range: { mode: "manual", min: null, max: null } });
            else if (mode === "pct") set({ range: { mode: "pct", pct: DEFAULT_PCT } });
            else set({ range: undefined });
          }}
        >
          <option value="auto">Fit all points</option>
          <option value="pct">Ignore outliers</option>
          <option value="manual">Manual</option>
        </select>
      </div>
      {range.mode === "pct" && (
        <label className="setting-row">
          <span>Percentiles</span>
          <span className="muted small">
            <input
              type="number"
              min={0.5}
              max={25}
              step={0.5}
              value={range.pct}
              data-testid="chart-range-pct"
              onChange={(e) => {
                const pct = Number(e.target.value);
                if (pct > 0 && pct < 50) set({ range: { mode: "pct", pct } });
              }}
            />{" "}
            to {100 - range.pct}
          </span>
        </label>
      )}
      {range.mode === "manual" && (
        <div className="setting-row">
          <span>Min · max</span>
          <span className="range-inputs">
            <input
              type="number"
              placeholder="auto"
              defaultValue={range.min ?? ""}
              data-testid="chart-range-min"
              onChange={(e) => set({ range: { ...range, min: numberOrNull(e.target.value) } })}
            />
            <input
              type="number"
              placeholder="auto"
              defaultValue={range.max ?? ""}
              data-testid="chart-range-max"
              onChange={(e) => set({ range: { ...range, max: numberOrNull(e.target.value) } })}
            />
          </span>
        </div>
      )}
      <label className="setting-row">
        <span>Smoothing</span>
        <span className="smoothing">
          <input
            type="range"
            min={0}
            max={0.99}
            step={0.01}
            value={smooth}
            data-testid="chart-smoothing"
            onChange={(e) => set({ smooth: Number(e.target.value) })}
          />
          <span className="mono smoothing-value">{smooth.toFixed(2)}</span>
        </span>
      </label>
      <div className="setting-row">
        <span>X axis</span>
        <select
          value={settings.x ?? ""}
          data-testid="chart-x"
          onChange={(e) => set({ x: parseXAxis(e.target.value) ?? undefined })}
        >
          <option value="">
            {isSystemMetric(metricKey) ? "Default for system metrics" : "As the toolbar"} (
            {xAxisLabel(defaultXAxis(metricKey, view.x))})
          </option>
          {xChoices.map((x) => (
            <option key={x} value={x}>
              {xMetricOf(x) !== null ? `Metric: ${xAxisLabel(x)}` : xAxisLabel(x)}
            </option>
          ))}
        </select>
      </div>
      <div className="setting-row">
        <span>Width</span>
        <select
          value={settings.span ?? 1}
          data-testid="chart-span"
          onChange={(e) => set({ span: Number(e.target.value) === 1 ? undefined : Number(e.target.value) })}
        >
          {[1, 2, 3, 4].map((n) => (
            <option key={n} value={n}>
              {n} column{n === 1 ? "" : "s"}
            </option>
          ))}
        </select>
      </div>
      <div className="popover-foot">
        <button
          type="button"
          className="btn btn-ghost btn-sm"
          data-testid="chart-reset"
          onClick={() =>
            updateView((v) => {
              const charts = { ...v.charts };
              delete charts[metricKey];
              return { charts };
            })
          }
        >
          Reset this chart
        </button>
      </div>
    </div>
  );
}

/** Dragging the bottom edge sets the chart's height (kept in the URL). */
function ResizeHandle({ metricKey, height }: { metricKey: string; height: number }) {
  return (
    // biome-ignore lint/a11y/useSemanticElements: a drag handle; an <hr> cannot take pointer capture styling as a strip
    <div
      className="chart-resize"
      role="separator"
      aria-orientation="horizontal"
      aria-label="Drag to resize the chart"
      data-testid="chart-resize"
      onPointerDown={(e) => {
        e.preventDefault();
        const startY = e.clientY;
        const target = e.currentTarget;
        target.setPointerCapture(e.pointerId);
        const move = (m: PointerEvent) => {
          const next = Math.round(
            Math.min(CHART_HEIGHTS.max, Math.max(CHART_HEIGHTS.min, height + m.clientY - startY)),
          );
          patchChart(metricKey, { height: next === CHART_HEIGHTS.default ? undefined : next });
        };
        const up = () => {
          target.removeEventListener("pointermove", move);
          target.removeEventListener("pointerup", up);
        };
        target.addEventListener("pointermove", move);
        target.addEventListener("pointerup", up);
      }}
    />
  );
}

/** The view's fields a chart panel reads: a panel re-renders only when one of them changes. */
export type ChartViewFields = Pick<ViewState, "x" | "smooth" | "log" | "zoom" | "groupBy" | "band" | "groupRuns">;

/** One chart of the grid with its own controls: settings, pin, hide, resize. */
export const ChartPanel = memo(function ChartPanel({
  metricKey,
  runs,
  settings: chartSettings,
  x,
  smooth,
  log,
  zoom,
  groupBy,
  band,
  groupRuns,
  theme,
  onZoom,
}: ChartViewFields & {
  metricKey: string;
  runs: Run[];
  /** This chart's own settings (view.charts[metricKey]). */
  settings: ChartSettings | undefined;
  theme: Theme;
  onZoom(zoom: [number, number] | null): void;
}) {
  countRender("ChartPanel");
  const [open, setOpen] = useState(false);
  const gear = useRef<HTMLButtonElement>(null);
  const settings = chartSettings ?? {};
  const xAxis = settings.x ?? defaultXAxis(metricKey, x);
  const ownAxis = xAxis !== x;
  const height = settings.height ?? CHART_HEIGHTS.default;
  const customised =
    settings.log !== undefined ||
    settings.range ||
    settings.smooth !== undefined ||
    (settings.x !== undefined && settings.x !== defaultXAxis(metricKey, x));
  return (
    <div
      className={`chart-cell${settings.pin ? " pinned" : ""}`}
      style={settings.span ? { gridColumn: `span ${settings.span}` } : undefined}
      data-testid="chart-cell"
      data-key={metricKey}
      data-x-axis={xAxis}
    >
      {groupBy.length > 0 ? (
        <GroupChart
          metricKey={metricKey}
          runs={runs}
          groupBy={groupBy}
          band={band}
          showRuns={groupRuns}
          logY={settings.log ?? log}
          zoom={xAxis === "step" ? zoom : null}
          onZoom={xAxis === "step" ? onZoom : ignoreZoom}
          theme={theme}
          height={height}
        />
      ) : (
        <Chart
          metricKey={metricKey}
          runs={runs}
          xAxis={xAxis}
          smoothing={settings.smooth ?? smooth}
          toolbarSmoothing={settings.smooth === undefined}
          logY={settings.log ?? log}
          // A zoom is in the toolbar's x units: a chart on its own axis is not zoomed with the others.
          zoom={ownAxis ? null : zoom}
          onZoom={ownAxis ? ignoreZoom : onZoom}
          theme={theme}
          height={height}
          yRange={settings.range}
          yLabel={unitOf(metricKey) ?? undefined}
        />
      )}
      <div className="chart-tools">
        <button
          type="button"
          ref={gear}
          className={`icon-btn chart-tool${customised ? " on" : ""}`}
          title="Chart settings: y scale and range, smoothing, x axis, width"
          aria-label={`Settings of ${metricKey}`}
          aria-expanded={open}
          data-testid="chart-settings-button"
          onClick={() => setOpen(!open)}
        >
          <GearIcon />
        </button>
        <button
          type="button"
          className={`icon-btn chart-tool${settings.pin ? " on" : ""}`}
          title={settings.pin ? "Unpin" : "Pin to the top"}
          aria-pressed={settings.pin === true}
          data-testid="chart-pin"
          onClick={() => patchChart(metricKey, { pin: settings.pin ? undefined : true })}
        >
          <PinIcon />
        </button>
        <button
          type="button"
          className="icon-btn chart-tool"
          title="Hide this chart"
          data-testid="chart-hide"
          onClick={() => patchChart(metricKey, { hide: true, pin: undefined })}
        >
          <CloseIcon />
        </button>
      </div>
      <ResizeHandle metricKey={metricKey} height={height} />
      {open && (
        <ChartSettingsPopover
          metricKey={metricKey}
          runs={runs}
          settings={settings}
          view={{ x, smooth, log }}
          anchor={gear}
          onClose={() => setOpen(false)}
        />
      )}
    </div>
  );
});

function ignoreZoom(): void {}
