/**
 * What the sweep views read of a run, named like the run table's columns
 * (`config:lr`, `metric:val/loss:min`), the axes they draw those values on,
 * and the brush: per axis a range (numeric) or a set of categories, which
 * keeps the runs that pass every brushed axis.
 */
import { compareText, configValue } from "../../../src/contract/run-table.js";
import type { Run, Summaries } from "../api/types.js";
import { categoryUnit, type NumericScale, numericScale } from "./sweep-math.js";

export type SweepValue = number | string | undefined;
export type SummaryStat = "last" | "min" | "max";
export const SUMMARY_STATS: readonly SummaryStat[] = ["last", "min", "max"];

/** A brushed range of a numeric axis (in the axis' values, lo ≤ hi), or the categories kept on a categorical one. */
export type AxisBrush = [number, number] | string[];
export type Brush = Readonly<Record<string, AxisBrush>>;

export function configField(key: string): string {
  return `config:${key}`;
}

export function metricField(key: string, stat: SummaryStat): string {
  return `metric:${key}:${stat}`;
}

const METRIC_FIELD = /^metric:(.+):(last|min|max)$/;

/** A field id as a person reads it: `lr`, `val/loss (min)`. */
export function fieldLabel(id: string): string {
  if (id.startsWith("config:")) return id.slice("config:".length);
  const m = METRIC_FIELD.exec(id);
  return m ? `${m[1]} (${m[2]})` : id;
}

export function isFieldId(id: string): boolean {
  return (id.startsWith("config:") && id.length > "config:".length) || METRIC_FIELD.test(id);
}

/**
 * A run's value of a field: config numbers stay numbers, booleans and text are
 * categories, lists and objects their JSON; a metric's summary statistic.
 * Missing, null and non-finite values are undefined.
 */
export function fieldValue(run: Pick<Run, "config">, summary: Summaries, id: string): SweepValue {
  if (id.startsWith("config:")) {
    const value = configValue(run.config, id.slice("config:".length));
    if (value === undefined || value === null) return undefined;
    if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
    if (typeof value === "string") return value;
    if (typeof value === "boolean") return String(value);
    return JSON.stringify(value);
  }
  const m = METRIC_FIELD.exec(id);
  if (!m) return undefined;
  const value = summary[m[1]]?.[m[2] as SummaryStat];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The category a value falls in on a categorical axis (numbers of a mixed field by their text). */
export function categoryOf(value: string | number): string {
  return typeof value === "number" ? String(value) : value;
}

export type SweepAxis =
  | { id: string; label: string; kind: "numeric"; scale: NumericScale }
  | { id: string; label: string; kind: "category"; categories: string[] };

/** The axis for a field's values: numeric when every value present is a number, else categorical (sorted as the table sorts text). */
export function buildAxis(id: string, values: readonly SweepValue[]): SweepAxis {
  const numbers: number[] = [];
  let text = false;
  for (const v of values) {
    if (typeof v === "number") numbers.push(v);
    else if (typeof v === "string") text = true;
  }
  if (!text) return { id, label: fieldLabel(id), kind: "numeric", scale: numericScale(numbers) };
  const categories = new Set<string>();
  for (const v of values) if (v !== undefined) categories.add(categoryOf(v));
  return { id, label: fieldLabel(id), kind: "category", categories: [...categories].sort(compareText) };
}

/** Where a value sits on an axis, 0 (bottom) to 1 (top); NaN for a missing value or one the axis cannot place. */
export function axisUnit(axis: SweepAxis, value: SweepValue): number {
  if (value === undefined) return Number.NaN;
  if (axis.kind === "numeric") {
    if (typeof value !== "number") return Number.NaN;
    if (axis.scale.kind === "log" && value <= 0) return Number.NaN;
    return axis.scale.toUnit(value);
  }
  const index = axis.categories.indexOf(categoryOf(value));
  return index < 0 ? Number.NaN : categoryUnit(index, axis.categories.length);
}

/** The brush an axis gets from a dragged span of unit positions [a, b] (either order). */
export function brushFromUnits(axis: SweepAxis, a: number, b: number): AxisBrush | null {
  const lo = Math.max(0, Math.min(a, b));
  const hi = Math.min(1, Math.max(a, b));
  if (axis.kind === "numeric") {
    if (hi < lo) return null;
    return [axis.scale.fromUnit(lo), axis.scale.fromUnit(hi)];
  }
  const n = axis.categories.length;
  const kept = axis.categories.filter((_, i) => {
    const u = categoryUnit(i, n);
    return u >= lo && u <= hi;
  });
  return kept.length > 0 ? kept : null;
}

/** The span of unit positions a brush covers on an axis, for drawing it: [lo, hi]. */
export function brushUnits(axis: SweepAxis, brush: AxisBrush): [number, number] | null {
  if (axis.kind === "numeric") {
    if (typeof brush[0] !== "number" || typeof brush[1] !== "number") return null;
    const a = axisUnit(axis, brush[0]);
    const b = axisUnit(axis, brush[1]);
    // A brush edge below a log axis' zero still covers the axis' low end.
    const lo = Number.isNaN(a) ? 0 : a;
    const hi = Number.isNaN(b) ? 0 : b;
    return [Math.max(0, Math.min(lo, hi)), Math.min(1, Math.max(lo, hi))];
  }
  const units = (brush as string[])
    .map((c) => axis.categories.indexOf(c))
    .filter((i) => i >= 0)
    .map((i) => categoryUnit(i, axis.categories.length));
  if (units.length === 0) return null;
  const pad = axis.categories.length <= 1 ? 0.1 : 0.3 / (axis.categories.length - 1);
  return [Math.max(0, Math.min(...units) - pad), Math.min(1, Math.max(...units) + pad)];
}

/** Whether a value passes one axis' brush; a missing value never does. */
export function brushAccepts(brush: AxisBrush, value: SweepValue): boolean {
  if (value === undefined) return false;
  if (brush.length === 2 && typeof brush[0] === "number" && typeof brush[1] === "number") {
    return typeof value === "number" && value >= brush[0] && value <= brush[1];
  }
  return (brush as string[]).includes(categoryOf(value));
}

/** The ids of the runs that pass every brushed axis; null when nothing is brushed. */
export function brushedRunIds(
  runs: readonly Run[],
  summaries: ReadonlyMap<string, Summaries>,
  brush: Brush,
): Set<string> | null {
  const entries = Object.entries(brush);
  if (entries.length === 0) return null;
  const kept = new Set<string>();
  for (const run of runs) {
    const summary = summaries.get(run.id) ?? {};
    if (entries.every(([id, b]) => brushAccepts(b, fieldValue(run, summary, id)))) kept.add(run.id);
  }
  return kept;
}

/** Whether a brush reads metric summaries (then it must follow them as runs log). */
export function brushReadsMetrics(brush: Brush): boolean {
  return Object.keys(brush).some((id) => id.startsWith("metric:"));
}

/** A brush from untrusted JSON (a link): entries that do not parse are dropped. */
export function parseBrush(value: unknown): Record<string, AxisBrush> {
  const out: Record<string, AxisBrush> = {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) return out;
  for (const [id, b] of Object.entries(value)) {
    if (!isFieldId(id) || !Array.isArray(b) || b.length === 0) continue;
    if (b.length === 2 && b.every((v) => typeof v === "number" && Number.isFinite(v)) && b[0] <= b[1]) {
      out[id] = [b[0], b[1]];
    } else if (b.every((v) => typeof v === "string")) out[id] = b as string[];
  }
  return out;
}

/** Config keys whose values differ between runs: the first axes the parallel coordinates offer. */
export function varyingConfigKeys(runs: readonly Pick<Run, "config">[], configKeys: readonly string[]): string[] {
  return configKeys.filter((key) => {
    const first = JSON.stringify(configValue(runs[0]?.config ?? {}, key) ?? null);
    return runs.some((run) => JSON.stringify(configValue(run.config, key) ?? null) !== first);
  });
}
