/**
 * The run table of an experiment: every run with its metric summaries,
 * filtered, sorted and paged in memory.
 *
 * Reading 10,000 runs and their 40,000 summaries costs far more than
 * filtering and sorting them, so RunTables keeps each recently used
 * experiment's table and, before every query, applies what its change feed
 * (./change-feed.ts) read since: changed and deleted runs, runs with new
 * points (their summaries moved) and heartbeats. A finished run's view
 * object stays the same until the run changes, so callers may cache what
 * they derive from it by identity.
 */
import { filterRuns, type RunField, type RunSort, resolveMetric, sortRuns, tableKeys } from "../contract/run-table.js";
import { WhereColumns } from "../contract/where.js";
import { runRowsBySeq } from "../store/changes.js";
import { type Db, runRead } from "../store/connection.js";
import { DEFAULT_STALE_AFTER_S, isStale, listRunRows } from "../store/reads.js";
import { summariesOfExperiment } from "../store/summaries.js";
import { type ChangeDelta, ChangeFeed } from "./change-feed.js";
import { type RunListPage, type RunListQuery, type RunView, runDuration } from "./run-filter.js";
import { groupSummaries, toRunView, toRunViews } from "./run-view.js";

export { runView } from "./run-view.js";

export interface RunListOptions {
  /** Seconds without a heartbeat after which a running run is stale (default 60). */
  staleAfterSeconds?: number;
}

/** Experiments whose tables stay in memory. */
const MAX_TABLES = 4;
/** Beyond this many new points since the last query, reloading the tables is cheaper than tracking them. */
const MAX_INCREMENTAL_POINTS = 20_000 * 1024;
/** Beyond this many changed runs since the last query, reloading the tables is cheaper than tracking them. */
const MAX_INCREMENTAL_RUNS = 2_000;

interface Table {
  /** By run seq. */
  views: Map<number, RunView>;
  /** Run seqs, newest first. */
  order: number[];
  /** Seqs of runs whose shown fields move with the clock (see isLive). */
  live: Set<number>;
  /** The stored views in `order`, and where the live ones are in it; made at the first query after a change. */
  runs?: { views: RunView[]; liveAt: number[] };
  /**
   * Every run in a sort order, by sortKey, with the where columns of that
   * list; kept only while no run is live (then no order moves with the clock).
   */
  sorted?: Map<string, { runs: RunView[]; columns: WhereColumns<RunView> }>;
}

/** Sort orders kept per table: each is one array of every run, with the where columns read in that order. */
const MAX_SORTED_ORDERS = 4;

/** Forgets what was derived from a table's runs: they changed. */
function forgetDerived(table: Table): void {
  table.runs = undefined;
  table.sorted = undefined;
}

/** Whether a run's shown fields move with the clock (stale, duration). */
function isLive(view: RunView): boolean {
  return view.status === "running" || view.endedAt === null;
}

/** Every run of an experiment as the run table shows it, newest first, as of `now`. */
function loadTable(db: Db, experimentId: string, now: number, staleAfterSeconds: number): Table {
  const rows = listRunRows(db, experimentId);
  const summaries = groupSummaries(summariesOfExperiment(db, experimentId));
  const views = new Map(
    rows.map((row) => [row.seq, toRunView(db, row, summaries.get(row.seq), now, staleAfterSeconds)]),
  );
  const live = new Set<number>();
  for (const [seq, view] of views) if (isLive(view)) live.add(seq);
  return { views, order: rows.map((r) => r.seq), live };
}

/** One page of runs (newest first) after filters, conditions and sorting: the run table's shared rules. */
function selectPage(runs: RunView[], query: RunListQuery, now: number): RunListPage {
  const filtered = filterRuns(runs, query, now);
  return page(sortRuns(filtered, { field: query.sort, order: query.order }, now), query);
}

function page(candidates: RunView[], query: RunListQuery): RunListPage {
  const offset = query.offset ?? 0;
  const end = query.limit === undefined ? undefined : offset + query.limit;
  return { total: candidates.length, runs: candidates.slice(offset, end) };
}

/** What a sort reads, as text: two sorts with the same key order runs the same way. */
function sortKey(field: RunField | undefined, order: RunSort["order"], runs: readonly RunView[]): string {
  const direction = order === "asc" ? "asc" : "desc";
  if (field === undefined) return `created_at ${direction}`;
  switch (field.kind) {
    case "config":
      return `config ${direction} ${field.path}`;
    case "metric": {
      const { key, stat } = resolveMetric(runs, field);
      return `metric ${direction} ${stat} ${key}`;
    }
    default:
      return `${field.kind} ${direction}`;
  }
}

/**
 * selectPage over a table with no live run, its sort orders kept: every run is
 * sorted once per order and change, then filtered in that order, which is
 * the same as sorting what the filters keep (the sort is stable, its ties in
 * the table's order), reading the where expression's values from columns
 * kept with the order. A metric sort's suffix resolves against the runs the
 * filters keep: when that differs from every run's, the kept runs are sorted
 * as selectPage sorts them.
 */
function selectPageOfSorted(table: Table, runs: RunView[], query: RunListQuery, now: number): RunListPage {
  const sort = { field: query.sort, order: query.order };
  const key = sortKey(sort.field, sort.order, runs);
  table.sorted ??= new Map();
  let sorted = table.sorted.get(key);
  if (sorted === undefined) {
    const ordered = sortRuns(runs, sort, now);
    sorted = { runs: ordered, columns: new WhereColumns(ordered) };
    if (table.sorted.size >= MAX_SORTED_ORDERS) table.sorted.clear();
    table.sorted.set(key, sorted);
  }
  const filtered = filterRuns(sorted.runs, query, now, sorted.columns);
  if (sort.field?.kind === "metric" && sortKey(sort.field, sort.order, filtered) !== key) {
    return selectPage(runs, query, now);
  }
  return page(filtered, query);
}

/** Tables of recently queried experiments over one connection. */
export class RunTables {
  private readonly tables = new Map<string, Table>();
  private readonly staleAfter: number;
  /** Created with the first table, in the same snapshot, so every table is at its cursor. */
  private feed: ChangeFeed | null = null;

  constructor(
    private readonly db: Db,
    options: RunListOptions = {},
  ) {
    this.staleAfter = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S;
  }

  /** One page of an experiment's runs after filters, conditions and sorting. */
  query(experimentId: string, query: RunListQuery, now = Date.now() / 1000): RunListPage {
    const table = this.current(experimentId);
    const runs = this.views(table, now);
    return table.live.size === 0 ? selectPageOfSorted(table, runs, query, now) : selectPage(runs, query, now);
  }

  /** Column names for a run table: flattened config keys and metric keys, sorted. */
  keys(experimentId: string): { configKeys: string[]; metricKeys: string[] } {
    // Config and summaries do not move with the clock: the stored views will do.
    return tableKeys(this.current(experimentId).views.values());
  }

  /** Every run of a table, newest first, with stale and duration as of `now`; not to be changed. */
  private views(table: Table, now: number): RunView[] {
    if (table.runs === undefined) {
      const views = table.order.map((seq) => table.views.get(seq) as RunView);
      const liveAt: number[] = [];
      for (let i = 0; i < views.length; i++) if (table.live.has(views[i].seq)) liveAt.push(i);
      table.runs = { views, liveAt };
    }
    const { views, liveAt } = table.runs;
    if (liveAt.length === 0) return views;
    const current = views.slice();
    for (const i of liveAt) {
      const view = views[i];
      const stale = view.status === "running" && isStale(view.lastHeartbeat ?? view.createdAt, now, this.staleAfter);
      const fresh = { ...view, stale };
      fresh.duration = runDuration(fresh, now);
      current[i] = fresh;
    }
    return current;
  }

  private current(experimentId: string): Table {
    const table = runRead(this.db, () => {
      // An error half-way leaves the tables at an older cursor than the feed: start again next time.
      try {
        if (this.feed === null) this.feed = this.newFeed();
        else this.apply(this.feed.pull());
      } catch (error) {
        this.feed = null;
        this.tables.clear();
        throw error;
      }
      return this.tables.get(experimentId) ?? loadTable(this.db, experimentId, Date.now() / 1000, this.staleAfter);
    });
    this.tables.delete(experimentId);
    this.tables.set(experimentId, table);
    for (const stale of [...this.tables.keys()].slice(0, Math.max(0, this.tables.size - MAX_TABLES))) {
      this.tables.delete(stale);
    }
    return table;
  }

  private newFeed(): ChangeFeed {
    return new ChangeFeed(this.db, {
      staleAfterSeconds: this.staleAfter,
      maxPointsPerDelta: MAX_INCREMENTAL_POINTS,
      maxRunsPerDelta: MAX_INCREMENTAL_RUNS,
    });
  }

  /** Brings every kept table up to date with the feed's deltas, in place. */
  private apply(deltas: readonly ChangeDelta[]): void {
    const now = Date.now() / 1000;
    const reordered = new Set<Table>();
    const changed = new Set<number>();
    const grown = new Set<number>();
    const put = (table: Table, view: RunView) => {
      forgetDerived(table);
      if (!table.views.has(view.seq)) reordered.add(table);
      table.views.set(view.seq, view);
      if (isLive(view)) table.live.add(view.seq);
      else table.live.delete(view.seq);
    };
    for (const delta of deltas) {
      switch (delta.kind) {
        case "resync":
          this.tables.clear();
          return;
        case "runsChanged":
          for (const view of delta.runs) {
            changed.add(view.seq);
            const table = this.tables.get(view.experimentId);
            if (table !== undefined) put(table, view);
          }
          break;
        case "runsDeleted":
          for (const run of delta.runs) {
            const table = this.tables.get(run.experimentId);
            if (table === undefined || !table.views.delete(run.runSeq)) continue;
            forgetDerived(table);
            table.live.delete(run.runSeq);
            reordered.add(table);
          }
          break;
        case "heartbeats":
          for (const beat of delta.beats) {
            const table = this.tables.get(beat.experimentId);
            const view = table?.views.get(beat.runSeq);
            if (table === undefined || view === undefined) continue;
            if (view.status !== "running" || view.lastHeartbeat === beat.lastHeartbeat) continue;
            forgetDerived(table);
            table.views.set(beat.runSeq, { ...view, lastHeartbeat: beat.lastHeartbeat });
          }
          break;
        case "pointsAdded":
          // New points move the run's summaries, not its revision.
          for (const span of delta.spans) if (this.tables.has(span.experimentId)) grown.add(span.runSeq);
          break;
        case "experimentsChanged":
        case "livenessChanged":
          // Stale and duration are worked out at each query; run counts are not part of a table.
          break;
      }
    }
    const rows = runRowsBySeq(
      this.db,
      [...grown].filter((seq) => !changed.has(seq)),
    );
    for (const view of toRunViews(this.db, rows, now, this.staleAfter)) {
      const table = this.tables.get(view.experimentId);
      if (table !== undefined) put(table, view);
    }
    for (const table of reordered) {
      table.order = [...table.views].sort(([a, x], [b, y]) => y.createdAt - x.createdAt || b - a).map(([seq]) => seq);
    }
  }
}

/** One page of an experiment's runs, read fresh (for one-off callers such as the CLI). */
export function queryRuns(
  db: Db,
  experimentId: string,
  query: RunListQuery,
  options: RunListOptions = {},
): RunListPage {
  const now = Date.now() / 1000;
  const staleAfter = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S;
  const table = runRead(db, () => loadTable(db, experimentId, now, staleAfter));
  return selectPage(
    table.order.map((seq) => table.views.get(seq) as RunView),
    query,
    now,
  );
}
