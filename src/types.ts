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
