/**
 * The one door the server and the CLI use to a stonks file: the reads of
 * StonksDatabase, the run tables, and the operations people start (edit,
 * delete, clean up, count, write the demo data). It returns domain types only;
 * rows and the connection stay inside the query layer, so a second storage
 * backend changes this module and the store, not its callers.
 */
import { existsSync } from "node:fs";
import {
  compact,
  databaseCounts,
  deleteEmptyExperiments,
  deleteExperiment,
  deleteRuns,
  editRun,
  findGcCandidates,
  runIdsWithPrefix,
  serverDatabaseBytes,
} from "../store/admin.js";
import { enlargePageCache, isPostgresUrl, openDatabase, runImmediate } from "../store/connection.js";
import {
  type ExperimentCopy,
  type ProjectCopy,
  restoreExperiment,
  restoreProject,
  restoreToken,
  restoreWorkspace,
  type TokenCopy,
  type TokenRestore,
  tokensWithHashes,
} from "../store/copy.js";
import { findSeries, getRunRow, type PointArrays, readIndexRange } from "../store/reads.js";
import {
  type AppendOutcome,
  appendRemotePoints,
  type RemoteRunMeta,
  type RemoteSeriesBatch,
  type RunSyncState,
  remoteHeartbeat,
  runSyncState,
  type SeriesCounts,
  upsertRemoteRun,
} from "../store/remote.js";
import { appendPoints, ensureExperiment, ensureSeries, finishRun, insertRun, touchHeartbeat } from "../store/writes.js";
import type { DatabaseCounts, GcCandidate, GcCriteria, RecordedRun, RunEdit } from "../types.js";
import { type OpenQueryOptions, StonksDatabase } from "./database.js";
import type { GroupSeries, GroupSeriesOptions } from "./group-aggregate.js";
import { GroupSeriesCache } from "./group-cache.js";
import type { RunListPage, RunListQuery, RunView } from "./run-filter.js";
import { queryRuns, RunTables, runView } from "./run-list.js";
import { Tokens } from "./tokens.js";

/** Whether an error means the database server is away for now (the server answers 503), not that the call was wrong. */
export { isDatabaseUnavailable } from "../store/pg/driver.js";

export type {
  AppendOutcome,
  ExperimentCopy,
  PointArrays,
  ProjectCopy,
  RemoteRunMeta,
  RemoteSeriesBatch,
  RunSyncState,
  SeriesCounts,
  TokenCopy,
  TokenRestore,
};

export interface OpenServiceOptions extends OpenQueryOptions {
  /** Create the file (with its schema) when it does not exist. Default false. */
  create?: boolean;
}

/** A stonks file as the server and the CLI use it: StonksDatabase's reads plus the admin operations. */
export class StonksService extends StonksDatabase {
  private readonly groupSeriesCache = new GroupSeriesCache();

  /** As StonksDatabase's, remembered until one of the runs logs another point of the key (group-cache.ts). */
  override getGroupSeries(runIds: readonly string[], key: string, options: GroupSeriesOptions): GroupSeries {
    const counts = runIds.map((id) => this.seriesLength(id, key));
    return this.groupSeriesCache.get(runIds, key, options, counts, () => super.getGroupSeries(runIds, key, options));
  }

  private tokenStore: Tokens | null = null;

  /** The file's API tokens (`stonks token`, the server's role checks). */
  tokens(): Tokens {
    this.tokenStore ??= new Tokens(this.connection);
    return this.tokenStore;
  }

  /** Run tables over this file that stay in memory and follow its changes: one per server. */
  runTables(): RunTables {
    return new RunTables(this.connection, { staleAfterSeconds: this.staleAfter });
  }

  /** One page of an experiment's runs, read fresh (for one-off callers such as the CLI). */
  queryRuns(experimentId: string, query: RunListQuery): RunListPage {
    return queryRuns(this.connection, experimentId, query, { staleAfterSeconds: this.staleAfter });
  }

  /** One run as the run table shows it (with its metric summaries), or null. */
  runView(runId: string): RunView | null {
    const row = getRunRow(this.connection, runId);
    return row === null ? null : runView(this.connection, row, { staleAfterSeconds: this.staleAfter });
  }

  /** Ids of runs starting with `prefix` (for people typing short ids), at most `limit`, in id order. */
  runIdsWithPrefix(prefix: string, limit: number): string[] {
    return runIdsWithPrefix(this.connection, prefix, limit);
  }

  /** Applies an edit to a run; false when the run does not exist. */
  editRun(runId: string, edit: RunEdit): boolean {
    return editRun(this.connection, runId, edit);
  }

  /** Deletes runs with their points; returns how many existed. */
  deleteRuns(runIds: readonly string[]): number {
    return deleteRuns(this.connection, runIds);
  }

  /** Deletes an experiment with its runs; the number of runs deleted, or null when it does not exist. */
  deleteExperiment(experimentId: string): number | null {
    return deleteExperiment(this.connection, experimentId);
  }

  /** Deletes experiments left without runs; returns how many. */
  deleteEmptyExperiments(): number {
    return deleteEmptyExperiments(this.connection);
  }

  /** Runs a clean-up with these criteria would delete, oldest first. */
  gcCandidates(criteria: GcCriteria): GcCandidate[] {
    return findGcCandidates(this.connection, criteria);
  }

  /** Gives the pages freed by deletions back to the file system. */
  compact(): void {
    compact(this.connection);
  }

  /** Bytes the database takes on its PostgreSQL server; null for a SQLite file (measure the file). */
  serverDatabaseBytes(): number | null {
    return serverDatabaseBytes(this.connection);
  }

  /** What the file holds: experiments, runs by status, series, points, free pages. */
  counts(): DatabaseCounts {
    return databaseCounts(this.connection);
  }

  /**
   * Lets this connection cache more of the file: a long-lived reader (the
   * server) rereads the same pages of runs and summaries on every query.
   */
  enlargePageCache(mebibytes: number): void {
    enlargePageCache(this.connection, mebibytes);
  }

  /**
   * Creates the run with this id, or makes its metadata the sender's (write
   * API); returns whether it was created and its stored point counts.
   */
  upsertRemoteRun(runId: string, meta: RemoteRunMeta): { created: boolean; series: SeriesCounts } {
    return upsertRemoteRun(this.connection, runId, meta);
  }

  /** Appends a sender's points at their start indexes (stored ones skipped); null when the run does not exist. */
  appendRemotePoints(runId: string, batches: readonly RemoteSeriesBatch[]): AppendOutcome | null {
    return appendRemotePoints(this.connection, runId, batches);
  }

  /** The id of the experiment called `name`, created without runs when there is none (MLflow's experiments/create). */
  ensureExperiment(name: string): string {
    const db = this.connection;
    return runImmediate(db, () => ensureExperiment(db, name, Date.now() / 1000));
  }

  /** Moves a run's heartbeat forward; false when the run does not exist. */
  remoteHeartbeat(runId: string, at: number): boolean {
    return remoteHeartbeat(this.connection, runId, at);
  }

  /** What the file holds of a run for a sender: point counts per key, status, revision; null when absent. */
  runSyncState(runId: string): RunSyncState | null {
    return runSyncState(this.connection, runId);
  }

  /** Points with series index in [from, to) of a run's metric, in logging order (empty when there is no such series). */
  readPointRange(runId: string, key: string, from: number, to: number): PointArrays {
    const series = findSeries(this.connection, runId, key);
    return readIndexRange(this.connection, series?.id ?? -1, from, series === null ? from : Math.min(to, series.count));
  }

  /** Adds a project under its id and creation time unless one of that name exists (`stonks migrate`). */
  restoreProject(project: ProjectCopy): boolean {
    return restoreProject(this.connection, project);
  }

  /** The experiment of that name, made with the given id, description and times when missing (`stonks migrate`). */
  restoreExperiment(experiment: ExperimentCopy): { id: string; created: boolean } {
    return restoreExperiment(this.connection, experiment);
  }

  /** Writes a workspace with its save time unless this store's is as new (`stonks migrate`). */
  restoreWorkspace(experimentId: string, workspace: { name: string; state: unknown; updatedAt: number }): boolean {
    return restoreWorkspace(this.connection, experimentId, { ...workspace, state: JSON.stringify(workspace.state) });
  }

  /** Every token with its secret's hash, for copying them to another store (`stonks migrate`). */
  tokensWithHashes(): TokenCopy[] {
    return tokensWithHashes(this.connection);
  }

  /** Adds a token from another store (same secret) unless this one has it; see store/copy.ts. */
  restoreToken(token: TokenCopy): TokenRestore {
    return restoreToken(this.connection, token);
  }

  /** Writes a whole run with its points in one transaction (then its colour, as a person's edit); returns its id. */
  writeRecordedRun(run: RecordedRun): string {
    const db = this.connection;
    const id = runImmediate(db, () => {
      const started = insertRun(db, {
        experimentName: run.experiment,
        name: run.name,
        config: run.config,
        tags: run.tags,
        group: run.group,
        jobType: run.jobType,
        notes: run.notes,
        now: run.createdAt,
        provenance: run.provenance,
      });
      for (const [key, series] of Object.entries(run.metrics)) {
        appendPoints(db, ensureSeries(db, started.seq, key), series.steps, series.values, series.timestamps);
      }
      if (run.status === "running") touchHeartbeat(db, started.seq, run.lastActive);
      else finishRun(db, started.seq, run.status, run.lastActive);
      return started.id;
    });
    if (run.color !== null) editRun(db, id, { color: run.color });
    return id;
  }
}

/**
 * Opens a stonks file for the server or the CLI; with `create`, a missing file
 * is created first. A PostgreSQL URL opens that database (its tables are
 * created by any open with write access).
 */
export function openService(path: string, options: OpenServiceOptions = {}): StonksService {
  if (options.create === true && !isPostgresUrl(path) && !existsSync(path))
    openDatabase(path, { create: true }).close();
  return new StonksService(path, options);
}
