/**
 * The run table of an experiment: every run with its metric summaries,
 * filtered, sorted and paged in memory.
 *
 * Reading 10,000 runs and their 40,000 summaries costs far more than
 * filtering and sorting them, so RunTables keeps each recently used
 * experiment's table and brings it up to date on every query with the same
 * cursors the live events use (src/store/changes.ts): rows whose revision
 * moved, runs with new chunks, heartbeats of running runs, and a run count
 * that reveals deletions. A finished run's view object stays the same until
 * the run changes, so callers may cache what they derive from it by identity.
 */

import { filterRuns, sortRuns, tableKeys } from "../contract/run-table.js";
import { changeHead } from "../store/changes.js";
import { type Db, runRead } from "../store/connection.js";
import {
  DEFAULT_STALE_AFTER_S,
  isStale,
  listRunRows,
  metricSummaries,
  type RunRow,
  toRunInfo,
} from "../store/reads.js";
import {
  chunkCountInRange,
  experimentRunCount,
  experimentRunSeqs,
  experimentRunsChangedSince,
  experimentRunsWithNewPoints,
  heartbeatsOf,
  runRowsBySeq,
  type SummaryRow,
  summariesOfExperiment,
  summariesOfRuns,
} from "../store/run-query.js";
import { type RunListPage, type RunListQuery, type RunSummary, type RunView, runDuration } from "./run-filter.js";

export interface RunListOptions {
  /** Seconds without a heartbeat after which a running run is stale (default 60). */
  staleAfterSeconds?: number;
}

/** Experiments whose tables stay in memory. */
const MAX_TABLES = 4;
/** Beyond this many new chunks since the last query, reloading the table is cheaper than tracking them. */
const MAX_INCREMENTAL_CHUNKS = 20_000;

interface Table {
  /** The change cursor (and total run count) the table reflects. */
  cursor: { chunkId: number; revision: number; runCount: number };
  /** By run seq. */
  views: Map<number, RunView>;
  /** Run seqs, newest first. */
  order: number[];
  /** Seqs of runs whose shown fields move with the clock (see isLive). */
  live: Set<number>;
}

function liveSeqs(views: Map<number, RunView>): Set<number> {
  const live = new Set<number>();
  for (const [seq, view] of views) if (isLive(view)) live.add(seq);
  return live;
}

function groupSummaries(rows: SummaryRow[]): Map<number, Record<string, RunSummary>> {
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

/** Whether a run's shown fields move with the clock (stale, duration). */
function isLive(view: RunView): boolean {
  return view.status === "running" || view.endedAt === null;
}

/** A run as the run table shows it, as of `now`. */
function toRunView(
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

function newestPointTime(db: Db, runId: string): number | null {
  let newest: number | null = null;
  for (const { lastTime } of metricSummaries(db, runId)) {
    if (lastTime !== null && (newest === null || lastTime > newest)) newest = lastTime;
  }
  return newest;
}

/** Tables of recently queried experiments over one connection. */
export class RunTables {
  private readonly tables = new Map<string, Table>();
  private readonly staleAfter: number;

  constructor(
    private readonly db: Db,
    options: RunListOptions = {},
  ) {
    this.staleAfter = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S;
  }

  /** One page of an experiment's runs after filters, conditions and sorting. */
  query(experimentId: string, query: RunListQuery, now = Date.now() / 1000): RunListPage {
    const filtered = filterRuns(this.views(experimentId, now), query, now);
    const candidates = sortRuns(filtered, { field: query.sort, order: query.order }, now);

    const offset = query.offset ?? 0;
    const end = query.limit === undefined ? undefined : offset + query.limit;
    return { total: candidates.length, runs: candidates.slice(offset, end) };
  }

  /** Column names for a run table: flattened config keys and metric keys, sorted. */
  keys(experimentId: string): { configKeys: string[]; metricKeys: string[] } {
    // Config and summaries do not move with the clock: the stored views will do.
    return tableKeys(this.current(experimentId).views.values());
  }

  /** Every run of an experiment, newest first, with stale and duration as of `now`. */
  private views(experimentId: string, now: number): RunView[] {
    const table = this.current(experimentId);
    return table.order.map((seq) => {
      const view = table.views.get(seq) as RunView;
      if (!table.live.has(seq)) return view;
      const stale = view.status === "running" && isStale(view.lastHeartbeat ?? view.createdAt, now, this.staleAfter);
      const fresh = { ...view, stale };
      fresh.duration = runDuration(fresh, now);
      return fresh;
    });
  }

  private current(experimentId: string): Table {
    const cached = this.tables.get(experimentId);
    const table = runRead(this.db, () =>
      cached === undefined ? this.load(experimentId) : this.update(experimentId, cached),
    );
    this.tables.delete(experimentId);
    this.tables.set(experimentId, table);
    for (const stale of [...this.tables.keys()].slice(0, Math.max(0, this.tables.size - MAX_TABLES))) {
      this.tables.delete(stale);
    }
    return table;
  }

  private load(experimentId: string): Table {
    const now = Date.now() / 1000;
    const head = changeHead(this.db);
    const rows = listRunRows(this.db, experimentId);
    const summaries = groupSummaries(summariesOfExperiment(this.db, experimentId));
    const views = new Map(
      rows.map((row) => [row.seq, toRunView(this.db, row, summaries.get(row.seq), now, this.staleAfter)]),
    );
    return { cursor: head, views, order: rows.map((r) => r.seq), live: liveSeqs(views) };
  }

  /**
   * Brings a table up to date with what was committed since its cursor, in
   * place. Interrupted half-way (an error), it is simply brought up to date
   * again next time: every step can be repeated.
   */
  private update(experimentId: string, table: Table): Table {
    const db = this.db;
    const head = changeHead(db);
    const { cursor, views } = table;
    // Revisions restart when every run was deleted; a flood of new chunks is cheaper to reload.
    if (
      head.revision < cursor.revision ||
      (head.chunkId > cursor.chunkId && chunkCountInRange(db, cursor.chunkId, head.chunkId) > MAX_INCREMENTAL_CHUNKS)
    ) {
      return this.load(experimentId);
    }
    const now = Date.now() / 1000;
    const changed = new Map<number, RunRow>();
    if (head.revision > cursor.revision) {
      for (const row of experimentRunsChangedSince(db, experimentId, cursor.revision, head.revision)) {
        changed.set(row.seq, row);
      }
    }
    if (head.chunkId > cursor.chunkId) {
      const withPoints = experimentRunsWithNewPoints(db, experimentId, cursor.chunkId, head.chunkId);
      for (const row of runRowsBySeq(
        db,
        withPoints.filter((seq) => !changed.has(seq)),
      )) {
        changed.set(row.seq, row);
      }
    }
    let membershipChanged = false;
    const summaries = groupSummaries(summariesOfRuns(db, [...changed.keys()]));
    for (const [seq, row] of changed) {
      if (!views.has(seq)) membershipChanged = true;
      const view = toRunView(db, row, summaries.get(seq), now, this.staleAfter);
      views.set(seq, view);
      if (isLive(view)) table.live.add(seq);
      else table.live.delete(seq);
    }
    // Heartbeats move without a new revision.
    const running = [...table.live].filter(
      (seq) => !changed.has(seq) && (views.get(seq) as RunView).status === "running",
    );
    for (const [seq, heartbeat] of heartbeatsOf(db, running)) {
      const view = views.get(seq) as RunView;
      if (view.lastHeartbeat !== heartbeat) views.set(seq, { ...view, lastHeartbeat: heartbeat });
    }
    // Deleting runs changes no revision: counting tells (a run added elsewhere at the same time moves the revision).
    const mayHaveLostRuns = head.runCount !== cursor.runCount || head.revision !== cursor.revision;
    if (membershipChanged || (mayHaveLostRuns && experimentRunCount(db, experimentId) !== views.size)) {
      const present = new Set(experimentRunSeqs(db, experimentId));
      for (const seq of views.keys()) {
        if (!present.has(seq)) {
          views.delete(seq);
          table.live.delete(seq);
        }
      }
      table.order = [...views].sort(([a, x], [b, y]) => y.createdAt - x.createdAt || b - a).map(([seq]) => seq);
    }
    table.cursor = head;
    return table;
  }
}

/** One page of an experiment's runs, read fresh (for one-off callers such as the CLI). */
export function queryRuns(
  db: Db,
  experimentId: string,
  query: RunListQuery,
  options: RunListOptions = {},
): RunListPage {
  return new RunTables(db, options).query(experimentId, query);
}

/** One run as the run table shows it. */
export function runView(db: Db, row: RunRow, options: RunListOptions = {}): RunView {
  const summary = groupSummaries(summariesOfRuns(db, [row.seq])).get(row.seq);
  return toRunView(db, row, summary, Date.now() / 1000, options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S);
}
