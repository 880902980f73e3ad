/**
 * The write protocol of remote logging (docs/rest-api.md, docs/remote.md):
 * what an SDK's shipper or `stonks sync` sends and what the server answers.
 * camelCase as the protocol fixes it; times in Unix seconds. Types only.
 */
import type { Config, RunStatus } from "../types.js";

/** Most points one POST /api/runs/{id}/points carries (the server refuses more than 100,000). */
export const MAX_POINTS_PER_POST = 50_000;

export interface RemoteProvenance {
  host: string | null;
  pid: number | null;
  command: string | null;
  cwd: string | null;
  gitCommit: string | null;
  gitDirty: boolean | null;
  sdkLanguage: string | null;
  sdkVersion: string | null;
}

/** PUT /api/runs/{id}: creates or updates the run (idempotent). */
export interface RunPutBody {
  experiment: string;
  project: string | null;
  name: string | null;
  config: Config;
  tags: string[];
  group: string | null;
  jobType: string | null;
  notes: string | null;
  color: string | null;
  createdAt: number;
  provenance: RemoteProvenance;
  status: RunStatus;
  endedAt: number | null;
  lastHeartbeat: number | null;
}

/** Answer of PUT /api/runs/{id} (200, or 201 when created): the server's point count per series key. */
export interface RunPutAnswer {
  id: string;
  series: Record<string, number>;
}

/** One series' points from index `start` on; steps, values, times: base64 of little-endian float64s. */
export interface SeriesPointsBody {
  key: string;
  start: number;
  steps: string;
  values: string;
  times: string;
}

/** POST /api/runs/{id}/points. */
export interface PointsPostBody {
  series: SeriesPointsBody[];
}

/** Answer of POST /api/runs/{id}/points: counts after the append; gaps: series not written because start was past the count. */
export interface PointsPostAnswer {
  series: Record<string, number>;
  gaps: Record<string, number>;
}

/** POST /api/runs/{id}/heartbeat (answers 204). */
export interface HeartbeatBody {
  at: number;
}

/** GET /api/runs/{id}/sync: what the server holds of a run. */
export interface RunSyncAnswer {
  series: Record<string, number>;
  status: RunStatus;
  revision: number;
}
