/**
 * Grouping runs into one line with a band per group: the wire shapes of
 * POST /api/groups/series and the rule that puts runs into groups (shared by
 * the dashboard's charts and its run table). Browser-safe: no Node imports.
 * The aggregation rule itself is in docs/grouping.md.
 */
import type { JsonValue } from "../types.js";
import { configValue, type TableRun } from "./run-table.js";

/** What a band around a group's mean line spans. */
export type BandKind = "std" | "stderr" | "minmax";
export const BAND_KINDS: readonly BandKind[] = ["std", "stderr", "minmax"];

/** One group of POST /api/groups/series. */
export interface GroupRequestJson {
  label: string;
  run_ids: string[];
}

/** POST /api/groups/series. */
export interface GroupSeriesBodyJson {
  groups: GroupRequestJson[];
  keys: string[];
  buckets?: number;
  min_step?: number;
  max_step?: number;
}

/** Per step bucket that at least one run reaches (parallel arrays), the statistics across the group's runs. */
export interface GroupAggregateJson {
  steps: number[];
  mean: number[];
  std: number[];
  stderr: number[];
  min: number[];
  max: number[];
  count: number[];
  /**
   * The smallest and largest step (inside the window) at which any of the runs has a finite
   * value: where the group's data begins and ends, which the first and last bucket's mean step
   * (a mean over the bucket) does not say. Null when no run has such a point.
   */
  first_step: number | null;
  last_step: number | null;
}

/** One group's aggregate of one metric key. */
export interface GroupSeriesJson extends GroupAggregateJson {
  label: string;
  key: string;
  /** Runs of the group that logged the key at all. */
  runs_with_key: number;
}

/** The answer of POST /api/groups/series: one entry per group and key, groups in request order, then keys. */
export interface GroupSeriesReplyJson {
  series: GroupSeriesJson[];
}

/**
 * A field runs can be grouped by: `group`, `job_type`, `tags` (the run's
 * whole tag set) or `config.<dotted path>`.
 */
export type GroupField = string;

export function isGroupField(text: string): boolean {
  return text === "group" || text === "job_type" || text === "tags" || (text.startsWith("config.") && text.length > 7);
}

/** What grouping reads of a run. */
export type GroupedRun = Pick<TableRun, "group" | "jobType" | "tags" | "config">;

function fieldValue(run: GroupedRun, field: GroupField): JsonValue | undefined {
  if (field === "group") return run.group ?? undefined;
  if (field === "job_type") return run.jobType ?? undefined;
  if (field === "tags") return run.tags.length === 0 ? undefined : [...run.tags].sort().join(", ");
  return configValue(run.config, field.slice("config.".length));
}

function fieldName(field: GroupField): string {
  return field.startsWith("config.") ? field.slice("config.".length) : field;
}

/** A field's value as a label writes it. */
export function valueText(value: JsonValue | undefined): string {
  if (value === undefined) return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * The label of a run's group: `name=value` per field, in the order of the fields ("–" where a run
 * has no value). `text` writes each value (valueText: the label that is the group's identity).
 */
export function groupLabel(
  run: GroupedRun,
  fields: readonly GroupField[],
  text: (value: JsonValue | undefined) => string = valueText,
): string {
  return fields.map((field) => `${fieldName(field)}=${text(fieldValue(run, field))}`).join(" · ");
}

export interface RunGroup<R> {
  label: string;
  runs: R[];
}

/** Runs split into groups by the fields, groups in order of their first run, runs in the order given. */
export function groupRuns<R>(
  runs: readonly R[],
  fields: readonly GroupField[],
  read: (run: R) => GroupedRun,
): RunGroup<R>[] {
  const groups = new Map<string, R[]>();
  for (const run of runs) {
    const label = groupLabel(read(run), fields);
    const members = groups.get(label);
    if (members) members.push(run);
    else groups.set(label, [run]);
  }
  return [...groups].map(([label, members]) => ({ label, runs: members }));
}

/** Mean and sample standard deviation (0 for one value) of the finite numbers given, or null when there are none. */
export function meanAndStd(
  values: readonly (number | null | undefined)[],
): { mean: number; std: number; count: number } | null {
  const finite = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (finite.length === 0) return null;
  let sum = 0;
  for (const v of finite) sum += v;
  const mean = sum / finite.length;
  let squares = 0;
  for (const v of finite) squares += (v - mean) * (v - mean);
  return { mean, std: finite.length > 1 ? Math.sqrt(squares / (finite.length - 1)) : 0, count: finite.length };
}

/** The low and high edge of the band of one bucket. */
export function bandEdges(a: GroupAggregateJson, i: number, kind: BandKind): [number, number] {
  if (kind === "minmax") return [a.min[i], a.max[i]];
  const half = kind === "std" ? a.std[i] : a.stderr[i];
  return [a.mean[i] - half, a.mean[i] + half];
}
