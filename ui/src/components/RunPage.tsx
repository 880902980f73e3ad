import { useCallback, useMemo } from "react";
import type { Run } from "../api/types";
import { patchRun } from "../state/actions";
import { useMetricKeys } from "../state/runs";
import type { Theme } from "../state/theme";
import { updateView, type ViewState } from "../state/view";
import { ChartGrid } from "./ChartsView";
import { ColorPicker } from "./ColorPicker";
import { EmptyState } from "./EmptyState";
import { EditableName, RunInfoSections } from "./RunDetail";
import { StatusBadge } from "./StatusBadge";

/** The page of one run (?run=ID&page=run): every metric charted with the same charts and settings, and all it records. */
export function RunPage({
  run,
  loading,
  view,
  theme,
}: {
  run: Run | undefined;
  loading: boolean;
  view: ViewState;
  theme: Theme;
}) {
  const runs = useMemo(() => (run ? [run] : []), [run]);
  const keys = useMetricKeys(runs);
  const onZoom = useCallback((zoom: [number, number] | null) => updateView({ zoom }), []);
  const back = (
    <button
      type="button"
      className="link back-link"
      data-testid="run-page-back"
      onClick={() => updateView({ page: "experiment", run: null, zoom: null }, true)}
    >
      ← All runs
    </button>
  );
  if (!run) {
    return loading ? (
      <div className="loading-page" data-testid="loading">
        Loading run…
      </div>
    ) : (
      <EmptyState title="Run not found" testId="run-not-found" icon="!">
        <p>This run does not exist (it may have been deleted).</p>
        {back}
      </EmptyState>
    );
  }
  return (
    <div className="run-page" data-testid="run-page" data-run-id={run.id}>
      {back}
      <div className="run-page-head">
        <ColorPicker run={run} onPick={(color) => void patchRun(run.id, { color })} />
        <EditableName run={run} />
        <StatusBadge run={run} />
      </div>
      <div className="run-page-body">
        <section className="run-page-charts panel" data-testid="run-page-charts">
          {keys.length === 0 ? (
            <EmptyState title="No metrics logged yet" icon="∿" />
          ) : (
            <ChartGrid keys={keys} runs={runs} view={view} theme={theme} onZoom={onZoom} />
          )}
        </section>
        <aside className="run-page-info drawer-body" data-testid="run-page-info">
          <RunInfoSections run={run} />
        </aside>
      </div>
    </div>
  );
}
