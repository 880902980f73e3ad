import { useSyncExternalStore } from "react";
import { ApiError, api } from "../api/client";
import type { DisplayStatus, MetricsUpdateEvent, PointsEvent, Run } from "../api/types";

export interface RunsSnapshot {
  /** The experiment as the URL names it: its id or its name. */
  experimentKey: string | null;
  /** Its id, once known (the runs carry it); live events are matched against it. */
  experimentId: string | null;
  status: "idle" | "loading" | "ready" | "error";
  error: string | null;
  runs: Run[];
  byId: Map<string, Run>;
}

const SUMMARY_FLUSH_MS = 500;

/**
 * The runs of the chosen experiment, kept current by live events. Point events
 * update the last/min/max columns without a fetch; changes are applied at most
 * every SUMMARY_FLUSH_MS so a busy sweep never re-renders the table per event.
 */
class RunsStore {
  private snapshot: RunsSnapshot = {
    experimentKey: null,
    experimentId: null,
    status: "idle",
    error: null,
    runs: [],
    byId: new Map(),
  };
  private listeners = new Set<() => void>();
  private pending = new Map<string, Run>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private loadToken = 0;
  /** Live changes that arrive while the list is being fetched, applied over the answer. */
  private duringLoad = new Map<string, Run | null>();
  private fetching = false;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): RunsSnapshot => this.snapshot;

  private emit(next: Partial<RunsSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...next };
    for (const l of this.listeners) l();
  }

  private setRuns(byId: Map<string, Run>): void {
    const runs = [...byId.values()].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1));
    this.emit({ runs, byId });
  }

  /**
   * Loads the runs of an experiment (by id or name). Asking again for the one
   * already loaded or loading does nothing unless `refresh` (after missed
   * events), which keeps the current list on screen until the new one arrives.
   */
  async load(experimentKey: string | null, refresh = false): Promise<void> {
    if (!refresh && experimentKey === this.snapshot.experimentKey && this.snapshot.status !== "error") return;
    const token = ++this.loadToken;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending.clear();
    this.duringLoad.clear();
    if (experimentKey === null) {
      this.fetching = false;
      this.emit({ experimentKey: null, experimentId: null, status: "idle", error: null, runs: [], byId: new Map() });
      return;
    }
    if (!refresh || this.snapshot.experimentKey !== experimentKey) {
      this.emit({
        experimentKey,
        experimentId: experimentKey,
        status: "loading",
        error: null,
        runs: [],
        byId: new Map(),
      });
    }
    this.fetching = true;
    try {
      const runs = await api.runs(experimentKey);
      if (token !== this.loadToken) return;
      this.fetching = false;
      const byId = new Map(runs.map((r) => [r.id, r]));
      for (const [id, run] of this.duringLoad) {
        if (run) byId.set(id, run);
        else byId.delete(id);
      }
      this.duringLoad.clear();
      const experimentId = runs[0]?.experiment_id ?? this.snapshot.experimentId;
      this.emit({ status: "ready", error: null, experimentId });
      this.setRuns(byId);
    } catch (error) {
      if (token !== this.loadToken) return;
      this.fetching = false;
      const message = error instanceof ApiError ? error.message : String(error);
      this.emit({ status: "error", error: message, runs: [], byId: new Map() });
    }
  }

  /** The experiment's id, when the page learns it from the experiment list (an experiment without runs). */
  resolve(experimentKey: string, experimentId: string): void {
    if (this.snapshot.experimentKey === experimentKey && this.snapshot.experimentId !== experimentId) {
      this.emit({ experimentId });
    }
  }

  private current(id: string): Run | undefined {
    return this.pending.get(id) ?? this.snapshot.byId.get(id);
  }

  upsert(run: Run): void {
    if (run.experiment_id !== this.snapshot.experimentId) return;
    if (this.fetching) this.duringLoad.set(run.id, run);
    if (this.snapshot.status === "loading") return;
    this.pending.delete(run.id);
    const byId = new Map(this.snapshot.byId);
    byId.set(run.id, run);
    this.setRuns(byId);
  }

  remove(runId: string): void {
    if (this.fetching) this.duringLoad.set(runId, null);
    if (!this.snapshot.byId.has(runId)) return;
    this.pending.delete(runId);
    const byId = new Map(this.snapshot.byId);
    byId.delete(runId);
    this.setRuns(byId);
  }

  metricsUpdate(event: MetricsUpdateEvent): void {
    const run = this.current(event.run_id);
    if (!run) return;
    this.pending.set(run.id, {
      ...run,
      last_heartbeat: event.last_heartbeat ?? run.last_heartbeat,
      stale: run.status === "running" ? false : run.stale,
    });
    this.scheduleFlush();
  }

  points(event: PointsEvent): void {
    const run = this.current(event.run_id);
    const n = event.values.length;
    if (!run || n === 0) return;
    const old = run.summary[event.key];
    const known = old ? old.count : 0;
    const skip = Math.max(0, known - event.start_index);
    if (skip >= n) return;
    let min = old?.min ?? Number.POSITIVE_INFINITY;
    let max = old?.max ?? Number.NEGATIVE_INFINITY;
    for (let i = skip; i < n; i++) {
      const v = event.values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const summary = {
      ...run.summary,
      [event.key]: {
        last: event.values[n - 1],
        min,
        max,
        count: event.start_index + n,
        last_step: event.steps[n - 1],
      },
    };
    this.pending.set(run.id, { ...run, summary });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (this.pending.size === 0) return;
      const byId = new Map(this.snapshot.byId);
      for (const [id, run] of this.pending) if (byId.has(id)) byId.set(id, run);
      this.pending.clear();
      this.emit({ byId, runs: this.snapshot.runs.map((r) => byId.get(r.id) ?? r) });
    }, SUMMARY_FLUSH_MS);
  }
}

export const runsStore = new RunsStore();

export function useRuns(): RunsSnapshot {
  return useSyncExternalStore(runsStore.subscribe, runsStore.getSnapshot);
}

/** Seconds a run has taken so far; null when the server cannot tell (shown as "—"). */
export function runDuration(run: Run, now: number): number | null {
  if (run.ended_at !== null) return run.ended_at - run.created_at;
  if (run.status === "running" && !run.stale) return Math.max(run.duration ?? 0, now - run.created_at);
  return run.duration;
}

export function displayStatus(run: Run): DisplayStatus {
  return run.status === "running" && run.stale ? "stale" : run.status;
}
