/**
 * The run-table queries of the API and the CLI: statuses, fields
 * (`config.lr`, `metric.val/loss.min`) and where expressions (their language
 * is src/contract/where.ts). Pure functions; the table itself is
 * src/query/run-list.ts.
 */
import { DISPLAY_STATUSES, type DisplayStatus, type RunField, type RunFilter } from "../contract/run-table.js";
import { StonksError } from "../errors.js";
import type { RunInfo } from "../types.js";

export {
  type DisplayStatus,
  displayStatus,
  parseRunField,
  type RunField,
} from "../contract/run-table.js";
export { allOf, parseWhere, type WhereExpression, WhereSyntaxError } from "../contract/where.js";

/** Statuses from repeated and/or comma-separated values (`--status a,b`, `?status=a&status=b`). */
export function parseDisplayStatuses(option: string, values: readonly string[]): DisplayStatus[] {
  const statuses = values.flatMap((v) => v.split(",")).filter((s) => s !== "");
  for (const status of statuses) {
    if (!DISPLAY_STATUSES.includes(status as DisplayStatus)) {
      throw new StonksError(`${option} must be one of ${DISPLAY_STATUSES.join(", ")}; got "${status.slice(0, 40)}".`);
    }
  }
  return statuses as DisplayStatus[];
}

export interface RunSummary {
  last: number | null;
  min: number | null;
  max: number | null;
  count: number;
  lastStep: number | null;
}

/** A run as the run table shows it: stored fields, duration and the summary of every metric. */
export interface RunView extends RunInfo {
  /** The run's number in this database: given at creation, never reused. */
  seq: number;
  /**
   * The run's default colour, an index into the dashboard's palette chosen once at
   * creation; null for runs from before schema version 3 (their colour follows seq).
   */
  colorIndex: number | null;
  /** Seconds; null when a run died before its first heartbeat and logged no point (nothing says how long it lived). */
  duration: number | null;
  /**
   * Wall-clock time of the run's newest point, read only while the run has no
   * heartbeat after its creation (then it is the last sign of life); null otherwise.
   */
  lastPointTime: number | null;
  summary: Record<string, RunSummary>;
}

export interface RunListQuery extends RunFilter {
  sort?: RunField;
  order?: "asc" | "desc";
  limit?: number;
  offset?: number;
}

export interface RunListPage {
  /** Runs matching the filters, before paging. */
  total: number;
  runs: RunView[];
}

/**
 * Seconds from start to end; for a live run to now; for a stale run to its
 * last heartbeat, or without one to its newest point, or null (unknown) when
 * it left neither.
 */
export function runDuration(run: RunInfo & Pick<RunView, "lastPointTime">, now: number): number | null {
  if (run.endedAt !== null) return Math.max(0, run.endedAt - run.createdAt);
  if (!run.stale) return Math.max(0, now - run.createdAt);
  const heartbeat = run.lastHeartbeat !== null && run.lastHeartbeat > run.createdAt ? run.lastHeartbeat : null;
  const end = heartbeat ?? run.lastPointTime;
  return end === null ? null : Math.max(0, end - run.createdAt);
}
