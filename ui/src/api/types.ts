/**
 * The dashboard's names for the wire contract (src/contract/wire.ts, docs/rest-api.md).
 * Times are Unix seconds. Type-only imports: nothing of the server enters the bundle.
 */
import type {
  ExperimentJson,
  ProjectJson,
  RunJson,
  RunMetaJson,
  RunPatchJson,
  SeriesJson,
  SummaryJson,
  WorkspaceJson,
} from "../../../src/contract/wire.js";

export type { DisplayStatus } from "../../../src/contract/run-table.js";
export type {
  JsonValue,
  MetricsUpdateEvent,
  PointsEvent,
  RunDeletedEvent,
  RunStatus,
  RunUpdateEvent,
  SeriesRequestJson as SeriesRequest,
} from "../../../src/contract/wire.js";

export type Experiment = ExperimentJson;
export type Project = ProjectJson;
/** A run as the run store keeps it: without metric summaries, which change far more often (state/runs.ts). */
export type Run = RunMetaJson;
/** A run as the API answers it, summaries included. */
export type RunWithSummary = RunJson;
/** A run's summary of each metric key. */
export type Summaries = Record<string, SummaryJson>;
export type RunPatch = RunPatchJson;
export type SavedWorkspace = WorkspaceJson;

/** A series as the dashboard asks for it: always with steps and values, times only on a time axis. */
export type SeriesResponse = SeriesJson & Required<Pick<SeriesJson, "steps" | "values">>;
