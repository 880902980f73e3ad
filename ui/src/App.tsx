import { useEffect, useLayoutEffect, useMemo, useState } from "react";
import { api } from "./api/client";
import type { Experiment, PointsEvent } from "./api/types";
import { ChartsView } from "./components/ChartsView";
import { CompareView } from "./components/CompareView";
import { ConfirmDialog } from "./components/ConfirmDialog";
import { EmptyState, Snippet } from "./components/EmptyState";
import { Header } from "./components/Header";
import { CloseIcon } from "./components/Icons";
import { RunDetail } from "./components/RunDetail";
import { RunPage } from "./components/RunPage";
import { RunTable } from "./components/RunTable";
import { Sidebar } from "./components/Sidebar";
import { BrushNote, SweepView } from "./components/SweepView";
import { useNextFrameValue } from "./lib/frame";
import { brushReadsMetrics } from "./lib/sweep";
import { forgetRun } from "./state/actions";
import { brushedRuns, chartedRuns } from "./state/charted";
import { experimentsStore, useExperiments } from "./state/experiments";
import { useServedFile } from "./state/info";
import { connectLive, type LiveStatus } from "./state/live";
import { notePoints } from "./state/live-points";
import { dismissError, showError, useError } from "./state/notices";
import { perfEnabled, recordHandler, recordRender } from "./state/perf";
import { runsStore, useRuns } from "./state/runs";
import { seriesStore } from "./state/series";
import { useTheme } from "./state/theme";
import { type Tab, updateView, useView } from "./state/view";

const TABS: { id: Tab; label: string }[] = [
  { id: "charts", label: "Charts" },
  { id: "compare", label: "Compare configs" },
  { id: "sweep", label: "Sweep" },
];

function handlePoints(event: PointsEvent): void {
  const start = performance.now();
  seriesStore.points(event);
  runsStore.points(event);
  notePoints(event);
  recordHandler(performance.now() - start, event.values.length);
}

export function App() {
  const renderStart = perfEnabled ? performance.now() : 0;
  useLayoutEffect(() => {
    if (perfEnabled) recordRender(performance.now() - renderStart);
  });
  const view = useView();
  const { theme } = useTheme();
  const runsSnap = useRuns();
  const error = useError();
  const { experiments, projects, status: experimentsState, error: experimentsError } = useExperiments();
  const [live, setLive] = useState<LiveStatus | null>(null);
  const dbPath = useServedFile();
  const [deleting, setDeleting] = useState<Experiment | null>(null);

  useEffect(() => experimentsStore.poll(), []);

  // A link to a run alone finds its experiment.
  useEffect(() => {
    if (view.exp || !view.run) return;
    api.run(view.run).then(
      (run) => updateView({ exp: run.experiment_id }),
      (e) => {
        showError(e);
        updateView({ run: null });
      },
    );
  }, [view.exp, view.run]);

  // With no experiment chosen, open the newest one.
  useEffect(() => {
    if (view.exp || view.run || experimentsState !== "ready" || experiments.length === 0) return;
    const newest = experiments.reduce((a, b) => (b.created_at > a.created_at ? b : a));
    updateView({ exp: newest.id });
  }, [view.exp, view.run, experimentsState, experiments]);

  // The experiment as the URL names it (id or name), and its id once known.
  const experimentKey = view.exp;
  const experiment = experiments.find((e) => e.id === experimentKey || e.name === experimentKey) ?? null;
  const experimentId = experiment?.id ?? (runsSnap.experimentKey === experimentKey ? runsSnap.experimentId : null);

  useEffect(() => {
    seriesStore.reset();
    void runsStore.load(experimentKey);
  }, [experimentKey]);

  useEffect(() => {
    if (experimentKey && experiment) runsStore.resolve(experimentKey, experiment.id);
  }, [experimentKey, experiment]);

  // A link to an experiment that did not exist yet: it opens once the experiment list has it.
  const experimentFound = experiment !== null;
  useEffect(() => {
    if (experimentKey && experimentFound && runsStore.getSnapshot().status === "error") {
      void runsStore.load(experimentKey, true);
    }
  }, [experimentKey, experimentFound]);

  // Without an experiment's stream, a stream of the experiment list alone keeps the sidebar live.
  useEffect(() => {
    if (experimentFound) return;
    return connectLive(null, {
      runUpdate: () => {},
      runDeleted: () => {},
      metricsUpdate: () => {},
      points: () => {},
      experimentsChanged: () => experimentsStore.refreshSoon(50),
      resync: () => experimentsStore.refreshSoon(50),
      status: () => {},
    });
  }, [experimentFound]);

  const liveId = experiment?.id ?? null;
  useEffect(() => {
    if (!liveId || !experimentKey) {
      setLive(null);
      return;
    }
    return connectLive(liveId, {
      runUpdate: (event) => {
        if (!runsStore.getSnapshot().byId.has(event.run_id)) experimentsStore.refreshSoon();
        if (event.run) runsStore.upsert(event.run);
        else api.run(event.run_id).then((run) => runsStore.upsert(run), showError);
      },
      runDeleted: (event) => {
        forgetRun(event.run_id);
        experimentsStore.refreshSoon();
      },
      metricsUpdate: (event) => runsStore.metricsUpdate(event),
      points: handlePoints,
      experimentsChanged: () => experimentsStore.refreshSoon(50),
      resync: () => {
        seriesStore.reset();
        notePoints(null);
        void runsStore.load(experimentKey, true);
      },
      status: setLive,
    });
  }, [liveId, experimentKey]);

  const current = runsSnap.experimentKey === experimentKey;
  const allRuns = current ? runsSnap.runs : [];
  // The Sweep tab's brush narrows the runs the table and the charts work on.
  const { brush } = view;
  const brushSummaries = brushReadsMetrics(brush) ? runsSnap.summaries : null;
  const runs = useMemo(
    () => brushedRuns(allRuns, brushSummaries ?? new Map(), brush),
    [allRuns, brushSummaries, brush],
  );
  const { newest, runs: chosen, hide } = view;
  const { selected, selectedRuns } = useMemo(
    () => chartedRuns({ newest, runs: chosen, hide }, runs),
    [newest, chosen, hide, runs],
  );
  // The click's frame renders the table; the charts follow in the next frame.
  const runsOnCharts = useNextFrameValue(selectedRuns);

  const { q, status, tag, cols, sort, order, run: openRun, groupBy, band, groupRuns, groupOpen } = view;
  const tableView = useMemo(
    () => ({ q, status, tag, cols, sort, order, newest, run: openRun, groupBy, band, groupRuns, groupOpen }),
    [q, status, tag, cols, sort, order, newest, openRun, groupBy, band, groupRuns, groupOpen],
  );

  const shownExperiments = useMemo(
    () =>
      experiments.map((e) =>
        e.id === experimentId && current && runsSnap.status === "ready" ? { ...e, run_count: runsSnap.runs.length } : e,
      ),
    [experiments, experimentId, current, runsSnap],
  );

  const pickExperiment = (id: string) => {
    if (id === experimentId || id === experimentKey) return;
    updateView(
      {
        exp: id,
        newest: true,
        runs: [],
        hide: [],
        zoom: null,
        run: null,
        page: "experiment",
        charts: {},
        metrics: "",
        collapsed: [],
        ws: null,
        brush: {},
        sweep: {},
        q: "",
        status: "",
        tag: "",
        cols: null,
        sort: "created",
        order: "desc",
      },
      true,
    );
  };

  const confirmDeleteExperiment = async () => {
    if (!deleting) return;
    try {
      await api.deleteExperiment(deleting.id);
      experimentsStore.forget(deleting.id);
      if (deleting.id === experimentId)
        updateView({ exp: null, newest: true, runs: [], hide: [], run: null, zoom: null, page: "experiment" }, true);
      setDeleting(null);
      experimentsStore.refreshSoon();
    } catch (e) {
      showError(e);
    }
  };

  let content: React.ReactNode;
  if (experimentsState === "loading") {
    content = (
      <div className="loading-page" data-testid="loading">
        Loading experiments…
      </div>
    );
  } else if (experimentsState === "error") {
    content = (
      <EmptyState title="Cannot load experiments" testId="load-error" icon="!">
        <p className="error-text">{experimentsError}</p>
        <button type="button" className="btn" onClick={() => void experimentsStore.load()}>
          Try again
        </button>
      </EmptyState>
    );
  } else if (experiments.length === 0 && !experimentKey) {
    content = (
      <EmptyState title="No experiments yet" testId="empty-experiments" icon="◇">
        <p>Log your first run from Python, and it shows up here live:</p>
        <Snippet />
        {dbPath && (
          <p className="muted" data-testid="empty-db-file">
            This dashboard shows <code>{dbPath}</code>.
          </p>
        )}
        <p className="muted">
          Or try the dashboard on generated data: <code>stonks demo</code>, then reload.
        </p>
      </EmptyState>
    );
  } else if (!experimentKey) {
    content = <EmptyState title="Pick an experiment" icon="◇" />;
  } else if (runsSnap.status === "error") {
    content = (
      <EmptyState title="Cannot show this experiment" testId="experiment-error" icon="!">
        <p className="error-text">{runsSnap.error}</p>
        {!experiment && (
          <p className="muted" data-testid="waiting-for-experiment">
            If it is about to be created, it opens here as soon as it is.
          </p>
        )}
        <button
          type="button"
          className="btn"
          onClick={() =>
            updateView({ exp: null, newest: true, runs: [], hide: [], run: null, page: "experiment" }, true)
          }
        >
          Go to the newest experiment
        </button>
      </EmptyState>
    );
  } else if (runsSnap.status !== "ready" || !current) {
    content = (
      <div className="loading-page" data-testid="loading">
        Loading runs…
      </div>
    );
  } else if (view.page === "run" && view.run) {
    content = <RunPage run={runsSnap.byId.get(view.run)} loading={false} view={view} theme={theme} />;
  } else if (allRuns.length === 0) {
    content = (
      <EmptyState title="No runs in this experiment yet" testId="empty-runs" icon="▷">
        <p>Start a run in this experiment and it appears here while it trains:</p>
        <Snippet
          code={`import stonks\nwith stonks.start_run(${JSON.stringify(experiment?.name ?? "my-experiment")}, config={"lr": 0.01}) as run:\n    run.log({"train/loss": loss}, step=step)`}
        />
      </EmptyState>
    );
  } else {
    content = (
      <>
        <section className="table-section">
          {runs !== allRuns && <BrushNote shown={runs.length} total={allRuns.length} />}
          <RunTable runs={runs} view={tableView} selected={selected} />
        </section>
        <div className="tabs" role="tablist">
          {TABS.map((t) => (
            <button
              type="button"
              key={t.id}
              role="tab"
              aria-selected={view.tab === t.id}
              className={view.tab === t.id ? "tab active" : "tab"}
              data-testid={`tab-${t.id}`}
              onClick={() => updateView({ tab: t.id })}
            >
              {t.label}
            </button>
          ))}
          <span className="tabs-note muted">
            {selectedRuns.length} run{selectedRuns.length === 1 ? "" : "s"} selected
          </span>
        </div>
        <section className="panel">
          {view.tab === "charts" ? (
            <ChartsView runs={runsOnCharts} view={view} theme={theme} experimentId={experimentId ?? experimentKey} />
          ) : view.tab === "sweep" ? (
            <SweepView runs={allRuns} view={view} theme={theme} />
          ) : (
            <CompareView runs={selectedRuns} onlyDiff={view.diff} setOnlyDiff={(diff) => updateView({ diff })} />
          )}
        </section>
      </>
    );
  }

  const detailRun = view.run ? runsSnap.byId.get(view.run) : undefined;
  return (
    <div className="app">
      <Header experimentName={experiment?.name ?? null} live={liveId ? live : null} dbPath={dbPath} />
      <div className="body">
        <Sidebar
          experiments={shownExperiments}
          projects={projects}
          current={experimentId}
          loading={experimentsState === "loading"}
          onPick={pickExperiment}
          onDelete={setDeleting}
        />
        <main className="main" data-testid="main">
          {error && (
            <div className="error-banner" role="alert" data-testid="error-banner" key={error.id}>
              <span className="error-icon">!</span>
              <span data-testid="error-message">{error.message}</span>
              <button type="button" className="icon-btn" aria-label="Dismiss" onClick={dismissError}>
                <CloseIcon />
              </button>
            </div>
          )}
          {experiment && runsSnap.status === "ready" && (
            <div className="exp-header">
              <h1 data-testid="experiment-title">{experiment.name}</h1>
              {experiment.description && <p className="muted">{experiment.description}</p>}
            </div>
          )}
          {content}
        </main>
      </div>
      {view.run && view.page !== "run" && (
        <RunDetail run={detailRun} loading={runsSnap.status !== "ready" || !current} />
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete this experiment?"
          body={
            <p>
              <strong>{deleting.name}</strong> and its {deleting.run_count} run{deleting.run_count === 1 ? "" : "s"},
              with all their points, will be deleted. This cannot be undone.
            </p>
          }
          confirmLabel="Delete experiment"
          onClose={() => setDeleting(null)}
          onConfirm={confirmDeleteExperiment}
        />
      )}
    </div>
  );
}
