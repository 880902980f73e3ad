/**
 * Sends what a server lacks of a stonks file (docs/remote.md): each run's
 * metadata (PUT, which answers the server's point count per series), its
 * points from those counts on (POST, at most MAX_POINTS_PER_POST per request,
 * as base64 float64 columns), and its heartbeat. Every batch names the index
 * of its first point, so a batch sent twice (a timeout, a restart, two
 * shippers of one file) is stored once. The SDKs' spools and `stonks sync`
 * run this same code.
 */
import type { PointsBatchReply, PointsBatchSeries, RunUpsertBody, RunUpsertReply } from "../contract/ingest.js";
import { dataVersion } from "../store/changes.js";
import { type Db, openDatabase, runRead } from "../store/connection.js";
import {
  deleteShippedRun,
  readIndexRange,
  type ShippableRun,
  seriesCountsOfRun,
  shippableRuns,
} from "../store/shipping.js";
import { encodeB64F64 } from "../util/b64f64.js";
import { type ServerClient, ServerRefused } from "./http.js";

export interface ShipperOptions {
  /** Delete a finished run from the file once the server holds all of it (the SDK's spool; never a user's file). */
  deleteAcknowledged: boolean;
  /** Open the file read-only (`stonks sync`, which never modifies the file). */
  readonly: boolean;
}

/** What one pass over the file did. */
export interface ShipReport {
  /** Runs the pass looked at. */
  runs: number;
  /** Points the server stored because of this pass. */
  pointsSent: number;
  /** Points of those runs the server held already when the pass began. */
  pointsAlreadyThere: number;
  /** Points of those runs the server still lacks (0 after a pass that ended without error). */
  unsent: number;
  /** Finished runs removed from the file (deleteAcknowledged). */
  deleted: number;
  /** The request that ended the pass early (ServerUnreachable, ServerRefused, ...); null when it went through. */
  failure: Error | null;
}

interface RunCursor {
  /** The run's revision the server last got by PUT (-1: never). */
  revision: number;
  /** The heartbeat the server last got. */
  heartbeat: number | null;
  /** The server's point count per series key, from its last answer. */
  counts: Map<string, number>;
  /** The server's counts when this shipper first talked about the run. */
  initialTotal: number;
}

/** A run id must be one path segment. */
function runPath(id: string, rest = ""): string {
  return `/api/runs/${encodeURIComponent(id)}${rest}`;
}

/** Most points one POST carries (the server takes up to MAX_POINTS_PER_WRITE). */
export const MAX_POINTS_PER_POST = 50_000;

export function putBodyOf(run: ShippableRun): RunUpsertBody {
  const row = run.row;
  return {
    experiment: run.experiment,
    project: run.project,
    name: row.name,
    config: JSON.parse(row.config),
    tags: JSON.parse(row.tags),
    group: row.group_name,
    jobType: row.job_type,
    notes: row.notes,
    color: row.color,
    createdAt: row.created_at,
    provenance: {
      host: row.host,
      pid: row.pid,
      command: row.command,
      cwd: row.cwd,
      gitCommit: row.git_commit,
      gitDirty: row.git_dirty === null ? null : row.git_dirty === 1,
      sdkLanguage: row.sdk_language,
      sdkVersion: row.sdk_version,
    },
    status: row.status,
    endedAt: row.ended_at,
    lastHeartbeat: row.last_heartbeat,
  };
}

function countsOf(answer: Record<string, number> | undefined): Map<string, number> {
  return new Map(Object.entries(answer ?? {}));
}

export class Shipper {
  readonly file: string;
  private db: Db | null = null;
  private readonly cursors = new Map<string, RunCursor>();
  /** Shrinks when the server refuses a batch as too large (413). */
  private batchPoints = MAX_POINTS_PER_POST;

  constructor(
    file: string,
    readonly server: ServerClient,
    private readonly options: ShipperOptions,
  ) {
    this.file = file;
  }

  private database(): Db {
    this.db ??= openDatabase(this.file, { create: false, readonly: this.options.readonly });
    return this.db;
  }

  /** Every run of the file, as it is now. */
  runs(): ShippableRun[] {
    return shippableRuns(this.database());
  }

  /**
   * One pass over the runs `select` keeps: sends what the server lacks. The
   * first failed request ends it (report.failure); what was acknowledged
   * before stays acknowledged.
   */
  async ship(select: (run: ShippableRun) => boolean = () => true): Promise<ShipReport> {
    const report: ShipReport = {
      runs: 0,
      pointsSent: 0,
      pointsAlreadyThere: 0,
      unsent: 0,
      deleted: 0,
      failure: null,
    };
    for (const run of this.runs().filter(select)) {
      report.runs++;
      try {
        if (report.failure === null) await this.shipRun(run, report);
      } catch (error) {
        report.failure = error instanceof Error ? error : new Error(String(error));
      }
      report.unsent += this.unsentOf(run);
    }
    return report;
  }

  /** Points of the run the server lacks, by the last answers (all of them while the server has not answered). */
  private unsentOf(run: ShippableRun): number {
    const cursor = this.cursors.get(run.row.id);
    let unsent = 0;
    for (const series of seriesCountsOfRun(this.database(), run.row.seq)) {
      unsent += Math.max(0, series.count - (cursor?.counts.get(series.key) ?? 0));
    }
    return unsent;
  }

  private async put(run: ShippableRun): Promise<RunCursor> {
    const answer = await this.server.request<RunUpsertReply>("PUT", runPath(run.row.id), putBodyOf(run));
    const counts = countsOf(answer.body?.series);
    let cursor = this.cursors.get(run.row.id);
    if (cursor === undefined) {
      let total = 0;
      for (const count of counts.values()) total += count;
      cursor = { revision: -1, heartbeat: null, counts, initialTotal: total };
      this.cursors.set(run.row.id, cursor);
    }
    cursor.counts = counts;
    cursor.revision = run.row.revision;
    cursor.heartbeat = run.row.last_heartbeat;
    return cursor;
  }

  private async shipRun(run: ShippableRun, report: ShipReport): Promise<void> {
    const row = run.row;
    let cursor = this.cursors.get(row.id);
    // First contact: the PUT creates the run and says where each series continues.
    if (cursor === undefined) {
      cursor = await this.put(run);
      report.pointsAlreadyThere += cursor.initialTotal;
    }
    const sent = await this.sendPoints(run, cursor);
    report.pointsSent += sent;
    // After the points, so a finished run shows its final status with all its points.
    if (cursor.revision !== row.revision) {
      await this.put(run);
    } else if (row.status === "running" && row.last_heartbeat !== null && row.last_heartbeat !== cursor.heartbeat) {
      await this.server.request("POST", runPath(row.id, "/heartbeat"), { at: row.last_heartbeat });
      cursor.heartbeat = row.last_heartbeat;
    }
    if (this.options.deleteAcknowledged && row.status !== "running" && this.unsentOf(run) === 0) {
      if (deleteShippedRun(this.database(), row.id, row.revision)) {
        this.cursors.delete(row.id);
        report.deleted++;
      }
    }
  }

  /** Sends every point past the server's counts; returns how many the server stored. */
  private async sendPoints(run: ShippableRun, cursor: RunCursor): Promise<number> {
    let stored = 0;
    let stuck = 0;
    let lastOnServer = Number.NEGATIVE_INFINITY;
    for (;;) {
      const db = this.database();
      const behind = seriesCountsOfRun(db, run.row.seq).filter((s) => s.count > (cursor.counts.get(s.key) ?? 0));
      if (behind.length === 0) return stored;
      // Progress is the server's count moving: the spool may grow faster than it while a burst is logged.
      let onServer = 0;
      for (const count of cursor.counts.values()) onServer += count;
      stuck = onServer > lastOnServer ? 0 : stuck + 1;
      lastOnServer = onServer;
      if (stuck === 2) {
        // Answers that do not move the counts: the PUT says where the server stands.
        cursor.counts = (await this.put(run)).counts;
        continue;
      }
      if (stuck > 3) {
        throw new Error(`the server does not take the points of run ${run.row.id} (its counts do not move)`);
      }
      const body: PointsBatchSeries[] = [];
      let points = 0;
      runRead(db, () => {
        for (const series of behind) {
          if (points >= this.batchPoints) break;
          const start = cursor.counts.get(series.key) ?? 0;
          const end = Math.min(series.count, start + (this.batchPoints - points));
          const read = readIndexRange(db, series.seriesId, start, end);
          body.push({
            key: series.key,
            start,
            steps: encodeB64F64(read.steps),
            values: encodeB64F64(read.values),
            times: encodeB64F64(read.timestamps),
          });
          points += end - start;
        }
      });
      let answer: PointsBatchReply | null;
      try {
        answer = (await this.server.request<PointsBatchReply>("POST", runPath(run.row.id, "/points"), { series: body }))
          .body;
      } catch (error) {
        if (error instanceof ServerRefused && error.status === 413 && this.batchPoints > 1000) {
          this.batchPoints = Math.floor(this.batchPoints / 2);
          continue;
        }
        // The server does not know the run (deleted there, or a new database): create it again.
        if (error instanceof ServerRefused && error.status === 404) {
          cursor.counts = (await this.put(run)).counts;
          continue;
        }
        throw error;
      }
      for (const part of body) {
        const before = cursor.counts.get(part.key) ?? 0;
        const after = answer?.series?.[part.key] ?? answer?.gaps?.[part.key];
        if (after === undefined) continue;
        cursor.counts.set(part.key, after);
        if (answer?.gaps?.[part.key] === undefined) stored += Math.max(0, after - Math.max(before, part.start));
      }
    }
  }

  /** Moves whenever another connection commits to the file: `stonks sync --watch` polls it. */
  fileVersion(): number {
    return dataVersion(this.database());
  }

  close(): void {
    this.server.close();
    this.db?.close();
    this.db = null;
  }
}
