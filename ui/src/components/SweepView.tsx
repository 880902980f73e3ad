import { useCallback, useMemo } from "react";
import type { Run, Summaries } from "../api/types";
import {
  type Brush,
  brushedRunIds,
  buildAxis,
  configField,
  fieldLabel,
  fieldValue,
  metricField,
  SUMMARY_STATS,
  type SweepValue,
  varyingConfigKeys,
} from "../lib/sweep";
import { useRuns } from "../state/runs";
import type { Theme } from "../state/theme";
import { type SweepSettings, updateView, type ViewState } from "../state/view";
import { Correlation } from "./Correlation";
import { EmptyState } from "./EmptyState";
import { ParallelCoords } from "./ParallelCoords";
import { Scatter } from "./Scatter";
import "./sweep.css";

/** Config axes shown before the person picks any. */
const DEFAULT_AXES = 6;

function defaultMetric(metricKeys: readonly string[]): string | undefined {
  const training = metricKeys.filter((k) => !k.startsWith("sys/"));
  const preferred = training.find((k) => /loss/i.test(k)) ?? training[0] ?? metricKeys[0];
  return preferred === undefined ? undefined : metricField(preferred, "last");
}

function setSweep(patch: Partial<SweepSettings>): void {
  updateView((v) => ({ sweep: { ...v.sweep, ...patch } }));
}

function FieldSelect({
  value,
  options,
  testId,
  label,
  onChange,
}: {
  value: string;
  options: readonly string[];
  testId: string;
  label: string;
  onChange(id: string): void;
}) {
  return (
    <label className="sweep-field">
      <span className="muted">{label}</span>
      <select value={value} data-testid={testId} aria-label={label} onChange={(e) => onChange(e.target.value)}>
        {options.map((id) => (
          <option key={id} value={id}>
            {fieldLabel(id)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Each field's values over the runs, computed once per field while the runs (and, for metrics, the summaries) stay. */
function useColumns(runs: readonly Run[], summaries: ReadonlyMap<string, Summaries>, ids: readonly string[]) {
  const key = ids.join("\n");
  const readsMetrics = ids.some((id) => id.startsWith("metric:"));
  const metricSummaries = readsMetrics ? summaries : null;
  return useMemo(() => {
    const out = new Map<string, SweepValue[]>();
    for (const id of key === "" ? [] : key.split("\n")) {
      out.set(
        id,
        runs.map((run) => fieldValue(run, metricSummaries?.get(run.id) ?? {}, id)),
      );
    }
    return out;
  }, [runs, metricSummaries, key]);
}

/**
 * The Sweep tab: parallel coordinates (brushing them filters the run table and
 * the charts), a scatter plot of any two fields, and each config key's rank
 * correlation with a metric. It shows every run of the experiment.
 */
export function SweepView({ runs, view, theme }: { runs: Run[]; view: ViewState; theme: Theme }) {
  const { summaries, keys } = useRuns();
  const { configKeys, metricKeys } = keys;
  const { sweep, brush } = view;

  const metricOptions = useMemo(
    () => metricKeys.flatMap((k) => SUMMARY_STATS.map((stat) => metricField(k, stat))),
    [metricKeys],
  );
  const configOptions = useMemo(() => configKeys.map(configField), [configKeys]);
  const allOptions = useMemo(() => [...configOptions, ...metricOptions], [configOptions, metricOptions]);
  const metric = sweep.metric ?? defaultMetric(metricKeys);
  const axisIds = useMemo(() => {
    if (sweep.axes) return sweep.axes;
    const varying = varyingConfigKeys(runs, configKeys);
    return (varying.length > 0 ? varying : configKeys).slice(0, DEFAULT_AXES).map(configField);
  }, [sweep.axes, runs, configKeys]);
  const sx = sweep.sx ?? axisIds[0] ?? allOptions[0];
  const sy = sweep.sy ?? metric ?? allOptions[1] ?? allOptions[0];

  const pcIds = useMemo(() => (metric ? [...axisIds, metric] : axisIds), [axisIds, metric]);
  const wanted = useMemo(
    () => [...new Set([...pcIds, sx, sy].filter((id): id is string => id !== undefined))],
    [pcIds, sx, sy],
  );
  const columns = useColumns(runs, summaries, wanted);

  const pcValues = useMemo(() => pcIds.map((id) => columns.get(id) ?? []), [pcIds, columns]);
  const pcAxes = useMemo(() => pcIds.map((id, a) => buildAxis(id, pcValues[a])), [pcIds, pcValues]);

  const brushSummaries = Object.keys(brush).some((id) => id.startsWith("metric:")) ? summaries : null;
  const kept = useMemo(() => {
    const ids = brushedRunIds(runs, brushSummaries ?? new Map(), brush);
    if (ids === null) return null;
    const out = new Set<number>();
    runs.forEach((run, i) => {
      if (ids.has(run.id)) out.add(i);
    });
    return out;
  }, [runs, brushSummaries, brush]);

  const onBrush = useCallback((next: Brush) => updateView({ brush: { ...next } }), []);

  if (configKeys.length === 0 && metricKeys.length === 0) {
    return (
      <EmptyState title="Nothing to compare yet" testId="empty-sweep" icon="⋰">
        <p>Runs with a config (and metrics) show up here as a sweep.</p>
      </EmptyState>
    );
  }

  const unusedConfig = configOptions.filter((id) => !axisIds.includes(id));
  const brushedCount = Object.keys(brush).length;

  return (
    <div className="sweep-view" data-testid="sweep-view">
      <section className="sweep-section">
        <header className="sweep-head">
          <h3>Parallel coordinates</h3>
          <div className="sweep-axes" data-testid="pc-axis-chips">
            {axisIds.map((id) => (
              <span className="tag" key={id}>
                {fieldLabel(id)}
                <button
                  type="button"
                  className="tag-remove"
                  aria-label={`Remove axis ${fieldLabel(id)}`}
                  data-testid="pc-remove-axis"
                  onClick={() => {
                    const nextBrush = { ...brush };
                    delete nextBrush[id];
                    updateView((v) => ({
                      sweep: { ...v.sweep, axes: axisIds.filter((a) => a !== id) },
                      brush: nextBrush,
                    }));
                  }}
                >
                  ×
                </button>
              </span>
            ))}
            {unusedConfig.length > 0 && (
              <select
                value=""
                data-testid="pc-add-axis"
                aria-label="Add an axis"
                onChange={(e) => e.target.value && setSweep({ axes: [...axisIds, e.target.value] })}
              >
                <option value="">Add axis…</option>
                {unusedConfig.map((id) => (
                  <option key={id} value={id}>
                    {fieldLabel(id)}
                  </option>
                ))}
              </select>
            )}
          </div>
          {metric && (
            <FieldSelect
              value={metric}
              options={metricOptions}
              testId="sweep-metric"
              label="Metric"
              onChange={(id) => setSweep({ metric: id })}
            />
          )}
          <span className="sweep-count muted" data-testid="sweep-brushed">
            {kept === null ? `${runs.length} runs` : `${kept.size} of ${runs.length} runs in the brush`}
          </span>
          {brushedCount > 0 && (
            <button
              type="button"
              className="btn btn-sm"
              data-testid="clear-brush"
              onClick={() => updateView({ brush: {} })}
            >
              Clear brush
            </button>
          )}
        </header>
        {pcAxes.length === 0 ? (
          <p className="muted pad">Add an axis to draw the runs.</p>
        ) : (
          <ParallelCoords axes={pcAxes} values={pcValues} kept={kept} brush={brush} theme={theme} onBrush={onBrush} />
        )}
      </section>
      <div className="sweep-row">
        <section className="sweep-section sweep-scatter">
          <header className="sweep-head">
            <h3>Scatter</h3>
            {sx && (
              <FieldSelect
                value={sx}
                options={allOptions}
                testId="scatter-x"
                label="X"
                onChange={(id) => setSweep({ sx: id })}
              />
            )}
            {sy && (
              <FieldSelect
                value={sy}
                options={allOptions}
                testId="scatter-y"
                label="Y"
                onChange={(id) => setSweep({ sy: id })}
              />
            )}
          </header>
          {sx && sy && (
            <Scatter
              runs={runs}
              xValues={columns.get(sx) ?? []}
              yValues={columns.get(sy) ?? []}
              xLabel={fieldLabel(sx)}
              yLabel={fieldLabel(sy)}
              kept={kept}
              theme={theme}
            />
          )}
        </section>
        <section className="sweep-section sweep-corr">
          <header className="sweep-head">
            <h3>Correlation</h3>
            {metric && (
              <FieldSelect
                value={metric}
                options={metricOptions}
                testId="corr-metric"
                label="With"
                onChange={(id) => setSweep({ metric: id })}
              />
            )}
          </header>
          {metric ? (
            <Correlation
              runs={runs}
              summaries={summaries}
              configKeys={configKeys}
              metric={metric}
              metricLabel={fieldLabel(metric)}
              sort={sweep.corrSort ?? "rho"}
              onSort={(corrSort) => setSweep({ corrSort })}
            />
          ) : (
            <p className="muted pad">No metric logged yet: the correlation needs one.</p>
          )}
        </section>
      </div>
    </div>
  );
}

/** Above the run table while a brush is on: the table and the charts show only the brushed runs. */
export function BrushNote({ shown, total }: { shown: number; total: number }) {
  return (
    <div className="brush-note" data-testid="brush-note">
      <span>
        Brushed on the Sweep tab: <strong>{shown}</strong> of {total} runs in the table and charts.
      </span>
      <button type="button" className="link" data-testid="brush-note-clear" onClick={() => updateView({ brush: {} })}>
        Clear brush
      </button>
    </div>
  );
}
