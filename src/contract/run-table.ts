/**
 * The run table's rules, shared by the server (GET /api/experiments/{id}/runs,
 * `stonks ls`) and the dashboard's run table, so both filter and sort the same
 * runs into the same order. Pure functions over the few fields they read;
 * browser-safe (no Node imports). The cases both sides must agree on are
 * tests/fixtures/run-table-cases.json.
 */
import { StonksError } from "../errors.js";
import type { Config, JsonValue, RunStatus } from "../types.js";
import { compileWhere, type WhereColumns, type WhereExpression } from "./where.js";

/** The status a person sees: a running run with an old heartbeat is "stale". */
export type DisplayStatus = RunStatus | "stale";
export const DISPLAY_STATUSES: readonly DisplayStatus[] = ["running", "stale", "completed", "failed", "interrupted"];

/** Ascending status order: what needs attention first, finished runs last. */
const STATUS_RANK: Record<DisplayStatus, number> = { running: 0, stale: 1, failed: 2, interrupted: 3, completed: 4 };

export type SummaryStat = "last" | "min" | "max";

/** The statistics of one metric that the table can show and sort by. */
export type SummaryStats = Readonly<Record<SummaryStat, number | null>>;

/** What the rules read of a run, in the server's names (the dashboard adapts its wire runs to it). */
export interface TableRun {
  id: string;
  name: string | null;
  notes: string | null;
  tags: readonly string[];
  group: string | null;
  jobType: string | null;
  status: RunStatus;
  stale: boolean;
  createdAt: number;
  endedAt: number | null;
  /** Seconds, as of when the run was read; null when unknown. */
  duration: number | null;
  config: Config;
  summary: Readonly<Record<string, SummaryStats>>;
}

export type RunField =
  | { kind: "created_at" | "ended_at" | "name" | "status" | "duration" | "tags" | "group" | "job_type" | "id" }
  | { kind: "config"; path: string }
  /** `key` as written; `stat` when it ended in .last/.min/.max (resolved against the stored keys). */
  | { kind: "metric"; key: string; stat: SummaryStat | null };

const SIMPLE_FIELDS = new Set([
  "created_at",
  "ended_at",
  "name",
  "status",
  "duration",
  "tags",
  "group",
  "job_type",
  "id",
]);

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
    `Unknown field "${text}": use created_at, ended_at, name, id, status, duration, tags, group, job_type, config.<key> or metric.<key>[.last|.min|.max].`,
  );
}

export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=";

export interface RunFilter {
  /** The run's shown status is one of these. */
  statuses?: readonly DisplayStatus[];
  /** The run has every one of these tags. */
  tags?: readonly string[];
  group?: string;
  /** Case-insensitive text in the name, id, a tag, the group, the job type or the notes. */
  text?: string;
  /** A where expression (src/contract/where.ts). */
  where?: WhereExpression;
}

export interface RunSort {
  /** Absent: newest first (the order runs come in). */
  field?: RunField;
  order?: "asc" | "desc";
}

export function displayStatus(run: Pick<TableRun, "status" | "stale">): DisplayStatus {
  return run.status === "running" && run.stale ? "stale" : run.status;
}

/** Seconds a run has taken as of `now`: a live run keeps counting after it was read. */
export function currentDuration(
  run: Pick<TableRun, "status" | "stale" | "createdAt" | "endedAt" | "duration">,
  now: number,
): number | null {
  if (run.endedAt !== null) return Math.max(0, run.endedAt - run.createdAt);
  if (run.status === "running" && !run.stale) return Math.max(run.duration ?? 0, now - run.createdAt);
  return run.duration;
}

/** Reads one dotted path from a config. */
export type ConfigPathReader = (config: Config) => JsonValue | undefined;

/**
 * The path cut at its dots once, so reading it from each of many runs makes
 * no strings. The whole path as a key comes first, then each way of reading
 * a head key as a nested object, shortest head first, so that keys which
 * themselves contain dots are found too. The cuts of a suffix are shared:
 * a path of n dots compiles into at most n + 1 readers.
 */
export function compileConfigPath(path: string): ConfigPathReader {
  const bySuffix = new Map<number, ConfigPathReader>();
  const readerFrom = (start: number): ConfigPathReader => {
    let reader = bySuffix.get(start);
    if (reader !== undefined) return reader;
    const key = path.slice(start);
    const heads: string[] = [];
    const rests: ConfigPathReader[] = [];
    // A key that starts with a dot is only ever read whole.
    let dot = key.indexOf(".");
    while (dot > 0) {
      heads.push(key.slice(0, dot));
      rests.push(readerFrom(start + dot + 1));
      dot = key.indexOf(".", dot + 1);
    }
    reader =
      heads.length === 0
        ? (config) => (Object.hasOwn(config, key) ? config[key] : undefined)
        : (config) => {
            if (Object.hasOwn(config, key)) return config[key];
            for (let i = 0; i < heads.length; i++) {
              const inner = Object.hasOwn(config, heads[i]) ? config[heads[i]] : undefined;
              if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
                const found = rests[i](inner);
                if (found !== undefined) return found;
              }
            }
            return undefined;
          };
    bySuffix.set(start, reader);
    return reader;
  };
  return readerFrom(0);
}

const MAX_CACHED_PATHS = 1024;
const pathReaders = new Map<string, ConfigPathReader>();

/** A config value by dotted path; keys that themselves contain dots are found too. */
export function configValue(config: Config, path: string): JsonValue | undefined {
  let reader = pathReaders.get(path);
  if (reader === undefined) {
    reader = compileConfigPath(path);
    if (pathReaders.size >= MAX_CACHED_PATHS) pathReaders.clear();
    pathReaders.set(path, reader);
  }
  return reader(config);
}

function isObject(value: JsonValue): value is Config {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function flattenInto(config: Config, prefix: string, out: Map<string, JsonValue>): void {
  for (const [key, value] of Object.entries(config)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    if (isObject(value) && Object.keys(value).length > 0) flattenInto(value, path, out);
    else out.set(path, value);
  }
}

const flatConfigs = new WeakMap<Config, ReadonlyMap<string, JsonValue>>();

/** A config's leaves by dotted path (nested objects flattened, arrays kept as leaves); computed once per config object. */
export function flattenConfig(config: Config): ReadonlyMap<string, JsonValue> {
  let flat = flatConfigs.get(config);
  if (flat === undefined) {
    const out = new Map<string, JsonValue>();
    flattenInto(config, "", out);
    flat = out;
    flatConfigs.set(config, flat);
  }
  return flat;
}

/** Sorted column names of a run table: the dotted config keys and the metric keys of these runs. */
export function tableKeys(runs: Iterable<Pick<TableRun, "config" | "summary">>): {
  configKeys: string[];
  metricKeys: string[];
} {
  const configKeys = new Set<string>();
  const metricKeys = new Set<string>();
  for (const run of runs) {
    for (const key of flattenConfig(run.config).keys()) configKeys.add(key);
    for (const key of Object.keys(run.summary)) metricKeys.add(key);
  }
  return { configKeys: [...configKeys].sort(), metricKeys: [...metricKeys].sort() };
}

/** A value that sorts and compares: numbers, or text for everything else. */
export type Comparable = number | string;

export function comparable(value: JsonValue | undefined): Comparable | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

const DIGITS = /\d+|\D+/g;

/**
 * A text cut into lowercased runs of digits and of other characters, digit
 * runs without leading zeros: what compareText compares.
 */
function textParts(text: string): string[] {
  const parts = text.toLowerCase().match(DIGITS) ?? [];
  for (let i = 0; i < parts.length; i++) {
    if (isDigitRun(parts[i])) parts[i] = parts[i].replace(/^0+(?=\d)/, "");
  }
  return parts;
}

function isDigitRun(part: string): boolean {
  const code = part.charCodeAt(0);
  return code >= 48 && code <= 57;
}

function compareParts(left: readonly string[], a: string, right: readonly string[], b: string): number {
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === y) continue;
    // Digit runs by value, however long (no rounding): a longer run is a larger number.
    if (isDigitRun(x) && isDigitRun(y) && x.length !== y.length) return x.length - y.length;
    return x < y ? -1 : 1;
  }
  if (left.length !== right.length) return left.length - right.length;
  return a === b ? 0 : a < b ? -1 : 1;
}

/**
 * Text as people order it: runs of digits by their value ("run-2" before
 * "run-10"), other text ignoring case, then by code point so that the order
 * is total and the same in every browser and every Node (no locale involved).
 */
export function compareText(a: string, b: string): number {
  return a === b ? 0 : compareParts(textParts(a), a, textParts(b), b);
}

/**
 * The summary key and statistic a metric field reads from these runs: "loss.min"
 * is the min of "loss", and only when no run logged "loss" the last value of a
 * key named "loss.min".
 */
export function resolveMetric(
  runs: readonly Pick<TableRun, "summary">[],
  field: { key: string; stat: SummaryStat | null },
): { key: string; stat: SummaryStat } {
  const stat = field.stat;
  if (stat !== null) {
    const base = field.key.slice(0, -(stat.length + 1));
    if (runs.some((run) => Object.hasOwn(run.summary, base))) return { key: base, stat };
  }
  return { key: field.key, stat: "last" };
}

/** Reads one statistic of one metric; a statistic per function, so each reads a fixed property. */
export function summaryStatReader(
  key: string,
  stat: SummaryStat,
): (run: Pick<TableRun, "summary">) => number | undefined {
  switch (stat) {
    case "last":
      return (run) => run.summary[key]?.last ?? undefined;
    case "min":
      return (run) => run.summary[key]?.min ?? undefined;
    case "max":
      return (run) => run.summary[key]?.max ?? undefined;
  }
}

/**
 * How to read a field from these runs, as of `now`; metric fields resolve
 * their .last/.min/.max suffix once: "loss.min" is the min of "loss", and only
 * when no run logged "loss" a key named "loss.min".
 */
export function fieldReader<R extends TableRun>(
  runs: readonly R[],
  field: RunField,
  now: number,
): (run: R) => Comparable | undefined {
  switch (field.kind) {
    case "created_at":
      return (run) => run.createdAt;
    case "ended_at":
      return (run) => run.endedAt ?? undefined;
    case "name":
      return (run) => run.name ?? undefined;
    case "status":
      return (run) => displayStatus(run);
    case "duration":
      return (run) => currentDuration(run, now) ?? undefined;
    case "tags":
      return (run) => (run.tags.length === 0 ? undefined : run.tags.join(","));
    case "group":
      return (run) => run.group ?? undefined;
    case "job_type":
      return (run) => run.jobType ?? undefined;
    case "id":
      return (run) => run.id;
    case "config": {
      const read = compileConfigPath(field.path);
      return (run) => comparable(read(run.config));
    }
    case "metric": {
      const { key, stat } = resolveMetric(runs, field);
      return summaryStatReader(key, stat);
    }
  }
}

const searchTexts = new WeakMap<TableRun, readonly string[]>();

/** The lowercased texts a search looks in, once per run object (finished runs keep theirs across queries). */
function searchTextsOf(run: TableRun): readonly string[] {
  let texts = searchTexts.get(run);
  if (texts === undefined) {
    const fields = [run.name, run.id, ...run.tags, run.group, run.jobType, run.notes];
    texts = fields.filter((text): text is string => text !== null).map((text) => text.toLowerCase());
    searchTexts.set(run, texts);
  }
  return texts;
}

function containsText(run: TableRun, needle: string): boolean {
  return searchTextsOf(run).some((text) => text.includes(needle));
}

/**
 * The runs that pass every filter, in the order given. `columns`, kept for
 * these same runs, saves reading the values of the where expression's fields
 * again (see WhereColumns).
 */
export function filterRuns<R extends TableRun>(
  runs: readonly R[],
  filter: RunFilter,
  now: number,
  columns?: WhereColumns<R>,
): R[] {
  const tests: ((run: R, index: number) => boolean)[] = [];
  if (filter.statuses !== undefined && filter.statuses.length > 0) {
    const wanted = new Set(filter.statuses);
    tests.push((run) => wanted.has(displayStatus(run)));
  }
  if (filter.tags !== undefined && filter.tags.length > 0) {
    const tags = filter.tags;
    tests.push((run) => tags.every((tag) => run.tags.includes(tag)));
  }
  const group = filter.group;
  if (group !== undefined) tests.push((run) => run.group === group);
  const needle = (filter.text ?? "").trim().toLowerCase();
  if (needle !== "") tests.push((run) => containsText(run, needle));
  // Metric suffixes resolve against every run, so a filter means the same whatever else filters.
  if (filter.where !== undefined) tests.push(compileWhere(filter.where, runs, now, columns));
  if (tests.length === 0) return runs.slice();
  const out: R[] = [];
  if (tests.length === 1) {
    const test = tests[0];
    for (let index = 0; index < runs.length; index++) if (test(runs[index], index)) out.push(runs[index]);
    return out;
  }
  for (let index = 0; index < runs.length; index++) {
    const run = runs[index];
    let kept = true;
    for (const test of tests) {
      if (!test(run, index)) {
        kept = false;
        break;
      }
    }
    if (kept) out.push(run);
  }
  return out;
}

/** What a field sorts by: a status by its rank, an unnamed run by its id (what the table shows for it), else the value. */
function sortReader<R extends TableRun>(
  runs: readonly R[],
  field: RunField,
  now: number,
): (run: R) => Comparable | undefined {
  if (field.kind === "status") return (run) => STATUS_RANK[displayStatus(run)];
  if (field.kind === "name") return (run) => run.name ?? run.id;
  return fieldReader(runs, field, now);
}

/**
 * Runs in sort order. `runs` come newest first (created_at, then seq, both
 * descending); ties keep that order, and runs without the field go last
 * whichever the direction.
 */
export function sortRuns<R extends TableRun>(runs: readonly R[], sort: RunSort, now: number): R[] {
  const field = sort.field;
  if (field === undefined || field.kind === "created_at") {
    return sort.order === "asc" ? runs.slice().reverse() : runs.slice();
  }
  const read = sortReader(runs, field, now);
  const direction = sort.order === "asc" ? 1 : -1;
  // Text is cut into parts once per run, not once per comparison.
  const keyed = runs.map((run) => {
    const value = read(run);
    return { run, value, parts: typeof value === "string" ? textParts(value) : null };
  });
  keyed.sort((a, b) => {
    if (a.value === undefined || b.value === undefined) {
      return a.value === undefined ? (b.value === undefined ? 0 : 1) : -1;
    }
    // Numbers before text.
    if (typeof a.value === "number" || typeof b.value === "number") {
      if (typeof a.value !== "number") return direction;
      if (typeof b.value !== "number") return -direction;
      return direction * (a.value - b.value);
    }
    return direction * compareParts(a.parts as string[], a.value, b.parts as string[], b.value);
  });
  return keyed.map((k) => k.run);
}
