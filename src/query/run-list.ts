/**
 * The run table of an experiment: filters, conditions on config values and
 * metric summaries, sorting and paging. Rows come from the store in one or
 * two queries; filtering and sorting run in memory, which keeps 10,000 runs
 * well under the 100 ms budget (see bench/api_runs.mjs).
 */
import { StonksError } from "../errors.js";
import type { Db } from "../store/connection.js";
import { runRead } from "../store/connection.js";
import { DEFAULT_STALE_AFTER_S, type RunRow, toRunInfo } from "../store/reads.js";
import {
  experimentConfigTexts,
  experimentMetricKeys,
  experimentRunRows,
  type SummaryRow,
  summariesOfExperiment,
  summariesOfKey,
  summariesOfRuns,
} from "../store/run-query.js";
import type { Config, JsonValue, RunInfo, RunStatus } from "../types.js";

/** The status a person sees: a running run with an old heartbeat is "stale". */
export type DisplayStatus = RunStatus | "stale";
export const DISPLAY_STATUSES: readonly DisplayStatus[] = ["running", "stale", "completed", "failed", "interrupted"];

export type SummaryStat = "last" | "min" | "max";

export interface RunSummary {
  last: number | null;
  min: number | null;
  max: number | null;
  count: number;
  lastStep: number | null;
}

/** A run as the run table shows it: stored fields, duration and the summary of every metric. */
export interface RunView extends RunInfo {
  duration: number;
  summary: Record<string, RunSummary>;
}

export type RunField =
  | { kind: "created_at" | "ended_at" | "name" | "status" | "duration" }
  | { kind: "config"; path: string }
  /** `key` as written; `stat` when it ended in .last/.min/.max (resolved against the stored keys). */
  | { kind: "metric"; key: string; stat: SummaryStat | null };

export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=";

export interface Condition {
  field: RunField;
  operator: ComparisonOperator;
  value: string | number | boolean | null;
}

export interface RunListQuery {
  statuses?: readonly DisplayStatus[];
  /** The run has every one of these tags. */
  tags?: readonly string[];
  group?: string;
  /** Case-insensitive text in name, notes or id. */
  text?: string;
  where?: readonly Condition[];
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

const SIMPLE_FIELDS = new Set(["created_at", "ended_at", "name", "status", "duration"]);

/** Parses `created_at`, `config.lr`, `metric.val/loss`, `metric.val/loss.min`… */
export function parseRunField(text: string): RunField {
  if (SIMPLE_FIELDS.has(text)) return { kind: text as "created_at" };
  if (text.startsWith("config.") && text.length > "config.".length) {
    return { kind: "config", path: text.slice("config.".length) };
  }
  if (text.startsWith("metric.") && text.length > "metric.".length) {
    const rest = text.slice("metric.".length);
    const suffix = /\.(last|min|max)$/.exec(rest);
    if (suffix && suffix.index > 0) return { kind: "metric", key: rest, stat: suffix[1] as SummaryStat };
    return { kind: "metric", key: rest, stat: null };
  }
  throw new StonksError(
    `Unknown field "${text}": use created_at, ended_at, name, status, duration, config.<key> or metric.<key>[.last|.min|.max].`,
  );
}

function parseValue(text: string): Condition["value"] {
  const trimmed = text.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) return trimmed.slice(1, -1);
  if (trimmed === "true") return true;
  if (trimmed === "false") return false;
  if (trimmed === "null") return null;
  if (trimmed !== "" && Number.isFinite(Number(trimmed))) return Number(trimmed);
  return trimmed;
}

/** Parses one `FIELD OP VALUE` condition, e.g. `config.lr>0.01` or `metric.val/loss<=0.5`. */
export function parseCondition(text: string): Condition {
  // The first operator character splits field from value; field names never contain one.
  const match = /^(.+?)\s*(<=|>=|!=|==|=|<|>)\s*(.*)$/s.exec(text.trim());
  if (!match) {
    throw new StonksError(`Cannot read condition "${text}": write FIELD OP VALUE, e.g. config.lr>0.01.`);
  }
  const operator = (match[2] === "==" ? "=" : match[2]) as ComparisonOperator;
  const value = parseValue(match[3]);
  if (operator !== "=" && operator !== "!=" && typeof value !== "number") {
    throw new StonksError(`Condition "${text}": ${operator} compares numbers only.`);
  }
  return { field: parseRunField(match[1].trim()), operator, value };
}

/** A config value by dotted path; keys that themselves contain dots are found too. */
export function configValue(config: Config, path: string): JsonValue | undefined {
  if (Object.hasOwn(config, path)) return config[path];
  let dot = path.indexOf(".");
  while (dot > 0) {
    const head = path.slice(0, dot);
    const inner = Object.hasOwn(config, head) ? config[head] : undefined;
    if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
      const found = configValue(inner, path.slice(dot + 1));
      if (found !== undefined) return found;
    }
    dot = path.indexOf(".", dot + 1);
  }
  return undefined;
}

/** Dotted keys of a config's leaves (arrays are leaves). */
export function flattenConfigKeys(config: Config, prefix = "", into = new Set<string>()): Set<string> {
  for (const [key, value] of Object.entries(config)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
      flattenConfigKeys(value, path, into);
    } else {
      into.add(path);
    }
  }
  return into;
}

export function displayStatus(run: RunInfo): DisplayStatus {
  return run.stale ? "stale" : run.status;
}

/** Seconds from start to end; to the last heartbeat for a stale run, to now for a live one. */
export function runDuration(run: RunInfo, now: number): number {
  const end = run.endedAt ?? (run.stale ? (run.lastHeartbeat ?? run.createdAt) : now);
  return Math.max(0, end - run.createdAt);
}

type Comparable = number | string;

/** Per-run values of one metric statistic, by run seq. */
type MetricColumn = Map<number, number | null>;

interface Candidate {
  row: RunRow;
  info: RunInfo;
  duration: number;
}

function statOf(row: SummaryRow, stat: SummaryStat): number | null {
  if (stat === "min") return row.min_value;
  if (stat === "max") return row.max_value;
  return row.last_value;
}

function fieldKey(field: RunField): string {
  if (field.kind === "config") return `config.${field.path}`;
  if (field.kind === "metric") return `metric.${field.key}/${field.stat ?? ""}`;
  return field.kind;
}

function comparable(value: JsonValue | undefined): Comparable | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

class RunTable {
  private readonly metricColumns = new Map<string, MetricColumn>();

  constructor(
    private readonly db: Db,
    private readonly experimentId: string,
  ) {}

  /** Loads the summary column a metric field refers to, resolving a .last/.min/.max suffix. */
  metricColumn(field: Extract<RunField, { kind: "metric" }>): MetricColumn {
    const id = fieldKey(field);
    const cached = this.metricColumns.get(id);
    if (cached) return cached;
    let rows: SummaryRow[] = [];
    let stat: SummaryStat = "last";
    if (field.stat !== null) {
      // "loss.min" means the min of "loss"; only when no run logged "loss" is it a key named "loss.min".
      rows = summariesOfKey(this.db, this.experimentId, field.key.slice(0, -(field.stat.length + 1)));
      stat = field.stat;
    }
    if (rows.length === 0) {
      rows = summariesOfKey(this.db, this.experimentId, field.key);
      stat = "last";
    }
    const column: MetricColumn = new Map();
    for (const row of rows) column.set(row.run_seq, statOf(row, stat));
    this.metricColumns.set(id, column);
    return column;
  }

  value(candidate: Candidate, field: RunField): Comparable | undefined {
    switch (field.kind) {
      case "created_at":
        return candidate.info.createdAt;
      case "ended_at":
        return candidate.info.endedAt ?? undefined;
      case "name":
        return candidate.info.name ?? undefined;
      case "status":
        return displayStatus(candidate.info);
      case "duration":
        return candidate.duration;
      case "config":
        return comparable(configValue(candidate.info.config, field.path));
      case "metric":
        return this.metricColumn(field).get(candidate.row.seq) ?? undefined;
    }
  }
}

function matches(actual: Comparable | undefined, condition: Condition): boolean {
  if (actual === undefined) return false;
  const expected = condition.value;
  if (condition.operator === "=" || condition.operator === "!=") {
    const equal =
      typeof actual === "number" && typeof expected === "number"
        ? actual === expected
        : typeof expected === "boolean"
          ? actual === (expected ? 1 : 0)
          : String(actual) === String(expected);
    return condition.operator === "=" ? equal : !equal;
  }
  if (typeof actual !== "number" || typeof expected !== "number") return false;
  switch (condition.operator) {
    case "<":
      return actual < expected;
    case "<=":
      return actual <= expected;
    case ">":
      return actual > expected;
    default:
      return actual >= expected;
  }
}

function compareValues(a: Comparable, b: Comparable): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function toSummary(row: SummaryRow): RunSummary {
  return {
    last: row.last_value,
    min: row.min_value,
    max: row.max_value,
    count: row.count,
    lastStep: row.last_step,
  };
}

/** Attaches duration and the metric summaries (rows of any of the runs, in any order). */
function withSummaries(runs: Candidate[], summaryRows: SummaryRow[]): RunView[] {
  const bySeq = new Map<number, Record<string, RunSummary>>();
  for (const row of summaryRows) {
    let summary = bySeq.get(row.run_seq);
    if (!summary) {
      summary = {};
      bySeq.set(row.run_seq, summary);
    }
    summary[row.key] = toSummary(row);
  }
  return runs.map(({ row, info, duration }) => ({ ...info, duration, summary: sortedKeys(bySeq.get(row.seq) ?? {}) }));
}

function sortedKeys(summary: Record<string, RunSummary>): Record<string, RunSummary> {
  const out: Record<string, RunSummary> = {};
  for (const key of Object.keys(summary).sort()) out[key] = summary[key];
  return out;
}

export interface RunListOptions {
  staleAfterSeconds?: number;
  now?: number;
}

/** One page of an experiment's runs after filters, conditions and sorting. */
export function queryRuns(
  db: Db,
  experimentId: string,
  query: RunListQuery,
  options: RunListOptions = {},
): RunListPage {
  const now = options.now ?? Date.now() / 1000;
  const staleAfter = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S;
  return runRead(db, () => {
    const table = new RunTable(db, experimentId);
    let candidates: Candidate[] = experimentRunRows(db, experimentId).map((row) => {
      const info = toRunInfo(row, now, staleAfter);
      return { row, info, duration: runDuration(info, now) };
    });

    if (query.statuses !== undefined && query.statuses.length > 0) {
      const wanted = new Set(query.statuses);
      candidates = candidates.filter((c) => wanted.has(displayStatus(c.info)));
    }
    if (query.tags !== undefined && query.tags.length > 0) {
      const tags = query.tags;
      candidates = candidates.filter((c) => tags.every((tag) => c.info.tags.includes(tag)));
    }
    if (query.group !== undefined) {
      candidates = candidates.filter((c) => c.info.group === query.group);
    }
    if (query.text !== undefined && query.text !== "") {
      const needle = query.text.toLowerCase();
      candidates = candidates.filter(
        (c) =>
          (c.info.name ?? "").toLowerCase().includes(needle) ||
          (c.info.notes ?? "").toLowerCase().includes(needle) ||
          c.info.id.includes(needle),
      );
    }
    for (const condition of query.where ?? []) {
      candidates = candidates.filter((c) => matches(table.value(c, condition.field), condition));
    }

    // Rows arrive newest first, the default order; a stable sort keeps that order among ties.
    const sort = query.sort ?? { kind: "created_at" };
    const direction = (query.order ?? "desc") === "asc" ? 1 : -1;
    const keyed = candidates.map((c) => ({ c, v: table.value(c, sort) }));
    keyed.sort((a, b) => {
      if (a.v === undefined || b.v === undefined) return a.v === undefined ? (b.v === undefined ? 0 : 1) : -1;
      return direction * compareValues(a.v, b.v);
    });

    const total = keyed.length;
    const offset = query.offset ?? 0;
    const page = keyed.slice(offset, query.limit === undefined ? undefined : offset + query.limit).map((k) => k.c);
    // For a long page, one scan of the experiment's series beats a long IN list.
    const summaryRows =
      page.length > 500
        ? summariesOfExperiment(db, experimentId)
        : summariesOfRuns(
            db,
            page.map((c) => c.row.seq),
          );
    return { total, runs: withSummaries(page, summaryRows) };
  });
}

/** Column names for a run table: flattened config keys and metric keys of an experiment. */
export function experimentKeys(db: Db, experimentId: string): { configKeys: string[]; metricKeys: string[] } {
  return runRead(db, () => {
    const configKeys = new Set<string>();
    for (const text of experimentConfigTexts(db, experimentId)) {
      flattenConfigKeys(JSON.parse(text) as Config, "", configKeys);
    }
    return { configKeys: [...configKeys].sort(), metricKeys: experimentMetricKeys(db, experimentId) };
  });
}

/** One run as the run table shows it. */
export function runView(db: Db, row: RunRow, options: RunListOptions = {}): RunView {
  const now = options.now ?? Date.now() / 1000;
  const info = toRunInfo(row, now, options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S);
  return withSummaries([{ row, info, duration: runDuration(info, now) }], summariesOfRuns(db, [row.seq]))[0];
}
