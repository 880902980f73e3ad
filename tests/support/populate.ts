/** Writes runs straight through the store layer, for tests that need a ready database. */
import { openDatabase, runImmediate } from "../../src/store/connection.js";
import { appendPoints, ensureSeries, finishRun, insertRun, touchHeartbeat } from "../../src/store/writes.js";
import type { Config, FinishStatus, Provenance } from "../../src/types.js";

export interface TestRun {
  experiment?: string;
  name?: string | null;
  config?: Config;
  tags?: string[];
  group?: string | null;
  notes?: string | null;
  createdAt?: number;
  /** Finished with this status at createdAt + 100 s; running when absent. */
  status?: FinishStatus;
  /** Heartbeat of a running run (default now, so not stale); an old one makes it stale. */
  heartbeat?: number;
  /** Metric key → values at steps 0, 1, 2… (or a function of the step, with a point count). */
  metrics?: Record<string, number[] | { count: number; value(step: number): number }>;
}

export interface TestRunDefaults {
  experiment: string;
  createdAt: () => number;
  jobType: string | null;
  provenance: Provenance;
}

/** Writes the runs in one transaction; returns their ids and integer keys in order. */
export function populateWith(
  dbPath: string,
  runs: TestRun[],
  defaults: TestRunDefaults,
): { id: string; seq: number }[] {
  const db = openDatabase(dbPath);
  try {
    return runImmediate(db, () =>
      runs.map((spec) => {
        const createdAt = spec.createdAt ?? defaults.createdAt();
        const run = insertRun(db, {
          experimentName: spec.experiment ?? defaults.experiment,
          name: spec.name ?? null,
          config: spec.config ?? {},
          tags: spec.tags ?? [],
          group: spec.group ?? null,
          jobType: defaults.jobType,
          notes: spec.notes ?? null,
          now: createdAt,
          provenance: defaults.provenance,
        });
        for (const [key, metric] of Object.entries(spec.metrics ?? {})) {
          const count = Array.isArray(metric) ? metric.length : metric.count;
          const steps = Float64Array.from({ length: count }, (_, i) => i);
          const values = Array.isArray(metric) ? Float64Array.from(metric) : Float64Array.from(steps, metric.value);
          const times = Float64Array.from(steps, (s) => createdAt + s);
          appendPoints(db, ensureSeries(db, run.seq, key), steps, values, times);
        }
        if (spec.status !== undefined) finishRun(db, run.seq, spec.status, createdAt + 100);
        else touchHeartbeat(db, run.seq, spec.heartbeat ?? Date.now() / 1000);
        return { id: run.id, seq: run.seq };
      }),
    );
  } finally {
    db.close();
  }
}
