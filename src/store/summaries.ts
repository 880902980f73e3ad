/**
 * Metric summaries (last, min, max) of many runs at once, straight from the
 * series rows: the metric columns of the run table (src/query/run-list.ts).
 */
import { type Db, stmt } from "./connection.js";
import { jsonArrayValues } from "./dialect.js";

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

type RawSummary = [number, string, number, number | null, number | null, number | null, number | null];

function toSummaryRows(rows: RawSummary[]): SummaryRow[] {
  return rows.map((r) => ({
    run_seq: r[0],
    key: r[1],
    count: r[2],
    last_value: r[3],
    min_value: r[4],
    max_value: r[5],
    last_step: r[6],
  }));
}

/** Summaries of every metric of the given runs (by seq). */
export function summariesOfRuns(db: Db, runSeqs: readonly number[]): SummaryRow[] {
  if (runSeqs.length === 0) return [];
  const rows = stmt(
    db,
    `SELECT s.run_seq, k.key, s.count, s.last_value, s.min_value, s.max_value, s.last_step
     FROM series s JOIN metric_keys k ON k.id = s.key_id
     WHERE s.run_seq IN ${jsonArrayValues(db, "?", "bigint")} AND s.count > 0`,
  )
    .raw(true)
    .all(JSON.stringify(runSeqs)) as RawSummary[];
  return toSummaryRows(rows);
}

/** Summaries of every metric of every run of an experiment. */
export function summariesOfExperiment(db: Db, experimentId: string): SummaryRow[] {
  const rows = stmt(
    db,
    `SELECT s.run_seq, k.key, s.count, s.last_value, s.min_value, s.max_value, s.last_step
     FROM runs r JOIN series s ON s.run_seq = r.seq JOIN metric_keys k ON k.id = s.key_id
     WHERE r.experiment_id = ? AND s.count > 0`,
  )
    .raw(true)
    .all(experimentId) as RawSummary[];
  return toSummaryRows(rows);
}
