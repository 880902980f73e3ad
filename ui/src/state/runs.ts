import { useMemo, useSyncExternalStore } from "react";
import { api } from "../api/client";
import type { Run, Summaries } from "../api/types";
import { metricKeysOf } from "./charted";
import { NO_SUMMARY, type RunsSnapshot, RunsStore } from "./run-store";

export const runsStore = new RunsStore((experimentKey) => api.runs(experimentKey));

export function useRuns(): RunsSnapshot {
  return useSyncExternalStore(runsStore.subscribe, runsStore.getSnapshot);
}

/** The metric keys these runs logged, sorted; a new array only when a run logs a new key or the runs change. */
export function useMetricKeys(runs: readonly Run[]): readonly string[] {
  const { metricKeys } = useRuns();
  return useMemo(() => metricKeysOf(runs, metricKeys), [runs, metricKeys]);
}

/** A run's summary of each metric key (empty before it logs). */
export function useSummary(runId: string | undefined): Summaries {
  const { summaries } = useRuns();
  return (runId === undefined ? undefined : summaries.get(runId)) ?? NO_SUMMARY;
}

/** The newest heartbeat known for a run. */
export function lastHeartbeat(run: Run, heartbeats: ReadonlyMap<string, number>): number | null {
  return heartbeats.get(run.id) ?? run.last_heartbeat;
}
