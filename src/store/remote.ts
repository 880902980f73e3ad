/**
 * Runs written over the write API (docs/rest-api.md, "Writing runs"): a
 * sender's run metadata replaces the stored one, and points are appended at
 * the index the sender says they start at, so a batch sent twice is stored
 * once. Points go through writes.ts like a local writer's, so readers and the
 * change feed cannot tell the two apart.
 */
import type { Config, Provenance, RunStatus } from "../types.js";
import { type Db, runImmediate, stmt } from "./connection.js";
import type { RunRow } from "./reads.js";
import { appendPoints, ensureSeries, insertRun, nextRevision } from "./writes.js";

export interface RemoteRunMeta {
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

export interface RemoteSeriesBatch {
  key: string;
  start: number;
  steps: Float64Array;
  values: Float64Array;
  times: Float64Array;
}

/** Stored point count per series key of a run. */
export type SeriesCounts = Record<string, number>;

export interface AppendOutcome {
  series: SeriesCounts;
  gaps: SeriesCounts;
}

export interface RunSyncState {
  series: SeriesCounts;
  status: RunStatus;
  revision: number;
}

function runSeq(db: Db, runId: string): number | null {
  const row = stmt(db, "SELECT seq FROM runs WHERE id = ?").get(runId) as { seq: number } | undefined;
  return row?.seq ?? null;
}

/** Without a prototype, so a metric key such as "__proto__" is a key like any other. */
function emptyCounts(): SeriesCounts {
  return Object.create(null) as SeriesCounts;
}

function seriesCounts(db: Db, seq: number): SeriesCounts {
  const rows = stmt(
    db,
    "SELECT k.key AS key, s.count AS count FROM series s JOIN metric_keys k ON k.id = s.key_id WHERE s.run_seq = ?",
  ).all(seq) as { key: string; count: number }[];
  const counts = emptyCounts();
  for (const row of rows) counts[row.key] = row.count;
  return counts;
}

/** The stored run columns a sender's metadata is compared with (the SELECT in upsertRemoteRun). */
type StoredMeta = Pick<
  RunRow,
  | "seq"
  | "name"
  | "status"
  | "config"
  | "tags"
  | "group_name"
  | "job_type"
  | "notes"
  | "color"
  | "ended_at"
  | "last_heartbeat"
  | "host"
  | "pid"
  | "command"
  | "cwd"
  | "git_commit"
  | "git_dirty"
  | "sdk_language"
  | "sdk_version"
>;

/** The columns of runs a sender's metadata sets, in the order of the UPDATE below. */
function metaColumns(meta: RemoteRunMeta): unknown[] {
  const p = meta.provenance;
  return [
    meta.name,
    meta.status,
    JSON.stringify(meta.config),
    JSON.stringify(meta.tags),
    meta.group,
    meta.jobType,
    meta.notes,
    meta.color,
    meta.endedAt,
    p.host,
    p.pid,
    p.command,
    p.cwd,
    p.gitCommit,
    p.gitDirty === null ? null : p.gitDirty ? 1 : 0,
    p.sdkLanguage,
    p.sdkVersion,
  ];
}

function storedColumns(row: StoredMeta): unknown[] {
  return [
    row.name,
    row.status,
    row.config,
    row.tags,
    row.group_name,
    row.job_type,
    row.notes,
    row.color,
    row.ended_at,
    row.host,
    row.pid,
    row.command,
    row.cwd,
    row.git_commit,
    row.git_dirty,
    row.sdk_language,
    row.sdk_version,
  ];
}

const SET_META = `name = ?, status = ?, config = ?, tags = ?, group_name = ?, job_type = ?, notes = ?, color = ?,
  ended_at = ?, host = ?, pid = ?, command = ?, cwd = ?, git_commit = ?, git_dirty = ?, sdk_language = ?, sdk_version = ?`;

/**
 * Creates the run with the sender's id, or makes the stored run's metadata the
 * sender's (experiment and creation time stay as created). The revision moves
 * only when a field changed, so a sender repeating itself wakes no live view;
 * the heartbeat only moves forward. Returns whether it was created and the
 * stored point counts.
 */
export function upsertRemoteRun(
  db: Db,
  runId: string,
  meta: RemoteRunMeta,
): { created: boolean; series: SeriesCounts } {
  return runImmediate(db, () => {
    const existing = stmt(
      db,
      `SELECT seq, name, status, config, tags, group_name, job_type, notes, color, ended_at, last_heartbeat,
         host, pid, command, cwd, git_commit, git_dirty, sdk_language, sdk_version FROM runs WHERE id = ?`,
    ).get(runId) as StoredMeta | undefined;
    const heartbeat = Math.max(meta.lastHeartbeat ?? meta.createdAt, existing?.last_heartbeat ?? 0);
    if (existing === undefined) {
      const started = insertRun(db, {
        experimentName: meta.experiment,
        project: meta.project,
        name: meta.name,
        config: meta.config,
        tags: meta.tags,
        group: meta.group,
        jobType: meta.jobType,
        notes: meta.notes,
        now: meta.createdAt,
        provenance: meta.provenance,
        runId,
      });
      // The row is not visible to anyone yet, so it keeps the revision insertRun gave it.
      stmt(db, `UPDATE runs SET ${SET_META}, last_heartbeat = ? WHERE seq = ?`).run(
        ...metaColumns(meta),
        heartbeat,
        started.seq,
      );
      return { created: true, series: emptyCounts() };
    }
    const wanted = metaColumns(meta);
    const stored = storedColumns(existing);
    if (wanted.some((value, i) => value !== stored[i])) {
      stmt(db, `UPDATE runs SET ${SET_META}, last_heartbeat = ?, revision = ? WHERE seq = ?`).run(
        ...wanted,
        heartbeat,
        nextRevision(db),
        existing.seq,
      );
    } else if (heartbeat !== existing.last_heartbeat) {
      stmt(db, "UPDATE runs SET last_heartbeat = ? WHERE seq = ?").run(heartbeat, existing.seq);
    }
    return { created: false, series: seriesCounts(db, existing.seq) };
  });
}

/**
 * Appends each series' points from the stored count on: points before it are
 * already stored and skipped; a batch starting past it is not written and its
 * stored count goes under `gaps`. One transaction; null when the run does not exist.
 */
export function appendRemotePoints(db: Db, runId: string, batches: readonly RemoteSeriesBatch[]): AppendOutcome | null {
  return runImmediate(db, () => {
    const seq = runSeq(db, runId);
    if (seq === null) return null;
    const stored = seriesCounts(db, seq);
    const outcome: AppendOutcome = { series: emptyCounts(), gaps: emptyCounts() };
    for (const batch of batches) {
      const count = stored[batch.key] ?? 0;
      const n = batch.values.length;
      if (batch.start > count) {
        outcome.gaps[batch.key] = count;
      } else if (batch.start + n > count) {
        const skip = count - batch.start;
        appendPoints(
          db,
          ensureSeries(db, seq, batch.key),
          batch.steps.subarray(skip),
          batch.values.subarray(skip),
          batch.times.subarray(skip),
        );
        stored[batch.key] = batch.start + n;
      }
      outcome.series[batch.key] = stored[batch.key] ?? 0;
    }
    return outcome;
  });
}

/**
 * Moves a running run's heartbeat forward (never back; a finished run keeps
 * its own, as touchHeartbeat does locally); false when the run does not exist.
 */
export function remoteHeartbeat(db: Db, runId: string, at: number): boolean {
  return runImmediate(db, () => {
    const seq = runSeq(db, runId);
    if (seq === null) return false;
    stmt(
      db,
      "UPDATE runs SET last_heartbeat = ? WHERE seq = ? AND status = 'running' AND (last_heartbeat IS NULL OR last_heartbeat < ?)",
    ).run(at, seq, at);
    return true;
  });
}

/** What is stored of a run: point counts per series key, status and revision; null when it does not exist. */
export function runSyncState(db: Db, runId: string): RunSyncState | null {
  const row = stmt(db, "SELECT seq, status, revision FROM runs WHERE id = ?").get(runId) as
    | { seq: number; status: RunStatus; revision: number }
    | undefined;
  if (row === undefined) return null;
  return { series: seriesCounts(db, row.seq), status: row.status, revision: row.revision };
}
