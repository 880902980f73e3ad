/**
 * The run table's rows as the server's rules see them (src/contract/run-table.ts):
 * the dashboard filters and sorts with the very functions the run-list API
 * uses, so a query gives the same runs in the same order on both sides.
 */
import {
  currentDuration,
  DISPLAY_STATUSES,
  filterRuns,
  parseRunField,
  type RunField,
  type RunFilter,
  type RunSort,
  sortRuns,
  type TableRun,
} from "../../../src/contract/run-table.js";
import type { Run, Summaries } from "../api/types.js";

/** A run with its summaries, in the shape the shared rules read. */
export interface TableRow extends TableRun {
  run: Run;
}

const EMPTY_SUMMARY: Summaries = {};
const rows = new WeakMap<Run, { summary: Summaries; row: TableRow }>();

/** The row of a run; the same object while neither the run nor its summaries change. */
export function tableRow(run: Run, summary: Summaries = EMPTY_SUMMARY): TableRow {
  const cached = rows.get(run);
  if (cached !== undefined && cached.summary === summary) return cached.row;
  const row: TableRow = {
    run,
    id: run.id,
    name: run.name,
    notes: run.notes,
    tags: run.tags,
    group: run.group,
    jobType: run.job_type,
    status: run.status,
    stale: run.stale,
    createdAt: run.created_at,
    endedAt: run.ended_at,
    duration: run.duration,
    config: run.config,
    summary,
  };
  rows.set(run, { summary, row });
  return row;
}

const SIMPLE_COLUMN_FIELDS: Record<string, string> = {
  created: "created_at",
  name: "name",
  status: "status",
  duration: "duration",
  tags: "tags",
  group: "group",
};

/**
 * The API's `sort` value for a column (`config:lr` → `config.lr`,
 * `metric:loss:min` → `metric.loss.min`); null for a column that does not sort (the colour).
 */
export function columnSortParam(columnId: string): string | null {
  if (Object.hasOwn(SIMPLE_COLUMN_FIELDS, columnId)) return SIMPLE_COLUMN_FIELDS[columnId];
  if (columnId.startsWith("config:")) return `config.${columnId.slice("config:".length)}`;
  const metric = /^metric:(.+):(last|min|max)$/.exec(columnId);
  return metric ? `metric.${metric[1]}.${metric[2]}` : null;
}

/** The field a column sorts by, read as the server reads its `sort` parameter. */
export function columnField(columnId: string): RunField | null {
  const param = columnSortParam(columnId);
  return param === null ? null : parseRunField(param);
}

/** What the table's search box and menus ask for, as the API's filter; null for a status no run can have (an edited URL). */
export function tableFilter(view: { q: string; status: string; tag: string }): RunFilter | null {
  const status = DISPLAY_STATUSES.find((s) => s === view.status);
  if (view.status !== "" && status === undefined) return null;
  return { text: view.q, statuses: status === undefined ? [] : [status], tags: view.tag === "" ? [] : [view.tag] };
}

/** Seconds a run has taken as of `now`; null when the server cannot tell (shown as "—"). */
export function runDuration(run: Run, now: number): number | null {
  return currentDuration(
    { status: run.status, stale: run.stale, createdAt: run.created_at, endedAt: run.ended_at, duration: run.duration },
    now,
  );
}

/** The runs the table shows, in its order: `runs` newest first, as the store keeps them. */
export function tableRows(
  runs: readonly Run[],
  summaries: ReadonlyMap<string, Summaries>,
  filter: RunFilter | null,
  sort: RunSort,
  now: number,
): Run[] {
  if (filter === null) return [];
  const all = runs.map((run) => tableRow(run, summaries.get(run.id)));
  return sortRuns(filterRuns(all, filter, now), sort, now).map((row) => row.run);
}
