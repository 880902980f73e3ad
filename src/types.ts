/** Public data shapes of the query API. Times are Unix seconds. */
export { MAX_KEY_LENGTH } from "./contract/limits.js";

export type RunStatus = "running" | "completed" | "failed" | "interrupted";
export type FinishStatus = Exclude<RunStatus, "running">;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Config = { [key: string]: JsonValue };

export interface Experiment {
  id: string;
  name: string;
  description: string | null;
  createdAt: number;
  runCount: number;
  /** The project the experiment was created in; null when it has none. */
  projectId: string | null;
}

/** A group of experiments (the original stonks' `project=`). */
export interface Project {
  id: string;
  name: string;
  createdAt: number;
  experimentCount: number;
}

export interface Provenance {
  host: string | null;
  pid: number | null;
  command: string | null;
  cwd: string | null;
  gitCommit: string | null;
  gitDirty: boolean | null;
  sdkLanguage: string | null;
  sdkVersion: string | null;
}

/** Provenance of a run whose origin nothing records (imports, hand-made runs, tests). */
export const UNKNOWN_PROVENANCE: Readonly<Provenance> = Object.freeze({
  host: null,
  pid: null,
  command: null,
  cwd: null,
  gitCommit: null,
  gitDirty: null,
  sdkLanguage: null,
  sdkVersion: null,
});

export interface RunInfo {
  id: string;
  experimentId: string;
  name: string | null;
  status: RunStatus;
  /** True when status is running but the heartbeat is older than the stale threshold. */
  stale: boolean;
  config: Config;
  tags: string[];
  group: string | null;
  jobType: string | null;
  notes: string | null;
  color: string | null;
  createdAt: number;
  endedAt: number | null;
  lastHeartbeat: number | null;
  provenance: Provenance;
  /** Increases whenever the run's row changes (status, name, config...). */
  revision: number;
}

export interface MetricSeries {
  key: string;
  steps: Float64Array;
  values: Float64Array;
  timestamps: Float64Array;
}

export interface DownsampledSeries extends MetricSeries {
  runId: string;
  /** Points of the series inside the requested step range. */
  totalPoints: number;
  /** True when the points are bucket minima and maxima rather than every point. */
  downsampled: boolean;
}

export interface MetricSummary {
  key: string;
  count: number;
  lastStep: number | null;
  last: number | null;
  min: number | null;
  max: number | null;
  lastTime: number | null;
}

export interface SeriesRequest {
  runId: string;
  key: string;
}

export interface DownsampleOptions {
  /** About how many points to return per series (min and max of maxPoints/2 buckets). */
  maxPoints: number;
  minStep?: number;
  maxStep?: number;
}

/*
 * Shapes of the service layer's admin operations (src/query/service.ts), used by the
 * server and the CLI; not part of the package's public API.
 */

/** Fields of a run a person may edit; undefined leaves a field as it is. */
export interface RunEdit {
  name?: string | null;
  tags?: string[];
  notes?: string | null;
  color?: string | null;
}

/** Which runs a clean-up deletes. */
export interface GcCriteria {
  /** Only runs created before this Unix time. */
  createdBefore?: number;
  /** Only runs whose stored status is one of these. */
  statuses?: readonly RunStatus[];
  /** With statuses including "running": only running runs whose heartbeat is older than this Unix time. */
  staleBefore?: number;
}

/** A run a clean-up would delete, with its number of points. */
export interface GcCandidate {
  id: string;
  points: number;
}

/** What a database holds, for `stonks info`. */
export interface DatabaseCounts {
  experiments: number;
  runs: number;
  runsByStatus: Record<RunStatus, number>;
  series: number;
  points: number;
  metricKeys: number;
  schemaVersion: number;
  pageSize: number;
  freePages: number;
}

/** What an import of an original stonks file wrote (or, for a dry run, would write). */
export interface ImportSummary {
  projects: number;
  experiments: number;
  runs: number;
  points: number;
  /** Points stored as NULL by the original (a logged NaN): a stonks file holds no NaN points. */
  skippedPoints: number;
  /** Runs whose id the target already holds: left as they are. */
  presentRuns: number;
}

/** One metric of a finished recording: its points, in step order. */
export interface RecordedSeries {
  steps: Float64Array;
  values: Float64Array;
  timestamps: Float64Array;
}

/** A whole run written at once (the demo data): its row, every point, and how it ended. */
export interface RecordedRun {
  experiment: string;
  name: string | null;
  config: Config;
  tags: string[];
  group: string | null;
  jobType: string | null;
  notes: string | null;
  color: string | null;
  createdAt: number;
  provenance: Provenance;
  metrics: Record<string, RecordedSeries>;
  /** "running" leaves the run running with its heartbeat at `lastActive`; any other ends it then. */
  status: RunStatus;
  lastActive: number;
}

/** System metrics logged beside the training metrics (startRun options). */
export interface HardwareOptions {
  /** Sample CPU, memory, disk, network, GPUs and this process as sys/* metrics. Default false. */
  hardware?: boolean;
  /** Seconds between samples. Default 5. */
  hardwareInterval?: number;
  /** Include NVIDIA GPUs (through nvidia-smi). Default true. */
  hardwareGpu?: boolean;
}
