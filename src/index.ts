import { type OpenQueryOptions, open as openDatabase, type StonksDatabase } from "./query/database.js";
import { cancelWriterPrestart } from "./sdk/writer-client.js";

export { type WhereExpression, WhereSyntaxError } from "./contract/where.js";
export {
  InvalidConfigError,
  InvalidMetricError,
  NotAStonksFileError,
  NotFoundError,
  SchemaVersionError,
  StonksError,
  WriteError,
} from "./errors.js";
export {
  type ListExperimentsOptions,
  type ListRunsOptions,
  type OpenQueryOptions,
  StonksDatabase,
} from "./query/database.js";
export { type LogOptions, Run, type StartRunOptions } from "./sdk/run.js";
export { startRun } from "./sdk/start-run.js";
export type {
  Config,
  DownsampledSeries,
  DownsampleOptions,
  Experiment,
  FinishStatus,
  HardwareOptions,
  JsonValue,
  MetricSeries,
  MetricSummary,
  Project,
  Provenance,
  RunInfo,
  RunStatus,
  SeriesRequest,
} from "./types.js";
export { MAX_KEY_LENGTH } from "./types.js";

/**
 * Opens a database for reading: explicit path > STONKS_DB > ./stonks.db.
 * Opened before the script's first await, it also keeps the writer thread from
 * booting: a script that only reads starts no thread.
 */
export function open(db?: string, options: OpenQueryOptions = {}): StonksDatabase {
  cancelWriterPrestart();
  return openDatabase(db, options);
}
