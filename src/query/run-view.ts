/**
 * A run as the run table (and the live events) show it: the run row, its
 * metric summaries, and what moves with the clock (stale, duration).
 */
import type { Db } from "../store/connection.js";
import { DEFAULT_STALE_AFTER_S, metricSummaries, type RunRow, toRunInfo } from "../store/reads.js";
import { type SummaryRow, summariesOfRuns } from "../store/summaries.js";
import { type RunSummary, type RunView, runDuration } from "./run-filter.js";

export interface RunViewOptions {
  /** Seconds without a heartbeat after which a running run is stale (default 60). */
  staleAfterSeconds?: number;
}

/** Summaries by run seq, keyed by metric. */
export function groupSummaries(rows: SummaryRow[]): Map<number, Record<string, RunSummary>> {
  const bySeq = new Map<number, Record<string, RunSummary>>();
  for (const row of rows) {
    let summary = bySeq.get(row.run_seq);
    if (!summary) {
      summary = {};
      bySeq.set(row.run_seq, summary);
    }
    summary[row.key] = {
      last: row.last_value,
      min: row.min_value,
      max: row.max_value,
      count: row.count,
      lastStep: row.last_step,
    };
  }
  return bySeq;
}

function sortedKeys(summary: Record<string, RunSummary> | undefined): Record<string, RunSummary> {
  const out: Record<string, RunSummary> = {};
  if (summary === undefined) return out;
  for (const key of Object.keys(summary).sort()) out[key] = summary[key];
  return out;
}

function newestPointTime(db: Db, runId: string): number | null {
  let newest: number | null = null;
  for (const { lastTime } of metricSummaries(db, runId)) {
    if (lastTime !== null && (newest === null || lastTime > newest)) newest = lastTime;
  }
  return newest;
}

/** A run as the run table shows it, as of `now`. */
export function toRunView(
  db: Db,
  row: RunRow,
  summary: Record<string, RunSummary> | undefined,
  now: number,
  staleAfterSeconds: number,
): RunView {
  const info = toRunInfo(row, now, staleAfterSeconds);
  // The row starts with last_heartbeat = created_at: until a later heartbeat, points are the only sign of life.
  const noHeartbeat = row.last_heartbeat === null || row.last_heartbeat <= row.created_at;
  const lastPointTime = noHeartbeat && row.status === "running" ? newestPointTime(db, row.id) : null;
  const view = { ...info, seq: row.seq, colorIndex: row.color_index, lastPointTime, summary: sortedKeys(summary) };
  return { ...view, duration: runDuration(view, now) };
}

/** Several runs as the run table shows them, as of `now`, with their summaries read at once. */
export function toRunViews(db: Db, rows: readonly RunRow[], now: number, staleAfterSeconds: number): RunView[] {
  const summaries = groupSummaries(
    summariesOfRuns(
      db,
      rows.map((row) => row.seq),
    ),
  );
  return rows.map((row) => toRunView(db, row, summaries.get(row.seq), now, staleAfterSeconds));
}

/** One run as the run table shows it. */
export function runView(db: Db, row: RunRow, options: RunViewOptions = {}): RunView {
  return toRunViews(db, [row], Date.now() / 1000, options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S)[0];
}
