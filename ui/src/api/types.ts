/** Shapes of the stonks REST API (docs/rest-api.md). Times are Unix seconds. */
export type RunStatus = "running" | "completed" | "failed" | "interrupted";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Experiment {
  id: string;
  name: string;
  description: string | null;
  created_at: number;
  run_count: number;
}

export interface MetricSummary {
  last: number | null;
  min: number | null;
  max: number | null;
  count: number;
  last_step: number | null;
}

export interface Provenance {
  host: string | null;
  pid: number | null;
  command: string | null;
  cwd: string | null;
  git_commit: string | null;
  git_dirty: boolean | null;
  sdk_language: string | null;
  sdk_version: string | null;
}

export interface Run {
  id: string;
  experiment_id: string;
  name: string | null;
  status: RunStatus;
  stale: boolean;
  config: { [key: string]: JsonValue };
  tags: string[];
  group: string | null;
  job_type: string | null;
  notes: string | null;
  color: string | null;
  created_at: number;
  ended_at: number | null;
  last_heartbeat: number | null;
  duration: number | null;
  provenance: Provenance;
  summary: { [key: string]: MetricSummary };
}

export interface RunPatch {
  name?: string | null;
  tags?: string[];
  notes?: string | null;
  color?: string | null;
}

export interface SeriesRequest {
  run_id: string;
  key: string;
}

export interface SeriesResponse {
  run_id: string;
  key: string;
  steps: number[];
  values: number[];
  /** Left out when the request's fields did not ask for them. */
  timestamps?: number[];
  total_points: number;
  downsampled: boolean;
}

export interface RunUpdateEvent {
  run_id: string;
  status: RunStatus;
  name: string | null;
  created_at: number;
  ended_at: number | null;
  run?: Run;
}

export interface MetricsUpdateEvent {
  run_id: string;
  last_heartbeat: number | null;
}

export interface PointsEvent {
  run_id: string;
  key: string;
  steps: number[];
  values: number[];
  timestamps: number[];
  start_index: number;
}

export interface RunDeletedEvent {
  run_id: string;
  experiment_id: string;
}
