/**
 * Writes the runs an importer reads (src/interop/) into a stonks store, the
 * same way for every kind of source. A run's stonks id is derived from the
 * source kind and the run's key in the source, so a second import of the same
 * source finds the runs the first wrote: it appends only the points they lack
 * (a source that grew since) and otherwise leaves them alone, edits made in
 * stonks included. Points with a non-finite value are not stored (a stonks
 * series holds finite values only) and are counted as skipped.
 */
import { createHash } from "node:crypto";
import { MAX_KEY_LENGTH } from "../contract/limits.js";
import type { ForeignRun, ForeignSeries, ForeignSource } from "../interop/model.js";
import { codePointLength, type Repair, toConfigJson, wellFormed } from "../sdk/clean.js";
import { UNKNOWN_PROVENANCE } from "../types.js";
import type { RemoteRunMeta, RemoteSeriesBatch, StonksService } from "./service.js";

export interface ForeignImportSummary {
  /** Experiments that received runs or points. */
  experiments: number;
  /** Runs created or given more points. */
  runs: number;
  /** Points written (or that would be, in a dry run). */
  points: number;
  /** Runs the store already held with all their points. */
  skippedRuns: number;
  /** Points not stored: non-finite values, and metrics whose key is longer than the key limit. */
  skippedPoints: number;
}

export interface ForeignImportOptions {
  /** The importer's kind ("tensorboard", "mlflow", ...): part of every run id it writes. */
  kind: string;
  /** Put every run in this experiment instead of the source's. */
  experiment?: string;
  /** Count what would be written; write nothing. The target may be null (it does not exist yet). */
  dryRun: boolean;
  /** Called after each run with the number of runs read so far. */
  onRun?: (runsRead: number) => void;
  /** Called once per kind of repaired value (e.g. text with a lone surrogate). */
  onRepair?: (repair: Repair) => void;
}

/** The stonks run id of a source's run: a UUID (version 5 layout) named by the kind and the run's key. */
export function foreignRunId(kind: string, sourceKey: string): string {
  const hex = createHash("sha256").update(`stonks-import\0${kind}\0${sourceKey}`).digest("hex");
  const variant = ((Number.parseInt(hex[16] ?? "0", 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The series' finite points, and how many were not. */
function finitePoints(series: ForeignSeries): { series: ForeignSeries; dropped: number } {
  const n = series.values.length;
  let finite = 0;
  for (let i = 0; i < n; i++) if (Number.isFinite(series.values[i])) finite++;
  if (finite === n) return { series, dropped: 0 };
  const steps = new Float64Array(finite);
  const values = new Float64Array(finite);
  const times = new Float64Array(finite);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const value = series.values[i] as number;
    if (!Number.isFinite(value)) continue;
    steps[j] = series.steps[i] as number;
    values[j] = value;
    times[j] = series.times[i] as number;
    j++;
  }
  return { series: { steps, values, times }, dropped: n - finite };
}

function runMeta(run: ForeignRun, options: ForeignImportOptions, repair: (r: Repair) => void): RemoteRunMeta {
  const text = (value: string | null, what: string) => (value === null ? null : wellFormed(value, what, repair));
  return {
    experiment: wellFormed(options.experiment ?? run.experiment, "the experiment name", repair),
    project: null,
    name: text(run.name, "the run name"),
    config: toConfigJson(run.config, repair),
    tags: run.tags.map((tag) => wellFormed(tag, "a tag", repair)),
    group: text(run.group, "the group"),
    jobType: text(run.jobType, "the job type"),
    notes: text(run.notes, "the notes"),
    color: null,
    createdAt: run.createdAt,
    provenance: { ...UNKNOWN_PROVENANCE, sdkLanguage: options.kind, ...run.provenance },
    status: run.status,
    endedAt: run.endedAt,
    lastHeartbeat: run.endedAt ?? run.createdAt,
  };
}

/**
 * Imports every run of `source` into `target` (null in a dry run whose target
 * does not exist yet: everything counts as new). Each run is written in its
 * own transactions, so an interrupted import keeps the runs it finished and
 * the next import completes the rest.
 */
export async function importForeign(
  source: ForeignSource,
  target: StonksService | null,
  options: ForeignImportOptions,
): Promise<ForeignImportSummary> {
  const summary: ForeignImportSummary = { experiments: 0, runs: 0, points: 0, skippedRuns: 0, skippedPoints: 0 };
  const experiments = new Set<string>();
  const repaired = new Set<string>();
  const repair = (r: Repair) => {
    if (repaired.has(r.kind)) return;
    repaired.add(r.kind);
    options.onRepair?.(r);
  };
  let read = 0;
  for await (const run of source.runs()) {
    read++;
    const id = foreignRunId(options.kind, run.sourceKey);
    const meta = runMeta(run, options, repair);
    const state = target?.runSyncState(id) ?? null;
    const stored = state?.series ?? {};
    const batches: RemoteSeriesBatch[] = [];
    let newPoints = 0;
    for (const [rawKey, rawSeries] of Object.entries(run.metrics)) {
      const { series, dropped } = finitePoints(rawSeries);
      if (codePointLength(rawKey) > MAX_KEY_LENGTH) {
        summary.skippedPoints += rawSeries.values.length;
        repair({ kind: "key:too-long", message: `a metric key longer than ${MAX_KEY_LENGTH} characters was skipped.` });
        continue;
      }
      summary.skippedPoints += dropped;
      const key = wellFormed(rawKey, "a metric key", repair);
      const have = stored[key] ?? 0;
      if (series.values.length > have) newPoints += series.values.length - have;
      if (series.values.length > 0) batches.push({ key, start: 0, ...series });
    }
    const finishedSince = state !== null && state.status === "running" && run.status !== "running";
    if (state !== null && newPoints === 0 && !finishedSince) {
      summary.skippedRuns++;
    } else {
      summary.runs++;
      summary.points += newPoints;
      experiments.add(meta.experiment);
      if (!options.dryRun && target !== null) {
        // An existing run keeps its metadata (edits made in stonks stay) unless the source finished it since.
        if (state === null) target.upsertRemoteRun(id, meta);
        else if (finishedSince) target.upsertRemoteRun(id, { ...meta, color: target.runView(id)?.color ?? null });
        if (batches.length > 0) target.appendRemotePoints(id, batches);
      }
    }
    options.onRun?.(read);
  }
  summary.experiments = experiments.size;
  return summary;
}
