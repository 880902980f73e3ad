/**
 * The run store's data, apart from React and from how runs are fetched
 * (state/runs.ts wires both), so it runs the same in a page and in a test.
 */
import { tableKeys } from "../../../src/contract/run-table.js";
import type { MetricsUpdateEvent, PointsEvent, Run, RunWithSummary, Summaries } from "../api/types.js";

/** Column names of a run table: dotted config keys and metric keys, sorted. */
interface RunTableKeys {
  configKeys: readonly string[];
  metricKeys: readonly string[];
}

/**
 * The runs of the chosen experiment, split by how often each part changes:
 * `runs` and `byId` hold what a run's row says (name, status, config...), and
 * keep their objects while only metrics move; `summaries` change with every
 * batch of points; `metricKeys` and `keys` only when a run logs a new key.
 * A component takes the part it shows and re-renders when that part does.
 */
export interface RunsSnapshot {
  /** The experiment as the URL names it: its id or its name. */
  experimentKey: string | null;
  /** Its id, once known (the runs carry it); live events are matched against it. */
  experimentId: string | null;
  status: "idle" | "loading" | "ready" | "error";
  error: string | null;
  /** Newest first (created_at, then seq, both descending: the server's order). */
  runs: Run[];
  byId: ReadonlyMap<string, Run>;
  summaries: ReadonlyMap<string, Summaries>;
  /** Heartbeats newer than the run's row, from metrics_update events. */
  heartbeats: ReadonlyMap<string, number>;
  /** Each run's metric keys, sorted. */
  metricKeys: ReadonlyMap<string, readonly string[]>;
  /** Every config and metric key of the experiment's runs. */
  keys: RunTableKeys;
}

const SUMMARY_FLUSH_MS = 500;
export const NO_SUMMARY: Summaries = {};
export const NO_KEYS: readonly string[] = [];

function newestFirst(a: Run, b: Run): number {
  return b.created_at - a.created_at || b.seq - a.seq;
}

function splitRun(run: RunWithSummary): { meta: Run; summary: Summaries } {
  const { summary, ...meta } = run;
  return { meta, summary };
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((key, i) => key === b[i]);
}

const EMPTY: Omit<RunsSnapshot, "experimentKey" | "experimentId" | "status" | "error"> = {
  runs: [],
  byId: new Map(),
  summaries: new Map(),
  heartbeats: new Map(),
  metricKeys: new Map(),
  keys: { configKeys: NO_KEYS, metricKeys: NO_KEYS },
};

/**
 * Keeps the runs current from live events. Point events update the summaries
 * without a fetch; they are applied at most every SUMMARY_FLUSH_MS so a busy
 * sweep never re-renders the table per event.
 */
export class RunsStore {
  private snapshot: RunsSnapshot = { experimentKey: null, experimentId: null, status: "idle", error: null, ...EMPTY };
  private listeners = new Set<() => void>();
  private pendingSummaries = new Map<string, Summaries>();
  private pendingHeartbeats = new Map<string, number>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private loadToken = 0;
  /** Live changes that arrive while the list is being fetched, applied over the answer. */
  private duringLoad = new Map<string, RunWithSummary | null>();
  private fetching = false;

  /** `fetchRuns`: every run of an experiment (by id or name), newest first; its errors' messages are shown. */
  constructor(private readonly fetchRuns: (experimentKey: string) => Promise<RunWithSummary[]>) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): RunsSnapshot => this.snapshot;

  private emit(next: Partial<RunsSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...next };
    for (const l of this.listeners) l();
  }

  /** The snapshot's parts after runs or summaries changed; unchanged key lists keep their identity. */
  private derive(byId: ReadonlyMap<string, Run>, summaries: ReadonlyMap<string, Summaries>): Partial<RunsSnapshot> {
    const previous = this.snapshot.metricKeys;
    let keysChanged = previous.size !== byId.size;
    const metricKeys = new Map<string, readonly string[]>();
    for (const id of byId.keys()) {
      const fresh = Object.keys(summaries.get(id) ?? NO_SUMMARY).sort();
      const old = previous.get(id);
      if (old !== undefined && sameKeys(old, fresh)) metricKeys.set(id, old);
      else {
        metricKeys.set(id, fresh);
        keysChanged = true;
      }
    }
    const next: Partial<RunsSnapshot> = { summaries };
    if (byId !== this.snapshot.byId) {
      next.byId = byId;
      next.runs = [...byId.values()].sort(newestFirst);
    }
    if (keysChanged) next.metricKeys = metricKeys;
    if (keysChanged || byId !== this.snapshot.byId) {
      const runs = [...byId.values()].map((run) => ({
        config: run.config,
        summary: summaries.get(run.id) ?? NO_SUMMARY,
      }));
      const fresh = tableKeys(runs);
      const old = this.snapshot.keys;
      if (!sameKeys(old.configKeys, fresh.configKeys) || !sameKeys(old.metricKeys, fresh.metricKeys)) next.keys = fresh;
    }
    return next;
  }

  private setRuns(runs: Iterable<RunWithSummary>): void {
    const byId = new Map<string, Run>();
    const summaries = new Map<string, Summaries>();
    for (const run of runs) {
      const { meta, summary } = splitRun(run);
      byId.set(run.id, meta);
      summaries.set(run.id, summary);
    }
    this.emit({ ...this.derive(byId, summaries), heartbeats: new Map() });
  }

  /**
   * Loads the runs of an experiment (by id or name). Asking again for the one
   * already loaded or loading does nothing unless `refresh` (after missed
   * events), which keeps the current list on screen until the new one arrives.
   */
  async load(experimentKey: string | null, refresh = false): Promise<void> {
    if (!refresh && experimentKey === this.snapshot.experimentKey && this.snapshot.status !== "error") return;
    const token = ++this.loadToken;
    this.dropPending();
    this.duringLoad.clear();
    if (experimentKey === null) {
      this.fetching = false;
      this.emit({ experimentKey: null, experimentId: null, status: "idle", error: null, ...EMPTY });
      return;
    }
    if (!refresh || this.snapshot.experimentKey !== experimentKey) {
      this.emit({ experimentKey, experimentId: experimentKey, status: "loading", error: null, ...EMPTY });
    }
    this.fetching = true;
    try {
      const runs = await this.fetchRuns(experimentKey);
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
      this.setRuns(byId.values());
    } catch (error) {
      if (token !== this.loadToken) return;
      this.fetching = false;
      const message = error instanceof Error ? error.message : String(error);
      this.emit({ status: "error", error: message, ...EMPTY });
    }
  }

  /** The experiment's id, when the page learns it from the experiment list (an experiment without runs). */
  resolve(experimentKey: string, experimentId: string): void {
    if (this.snapshot.experimentKey === experimentKey && this.snapshot.experimentId !== experimentId) {
      this.emit({ experimentId });
    }
  }

  private dropPending(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pendingSummaries.clear();
    this.pendingHeartbeats.clear();
  }

  upsert(run: RunWithSummary): void {
    if (run.experiment_id !== this.snapshot.experimentId) return;
    if (this.fetching) this.duringLoad.set(run.id, run);
    if (this.snapshot.status === "loading") return;
    this.pendingSummaries.delete(run.id);
    this.pendingHeartbeats.delete(run.id);
    const { meta, summary } = splitRun(run);
    const byId = new Map(this.snapshot.byId);
    byId.set(run.id, meta);
    const summaries = new Map(this.snapshot.summaries);
    summaries.set(run.id, summary);
    const heartbeats = new Map(this.snapshot.heartbeats);
    heartbeats.delete(run.id);
    this.emit({ ...this.derive(byId, summaries), heartbeats });
  }

  remove(runId: string): void {
    if (this.fetching) this.duringLoad.set(runId, null);
    if (!this.snapshot.byId.has(runId)) return;
    this.pendingSummaries.delete(runId);
    this.pendingHeartbeats.delete(runId);
    const byId = new Map(this.snapshot.byId);
    byId.delete(runId);
    const summaries = new Map(this.snapshot.summaries);
    summaries.delete(runId);
    const heartbeats = new Map(this.snapshot.heartbeats);
    heartbeats.delete(runId);
    this.emit({ ...this.derive(byId, summaries), heartbeats });
  }

  metricsUpdate(event: MetricsUpdateEvent): void {
    const run = this.snapshot.byId.get(event.run_id);
    if (!run) return;
    // A stale run that logs again is alive: that changes what its row shows, at once.
    if (run.status === "running" && run.stale) {
      const byId = new Map(this.snapshot.byId);
      byId.set(run.id, { ...run, stale: false, last_heartbeat: event.last_heartbeat ?? run.last_heartbeat });
      this.emit(this.derive(byId, this.snapshot.summaries));
      return;
    }
    if (event.last_heartbeat === null) return;
    this.pendingHeartbeats.set(run.id, event.last_heartbeat);
    this.scheduleFlush();
  }

  points(event: PointsEvent): void {
    const n = event.values.length;
    if (!this.snapshot.byId.has(event.run_id) || n === 0) return;
    const current = this.pendingSummaries.get(event.run_id) ?? this.snapshot.summaries.get(event.run_id) ?? NO_SUMMARY;
    const old = current[event.key];
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
    this.pendingSummaries.set(event.run_id, {
      ...current,
      [event.key]: {
        last: event.values[n - 1],
        min,
        max,
        count: event.start_index + n,
        last_step: event.steps[n - 1],
      },
    });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      const { byId } = this.snapshot;
      const next: Partial<RunsSnapshot> = {};
      if (this.pendingSummaries.size > 0) {
        const summaries = new Map(this.snapshot.summaries);
        for (const [id, summary] of this.pendingSummaries) if (byId.has(id)) summaries.set(id, summary);
        Object.assign(next, this.derive(byId, summaries));
      }
      if (this.pendingHeartbeats.size > 0) {
        const heartbeats = new Map(this.snapshot.heartbeats);
        for (const [id, heartbeat] of this.pendingHeartbeats) if (byId.has(id)) heartbeats.set(id, heartbeat);
        next.heartbeats = heartbeats;
      }
      this.pendingSummaries.clear();
      this.pendingHeartbeats.clear();
      if (Object.keys(next).length > 0) this.emit(next);
    }, SUMMARY_FLUSH_MS);
  }
}
