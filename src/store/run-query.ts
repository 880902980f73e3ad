/**
 * Reads behind the run table: an experiment's run rows and the metric
 * summaries (last, min, max) that filtering, sorting and display need.
 * Filtering and sorting themselves happen in src/query/run-filter.ts.
 */
import { type Db, stmt } from "./connection.js";
import type { RunRow } from "./reads.js";

/** Summary of one metric of one run, straight from the series row. */
export interface SummaryRow {
  run_seq: number;
  key: string;
  count: number;
  last_value: number | null;
  min_value: number | null;
  max_value: number | null;
  last_step: number | null;
}

/** Every run row of an experiment, newest first. */
export function experimentRunRows(db: Db, experimentId: string): RunRow[] {
  return stmt(db, "SELECT * FROM runs WHERE experiment_id = ? ORDER BY created_at DESC, seq DESC").all(
    experimentId,
  ) as RunRow[];
}

/** Summaries of every metric of the given runs (by seq). */
export function summariesOfRuns(db: Db, runSeqs: readonly number[]): SummaryRow[] {
  if (runSeqs.length === 0) return [];
  return stmt(
    db,
    `SELECT s.run_seq, k.key, s.count, s.last_value, s.min_value, s.max_value, s.last_step
     FROM series s JOIN metric_keys k ON k.id = s.key_id
     WHERE s.run_seq IN (SELECT value FROM json_each(?)) AND s.count > 0`,
  ).all(JSON.stringify(runSeqs)) as SummaryRow[];
}

/** Summaries of every metric of every run of an experiment. */
export function summariesOfExperiment(db: Db, experimentId: string): SummaryRow[] {
  return stmt(
    db,
    `SELECT s.run_seq, k.key, s.count, s.last_value, s.min_value, s.max_value, s.last_step
     FROM runs r JOIN series s ON s.run_seq = r.seq JOIN metric_keys k ON k.id = s.key_id
     WHERE r.experiment_id = ? AND s.count > 0`,
  ).all(experimentId) as SummaryRow[];
}

/** Summaries of one metric key across the runs of an experiment (for filters and sorting). */
export function summariesOfKey(db: Db, experimentId: string, key: string): SummaryRow[] {
  return stmt(
    db,
    `SELECT s.run_seq, ? AS key, s.count, s.last_value, s.min_value, s.max_value, s.last_step
     FROM runs r JOIN series s ON s.run_seq = r.seq
     WHERE r.experiment_id = ? AND s.key_id = (SELECT id FROM metric_keys WHERE key = ?) AND s.count > 0`,
  ).all(key, experimentId, key) as SummaryRow[];
}

/** Distinct metric keys logged by any run of an experiment, sorted. */
export function experimentMetricKeys(db: Db, experimentId: string): string[] {
  const rows = stmt(
    db,
    `SELECT k.key FROM metric_keys k WHERE k.id IN (
       SELECT s.key_id FROM runs r JOIN series s ON s.run_seq = r.seq WHERE r.experiment_id = ? AND s.count > 0)
     ORDER BY k.key`,
  ).all(experimentId) as { key: string }[];
  return rows.map((r) => r.key);
}

/** Distinct config texts of an experiment's runs (many runs share one config in sweeps' repeats). */
export function experimentConfigTexts(db: Db, experimentId: string): string[] {
  const rows = stmt(db, "SELECT DISTINCT config FROM runs WHERE experiment_id = ?").all(experimentId) as {
    config: string;
  }[];
  return rows.map((r) => r.config);
}
