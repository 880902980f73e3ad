/**
 * The wire contract: every JSON shape the REST API answers or accepts and
 * every payload of the live event stream (docs/rest-api.md). The server
 * renders these types, the dashboard and the CLI read them, the tests parse
 * into them. snake_case, times in Unix seconds. Types only, browser-safe.
 */
import type { Config, JsonValue, RunStatus } from "../types.js";

export type { Config, JsonValue, RunStatus };

/** Every error answer: `{"error": {"code", "message"}}`. */
export interface ErrorJson {
  error: { code: string; message: string };
}

/** GET /api/info. */
export interface InfoJson {
  db: string;
}

export interface ExperimentJson {
  id: string;
  name: string;
  description: string | null;
  created_at: number;
  run_count: number;
  /** The project the experiment belongs to; null when it has none. */
  project_id: string | null;
}

export interface ProjectJson {
  id: string;
  name: string;
  created_at: number;
  experiment_count: number;
}

export interface SummaryJson {
  last: number | null;
  min: number | null;
  max: number | null;
  count: number;
  last_step: number | null;
}

export interface ProvenanceJson {
  host: string | null;
  pid: number | null;
  command: string | null;
  cwd: string | null;
  git_commit: string | null;
  git_dirty: boolean | null;
  sdk_language: string | null;
  sdk_version: string | null;
}

/** A run without its metric summaries: what changes when the run's row changes, not when it logs. */
export interface RunMetaJson {
  id: string;
  /** The run's number in this database: given at creation, never reused. */
  seq: number;
  experiment_id: string;
  name: string | null;
  status: RunStatus;
  stale: boolean;
  config: Config;
  tags: string[];
  group: string | null;
  job_type: string | null;
  notes: string | null;
  color: string | null;
  /** Palette index of the default colour, chosen at creation; null for runs from before schema version 3. */
  color_index: number | null;
  created_at: number;
  ended_at: number | null;
  last_heartbeat: number | null;
  /** Seconds; null when unknown (a run that died before its first heartbeat and logged nothing). */
  duration: number | null;
  provenance: ProvenanceJson;
}

/** A run as GET /api/runs/{id} and the run list answer it. */
export interface RunJson extends RunMetaJson {
  summary: Record<string, SummaryJson>;
}

/** GET /api/experiments/{id}/keys. */
export interface RunTableKeysJson {
  config_keys: string[];
  metric_keys: string[];
}

/** PATCH /api/runs/{id}: only the fields sent change. */
export interface RunPatchJson {
  name?: string | null;
  tags?: string[] | null;
  notes?: string | null;
  color?: string | null;
}

/** DELETE of a run or an experiment. */
export interface DeletedRunsJson {
  deleted_runs: number;
}

/** A saved workspace of /api/experiments/{id}/workspaces; `state` is the dashboard's own object. */
export interface WorkspaceJson {
  name: string;
  state: unknown;
  updated_at: number;
}

export interface PointsJson {
  steps: number[];
  values: number[];
  timestamps: number[];
}

/** GET /api/runs/{id}/metrics. */
export interface MetricPointsJson extends PointsJson {
  key: string;
}

export type PointField = keyof PointsJson;

/** One series of POST /api/series. */
export interface SeriesRequestJson {
  run_id: string;
  key: string;
}

/** POST /api/series. */
export interface SeriesBodyJson {
  series: SeriesRequestJson[];
  downsample?: number;
  min_step?: number;
  max_step?: number;
  fields?: PointField[];
}

export interface SeriesErrorJson {
  code: "key_too_long" | "run_not_found" | "key_not_found";
  message: string;
}

export interface SeriesJson extends Partial<PointsJson> {
  run_id: string;
  key: string;
  total_points: number;
  downsampled: boolean;
  /** Set when this series could not be read; its point arrays are then empty. */
  error?: SeriesErrorJson;
}

/** The answer of POST /api/series. */
export interface SeriesReplyJson {
  series: SeriesJson[];
}

// Live events (GET /api/events): `event:` name → `data:` JSON.

export interface ReadyEvent {
  /** Where the stream stands; sent back as Last-Event-ID to resume. */
  cursor: string;
}

export interface RunUpdateEvent {
  run_id: string;
  status: RunStatus;
  name: string | null;
  created_at: number;
  ended_at: number | null;
  run: RunJson;
}

export interface MetricsUpdateEvent {
  run_id: string;
  last_heartbeat: number | null;
}

export interface PointsEvent extends PointsJson {
  run_id: string;
  key: string;
  /** Position of the first point in its series. */
  start_index: number;
}

export interface RunDeletedEvent {
  run_id: string;
  experiment_id: string;
}

export interface ExperimentsChangedEvent {
  /** Experiments that gained runs (new ones included); empty when only deletions happened. */
  experiment_ids: string[];
}

/** Refetch what is shown: more changed than the stream carries. */
export type ResyncEvent = Record<string, never>;

/** The payload of each live event, by event name. */
export interface LiveEventPayloads {
  ready: ReadyEvent;
  run_update: RunUpdateEvent;
  metrics_update: MetricsUpdateEvent;
  points: PointsEvent;
  run_deleted: RunDeletedEvent;
  experiments_changed: ExperimentsChangedEvent;
  resync: ResyncEvent;
}

export type LiveEventName = keyof LiveEventPayloads;

/** Every live event, discriminated by its name. */
export type LiveEvent = { [E in LiveEventName]: { event: E; data: LiveEventPayloads[E] } }[LiveEventName];

export const LIVE_EVENT_NAMES: readonly LiveEventName[] = [
  "ready",
  "run_update",
  "metrics_update",
  "points",
  "run_deleted",
  "experiments_changed",
  "resync",
];

/** A live event from its SSE name and data text; null for a name this contract does not know or data that is not JSON. */
export function parseLiveEvent(event: string, data: string): LiveEvent | null {
  if (!(LIVE_EVENT_NAMES as readonly string[]).includes(event)) return null;
  try {
    return { event, data: JSON.parse(data) } as LiveEvent;
  } catch {
    return null;
  }
}
