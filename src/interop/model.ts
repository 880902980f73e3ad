/**
 * What every importer of another tracker's files produces: runs in stonks'
 * terms, read from the source one at a time. The importers (one module per
 * kind in this folder) only read their format; writing, idempotency, progress
 * and the summary are src/query/import-foreign.ts's, the same for every kind.
 */
import type { Config, Provenance, RunStatus } from "../types.js";

/** One metric of a foreign run, in the order the source logged it. */
export interface ForeignSeries {
  steps: Float64Array;
  values: Float64Array;
  /** Wall-clock seconds since the Unix epoch, one per point. */
  times: Float64Array;
}

export interface ForeignRun {
  /**
   * The run's identity in the source, stable across imports (an MLflow run id,
   * a TensorBoard run directory relative to the log dir, a wandb run id). The
   * stonks run id is derived from the kind and this key, so importing the same
   * source again finds the runs it wrote and adds only points they lack.
   */
  sourceKey: string;
  /** Experiment name; `--experiment` overrides it for every run. */
  experiment: string;
  name: string | null;
  config: Config;
  tags: string[];
  group: string | null;
  jobType: string | null;
  notes: string | null;
  /** Seconds since the Unix epoch. */
  createdAt: number;
  status: RunStatus;
  /** When the run ended (seconds), or null while it runs or when unknown. */
  endedAt: number | null;
  /** What the source knows of where the run ran; missing fields are null. */
  provenance: Partial<Provenance>;
  metrics: Record<string, ForeignSeries>;
}

/** A source opened by an importer: its runs, read lazily one at a time. */
export interface ForeignSource {
  /** How many runs `runs()` will yield, for the progress bar (null when unknown). */
  runCount: number | null;
  runs(): AsyncIterable<ForeignRun>;
  /** Closes files or connections the reader holds. */
  close?(): void | Promise<void>;
}

/** Reads one kind of source (a path or URI the user gave); throws ImportSourceError when it is not that kind. */
export type ForeignReader = (source: string) => Promise<ForeignSource>;

/** The source is missing, unreadable or not of the kind asked for: the CLI prints the message as one line. */
export class ImportSourceError extends Error {
  override name = "ImportSourceError";
}
