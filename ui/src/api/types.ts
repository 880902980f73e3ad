/**
 * Shapes of the stonks REST API (docs/rest-api.md). Times are Unix seconds.
 * The REST shapes are the server's own types (type-only imports, erased from the bundle);
 * the live event payloads are described here.
 */
import type { ExperimentJson, ProjectJson, RunJson, SeriesJson } from "../../../src/server/json";
import type { RunStatus } from "../../../src/types";

export type { DisplayStatus } from "../../../src/query/run-filter";
export type { JsonValue, RunStatus } from "../../../src/types";

export type Experiment = ExperimentJson;
export type Project = ProjectJson;
export type Run = RunJson;

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

/** A series as the dashboard asks for it: always with steps and values, times only on a time axis. */
export type SeriesResponse = SeriesJson & Required<Pick<SeriesJson, "steps" | "values">>;

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

export interface SavedWorkspace {
  name: string;
  state: unknown;
  updated_at: number;
}
