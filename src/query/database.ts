import { parseWhere, type WhereExpression } from "../contract/where.js";
import { NotFoundError } from "../errors.js";
import { type Db, openDatabase, runRead } from "../store/connection.js";
import { listProjects } from "../store/projects.js";
import {
  findSeries,
  getExperiment,
  getMetricKeys,
  getRunRow,
  listExperiments,
  listRunRows,
  metricSummaries,
  readDownsampled,
  readGroupWindow,
  readSeries,
  toRunInfo,
} from "../store/reads.js";
import {
  deleteWorkspace,
  getWorkspace,
  listWorkspaces,
  saveWorkspace,
  type WorkspaceRow,
} from "../store/workspaces.js";
import type {
  DownsampledSeries,
  DownsampleOptions,
  Experiment,
  MetricSeries,
  MetricSummary,
  Project,
  RunInfo,
  SeriesRequest,
} from "../types.js";
import { resolveDbPath } from "../util/db-path.js";
import { DEFAULT_STALE_AFTER_S } from "../util/staleness.js";
import {
  aggregateGroup,
  type GroupSeries,
  type GroupSeriesOptions,
  type RunPoints,
  type RunSpans,
} from "./group-aggregate.js";
import { queryRuns } from "./run-list.js";

/** A saved dashboard workspace: its name, the arrangement as the dashboard wrote it, when it was last saved. */
export interface Workspace {
  name: string;
  state: unknown;
  updatedAt: number;
}

function toWorkspace(row: WorkspaceRow): Workspace {
  return { name: row.name, state: JSON.parse(row.state) as unknown, updatedAt: row.updated_at };
}

export interface OpenQueryOptions {
  /** Seconds without a heartbeat after which a running run is reported stale (default 60). */
  staleAfterSeconds?: number;
  /** Open without write access. Default false (an old schema is migrated forward). */
  readonly?: boolean;
  /** A PostgreSQL database only: connections this process opens at most (default STONKS_PG_POOL, else 4). */
  pgPoolSize?: number;
}

export interface ListRunsOptions {
  /** A where expression, e.g. `config.lr < 0.01 AND metric.val/acc.max > 0.9`, as text or parsed. */
  where?: string | WhereExpression;
}

export interface ListExperimentsOptions {
  /** Only the experiments of this project (its id, as listProjects() gives it). */
  projectId?: string;
}

/** Read access to a stonks database: what open() returns. */
export class StonksDatabase {
  readonly path: string;
  /** Only the query layer's own modules reach the store through it (see docs/architecture.md). */
  protected readonly connection: Db;
  protected readonly staleAfter: number;

  constructor(path: string, options: OpenQueryOptions = {}) {
    this.path = path;
    this.staleAfter = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S;
    this.connection = openDatabase(path, {
      create: false,
      readonly: options.readonly ?? false,
      pgPoolSize: options.pgPoolSize,
    });
  }

  /** Experiments by name; only those of one project (by id) when `projectId` is given. */
  listExperiments(options: ListExperimentsOptions = {}): Experiment[] {
    return listExperiments(this.connection, options.projectId);
  }

  /** Projects by name, each with its number of experiments. */
  listProjects(): Project[] {
    return listProjects(this.connection);
  }

  /** An experiment by id or name, or null. */
  getExperiment(idOrName: string): Experiment | null {
    return getExperiment(this.connection, idOrName);
  }

  /**
   * Runs newest first, of one experiment or of all; with `where`, only those
   * the expression keeps (docs/query-language.md; a mistake throws
   * WhereSyntaxError with its column). With `where` each run also carries
   * what the run table shows of it (RunView: duration and metric summaries).
   */
  listRuns(experimentId?: string, options: ListRunsOptions = {}): RunInfo[] {
    if (options.where !== undefined) {
      const where = typeof options.where === "string" ? parseWhere(options.where) : options.where;
      const experiments =
        experimentId === undefined ? listExperiments(this.connection).map((e) => e.id) : [experimentId];
      const runs = experiments.flatMap(
        (id) => queryRuns(this.connection, id, { where }, { staleAfterSeconds: this.staleAfter }).runs,
      );
      return experiments.length === 1 ? runs : runs.sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq);
    }
    const now = Date.now() / 1000;
    return listRunRows(this.connection, experimentId).map((row) => toRunInfo(row, now, this.staleAfter));
  }

  getRun(runId: string): RunInfo | null {
    const row = getRunRow(this.connection, runId);
    return row ? toRunInfo(row, Date.now() / 1000, this.staleAfter) : null;
  }

  getMetricKeys(runId: string): string[] {
    this.requireRun(runId);
    return getMetricKeys(this.connection, runId);
  }

  /** Every point of one metric, ordered by step; empty arrays for a key never logged. */
  getMetrics(runId: string, key: string): MetricSeries {
    this.requireRun(runId);
    return (
      readSeries(this.connection, runId, key) ?? {
        key,
        steps: new Float64Array(0),
        values: new Float64Array(0),
        timestamps: new Float64Array(0),
      }
    );
  }

  /** Points stored for a metric of a run; null when the run (or the key in it) does not exist. */
  seriesLength(runId: string, key: string): number | null {
    return findSeries(this.connection, runId, key)?.count ?? null;
  }

  hasRun(runId: string): boolean {
    return getRunRow(this.connection, runId) !== null;
  }

  /** Last, min and max of every metric of a run. */
  getSummaries(runId: string): MetricSummary[] {
    this.requireRun(runId);
    return metricSummaries(this.connection, runId);
  }

  /**
   * Several series at once, each reduced to about maxPoints points (min and max
   * of each bucket kept), optionally over a step range for a zoomed view.
   */
  getSeries(requests: SeriesRequest[], options: DownsampleOptions): DownsampledSeries[] {
    return requests.map(
      (r) =>
        readDownsampled(this.connection, r.runId, r.key, options.maxPoints, options.minStep, options.maxStep) ?? {
          runId: r.runId,
          key: r.key,
          steps: new Float64Array(0),
          values: new Float64Array(0),
          timestamps: new Float64Array(0),
          totalPoints: 0,
          downsampled: false,
        },
    );
  }

  /**
   * One metric of several runs as one line with a band: per step bucket, the
   * mean, std, stderr, min, max and count across the runs of each run's mean
   * value in that bucket (the rule: docs/grouping.md). A run listed twice
   * counts twice; NotFoundError for an unknown run id.
   */
  getGroupSeries(runIds: readonly string[], key: string, options: GroupSeriesOptions): GroupSeries {
    return runRead(this.connection, () => {
      for (const runId of runIds) this.requireRun(runId);
      const runs: (RunPoints | RunSpans)[] = [];
      for (const runId of runIds) {
        const points = readGroupWindow(this.connection, runId, key, options.buckets, options.minStep, options.maxStep);
        if (points !== null) runs.push(points);
      }
      const { first_step, last_step, ...columns } = aggregateGroup(
        runs,
        options.buckets,
        options.minStep,
        options.maxStep,
      );
      return {
        key,
        runIds: [...runIds],
        runsWithKey: runs.length,
        ...columns,
        firstStep: first_step,
        lastStep: last_step,
      };
    });
  }

  /** The saved workspaces of an experiment (by id), by name. */
  listWorkspaces(experimentId: string): Workspace[] {
    return listWorkspaces(this.connection, experimentId).map(toWorkspace);
  }

  getWorkspace(experimentId: string, name: string): Workspace | null {
    const row = getWorkspace(this.connection, experimentId, name);
    return row ? toWorkspace(row) : null;
  }

  /** Saves (or replaces) a workspace; false when the experiment no longer exists. */
  saveWorkspace(experimentId: string, name: string, state: unknown): boolean {
    return saveWorkspace(this.connection, experimentId, name, JSON.stringify(state), Date.now() / 1000);
  }

  deleteWorkspace(experimentId: string, name: string): boolean {
    return deleteWorkspace(this.connection, experimentId, name);
  }

  close(): void {
    this.connection.close();
  }

  protected requireRun(runId: string): void {
    if (!getRunRow(this.connection, runId)) {
      throw new NotFoundError(`No run with id ${runId}. List runs with db.listRuns() or \`stonks runs <experiment>\`.`);
    }
  }
}

/** Opens a database for reading: explicit path > STONKS_DB > ./stonks.db. */
export function open(db?: string, options: OpenQueryOptions = {}): StonksDatabase {
  return new StonksDatabase(resolveDbPath(db), options);
}
