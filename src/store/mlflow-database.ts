/**
 * Reading an MLflow SQLite tracking database (the `sqlite:///mlflow.db`
 * backend of MLflow's SQLAlchemy store), opened read-only. Only the tables
 * every MLflow version since 1.x has are read: experiments, runs, params,
 * tags and metrics. src/interop/mlflow.ts turns the rows into stonks runs.
 */
import { tableColumns } from "./connection.js";
import { type Db, openConnection } from "./driver.js";

const REQUIRED: Record<string, string[]> = {
  experiments: ["experiment_id", "name", "lifecycle_stage"],
  runs: ["run_uuid", "name", "status", "start_time", "end_time", "user_id", "lifecycle_stage", "experiment_id"],
  params: ["key", "value", "run_uuid"],
  tags: ["key", "value", "run_uuid"],
  metrics: ["key", "value", "timestamp", "step", "run_uuid"],
};

export interface MlflowRunRow {
  runId: string;
  experiment: string;
  name: string | null;
  status: string;
  /** Milliseconds since the epoch, as MLflow stores them. */
  startTime: number | null;
  endTime: number | null;
  userId: string | null;
}

export interface MlflowMetricRow {
  key: string;
  value: number;
  timestampMs: number;
  step: number;
}

/** A database MLflow wrote, open read-only; null when the file is SQLite but not MLflow's. */
export interface MlflowDatabase {
  runs(): MlflowRunRow[];
  params(runId: string): [string, string][];
  tags(runId: string): [string, string | null][];
  /**
   * The run's metric points in the order they were inserted (per key, the order they were
   * logged), read row by row as they are consumed (a long run holds millions); read them through
   * before the next call.
   */
  metrics(runId: string): Iterable<MlflowMetricRow>;
  close(): void;
}

/**
 * Opens `path` as an MLflow tracking database. Throws the driver's error when
 * the file is not SQLite; returns null when it is SQLite without MLflow's tables.
 */
export function openMlflowDatabase(path: string): MlflowDatabase | null {
  const db = openConnection(path, { readonly: true });
  let columns: Map<string, string[]>;
  try {
    columns = tableColumns(db);
  } catch (error) {
    db.close();
    throw error;
  }
  const isMlflow = Object.entries(REQUIRED).every(([table, required]) =>
    required.every((column) => columns.get(table)?.includes(column)),
  );
  if (!isMlflow) {
    db.close();
    return null;
  }
  // MLflow 1.10 added is_nan: NaN is stored as 0 with the flag set.
  const hasNanFlag = columns.get("metrics")?.includes("is_nan") === true;
  return mlflowDatabase(db, hasNanFlag);
}

function mlflowDatabase(db: Db, hasNanFlag: boolean): MlflowDatabase {
  const runs = db.prepare(
    `SELECT r.run_uuid AS runId, e.name AS experiment, r.name AS name, r.status AS status,
       r.start_time AS startTime, r.end_time AS endTime, r.user_id AS userId
     FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id
     WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active'
     ORDER BY r.start_time, r.run_uuid`,
  );
  const params = db.prepare('SELECT "key", value FROM params WHERE run_uuid = ? ORDER BY "key"').raw(true);
  const tags = db.prepare('SELECT "key", value FROM tags WHERE run_uuid = ? ORDER BY "key"').raw(true);
  const value = hasNanFlag ? "CASE WHEN is_nan THEN NULL ELSE value END" : "value";
  const metrics = db.prepare(
    `SELECT "key" AS key, ${value} AS value, timestamp AS timestampMs, step FROM metrics WHERE run_uuid = ? ORDER BY rowid`,
  );
  return {
    runs: () => runs.all() as MlflowRunRow[],
    params: (runId) => params.all(runId) as [string, string][],
    tags: (runId) => tags.all(runId) as [string, string | null][],
    metrics: function* (runId) {
      for (const row of metrics.iterate(runId) as Iterable<{
        key: string;
        value: number | null;
        timestampMs: number;
        step: number;
      }>) {
        yield {
          key: row.key,
          value: row.value === null ? Number.NaN : Number(row.value),
          timestampMs: Number(row.timestampMs),
          step: Number(row.step),
        };
      }
    },
    close: () => db.close(),
  };
}
