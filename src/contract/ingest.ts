/**
 * The write API's wire shapes (docs/rest-api.md, "Writing runs"): what an SDK
 * or `stonks sync` sends to put its runs on a server, and what the server
 * answers. camelCase like the SDK's own run fields; times in Unix seconds.
 * Types only, browser-safe.
 */
import type { Config, Provenance, RunStatus } from "../types.js";

/**
 * A column of float64 values as base64 of their little-endian bytes (8 bytes a
 * value): `Buffer.from(new Float64Array(values).buffer).toString("base64")` in
 * Node, `base64.b64encode(array.array("d", values).tobytes())` in Python.
 */
export type B64F64 = string;

/** PUT /api/runs/{id}: a run's metadata as the sender holds it (it replaces the server's). */
export interface RunUpsertBody {
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
  provenance: Provenance;
  status: RunStatus;
  endedAt: number | null;
  lastHeartbeat: number | null;
}

/** How many points the server holds per series key of a run. */
export type SeriesCounts = Record<string, number>;

/** Answer of PUT /api/runs/{id} (201 when the run was created, else 200). */
export interface RunUpsertReply {
  id: string;
  series: SeriesCounts;
}

/** One series of a points batch: points [start, start + n) of the run's series `key`. */
export interface PointsBatchSeries {
  key: string;
  /** Index of the first point in the run's series: the sender's count of that series before these. */
  start: number;
  steps: B64F64;
  values: B64F64;
  times: B64F64;
}

/** POST /api/runs/{id}/points. */
export interface PointsBatchBody {
  series: PointsBatchSeries[];
}

/**
 * Answer of POST /api/runs/{id}/points: the stored count of every series sent,
 * and for a series whose start was past the stored count (nothing of it
 * written) that count under `gaps`: the sender resends from there.
 */
export interface PointsBatchReply {
  series: SeriesCounts;
  gaps: SeriesCounts;
}

/** POST /api/runs/{id}/heartbeat (answered 204). */
export interface HeartbeatBody {
  at: number;
}

/** GET /api/runs/{id}/sync: what the server holds of a run. */
export interface RunSyncReply {
  series: SeriesCounts;
  status: RunStatus;
  revision: number;
}
