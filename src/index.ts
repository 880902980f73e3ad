export {
  InvalidConfigError,
  InvalidMetricError,
  NotAStonksFileError,
  NotFoundError,
  SchemaVersionError,
  StonksError,
  WriteError,
} from "./errors.js";
export { type ListExperimentsOptions, type OpenQueryOptions, open, StonksDatabase } from "./query/database.js";
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
