export { InvalidMetricError, NotFoundError, SchemaVersionError, StonksError, WriteError } from "./errors.js";
export { type OpenQueryOptions, open, StonksDatabase } from "./query/database.js";
export type {
  Config,
  DownsampledSeries,
  DownsampleOptions,
  Experiment,
  FinishStatus,
  JsonValue,
  MetricSeries,
  MetricSummary,
  Provenance,
  RunInfo,
  RunStatus,
  SeriesRequest,
} from "./types.js";
