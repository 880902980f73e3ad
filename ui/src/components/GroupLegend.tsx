import { useMemo } from "react";
import type { BandKind } from "../../../src/contract/groups";
import type { Run } from "../api/types";
import { withAlpha } from "../lib/colors";
import { formatStep } from "../lib/format";
import { useGroupCursor } from "../state/group-cursor";
import { updateView } from "../state/view";
import { coloredGroups, formatSpread } from "./chart/groups";
import { BAND_LABELS } from "./GroupBy";
import "./GroupLegend.css";

/** Runs listed under a group before the rest are counted ("+3 more"): a legend of 50 names helps nobody. */
const RUNS_PER_GROUP = 8;
const BAND_ALPHA = 0.25;
const RUN_ALPHA = 0.45;

/**
 * The legend of grouped charts: one entry per group (its colour as line over band, label, run
 * count, and its mean and band at the step under the pointer of the hovered chart), with the
 * group's runs after it when they are drawn too.
 */
export function GroupLegend({
  runs,
  groupBy,
  band,
  showRuns,
}: {
  runs: Run[];
  groupBy: string[];
  band: BandKind;
  showRuns: boolean;
}) {
  const groups = useMemo(() => coloredGroups(runs, groupBy), [runs, groupBy]);
  const cursor = useGroupCursor();
  const atCursor = useMemo(() => new Map(cursor?.groups.map((g) => [g.label, g]) ?? []), [cursor]);
  return (
    <div className="legend group-legend" data-testid="chart-legend" data-grouped="true">
      <span
        className="legend-cursor muted mono"
        data-testid="legend-cursor"
        data-key={cursor?.metricKey}
        data-step={cursor?.step}
      >
        {cursor ? `${cursor.metricKey} · step ${formatStep(cursor.step)}` : BAND_LABELS[band]}
      </span>
      {groups.map((g) => {
        const at = atCursor.get(g.label);
        const hidden = g.runs.length - RUNS_PER_GROUP;
        return (
          <span
            className="legend-group"
            key={g.label}
            data-testid="legend-group"
            data-group={g.label}
            data-color={g.color}
          >
            <span className="legend-item legend-group-head">
              <span className="legend-swatch" style={{ background: withAlpha(g.color, BAND_ALPHA) }}>
                <span className="legend-line" style={{ background: g.color }} />
              </span>
              <span data-testid="legend-group-label" title={g.name === g.label ? undefined : g.label}>
                {g.name}
              </span>
              <span className="muted" data-testid="legend-group-count">
                {g.runs.length} run{g.runs.length === 1 ? "" : "s"}
              </span>
              <span
                className={band === "minmax" ? "legend-value legend-value-range mono" : "legend-value mono"}
                data-testid="legend-group-value"
                data-mean={at?.mean}
                data-low={at?.low}
                data-high={at?.high}
                data-count={at?.count}
              >
                {at ? formatSpread(band, at.mean, at.low, at.high) : ""}
              </span>
            </span>
            {showRuns && (
              <span className="legend-runs">
                {g.runs.slice(0, RUNS_PER_GROUP).map((r) => (
                  <button
                    type="button"
                    key={r.id}
                    className="legend-item legend-run"
                    data-testid="legend-run"
                    data-run-id={r.id}
                    title="Open run details"
                    onClick={() => updateView({ run: r.id })}
                  >
                    <span className="legend-line" style={{ background: withAlpha(g.color, RUN_ALPHA) }} />
                    {r.name ?? r.id.slice(0, 8)}
                  </button>
                ))}
                {hidden > 0 && <span className="muted legend-more">+{hidden} more</span>}
              </span>
            )}
          </span>
        );
      })}
      <span className="legend-hint muted">Drag on a chart to zoom · double-click to reset</span>
    </div>
  );
}
