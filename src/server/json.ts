/** Renders domain objects in the wire shapes of src/contract/wire.ts (docs/rest-api.md). */
import type {
  ExperimentJson,
  PointField,
  PointsJson,
  ProjectJson,
  RunJson,
  SeriesErrorJson,
  SummaryJson,
} from "../contract/wire.js";
import type { RunSummary, RunView } from "../query/run-filter.js";
import type { DownsampledSeries, Experiment, MetricSeries, Project } from "../types.js";

export type { SeriesErrorJson } from "../contract/wire.js";

export function projectJson(project: Project): ProjectJson {
  return {
    id: project.id,
    name: project.name,
    created_at: project.createdAt,
    experiment_count: project.experimentCount,
  };
}

export function experimentJson(experiment: Experiment): ExperimentJson {
  return {
    id: experiment.id,
    name: experiment.name,
    description: experiment.description,
    created_at: experiment.createdAt,
    run_count: experiment.runCount,
    project_id: experiment.projectId,
  };
}

function summaryJson(summary: RunSummary): SummaryJson {
  return { last: summary.last, min: summary.min, max: summary.max, count: summary.count, last_step: summary.lastStep };
}

export function runJson(run: RunView): RunJson {
  const summary: Record<string, SummaryJson> = {};
  for (const [key, value] of Object.entries(run.summary)) summary[key] = summaryJson(value);
  const p = run.provenance;
  return {
    id: run.id,
    seq: run.seq,
    experiment_id: run.experimentId,
    name: run.name,
    status: run.status,
    stale: run.stale,
    config: run.config,
    tags: run.tags,
    group: run.group,
    job_type: run.jobType,
    notes: run.notes,
    color: run.color,
    color_index: run.colorIndex,
    created_at: run.createdAt,
    ended_at: run.endedAt,
    last_heartbeat: run.lastHeartbeat,
    duration: run.duration,
    provenance: {
      host: p.host,
      pid: p.pid,
      command: p.command,
      cwd: p.cwd,
      git_commit: p.gitCommit,
      git_dirty: p.gitDirty,
      sdk_language: p.sdkLanguage,
      sdk_version: p.sdkVersion,
    },
    summary,
  };
}

// Finished runs keep their view object until they change (src/query/run-list.ts), so their text can be reused.
const runTexts = new WeakMap<RunView, string>();

/** JSON text of a list of runs, reusing the text of finished runs that did not change. */
export function runListText(runs: readonly RunView[]): string {
  const parts = runs.map((run) => {
    let text = runTexts.get(run);
    if (text === undefined) {
      text = JSON.stringify(runJson(run));
      if (run.status !== "running" && run.endedAt !== null) runTexts.set(run, text);
    }
    return text;
  });
  return `[${parts.join(",")}]`;
}

export function pointsJson(series: Pick<MetricSeries, "steps" | "values" | "timestamps">): PointsJson {
  return {
    steps: Array.from(series.steps),
    values: Array.from(series.values),
    timestamps: Array.from(series.timestamps),
  };
}

/** Numbers per piece of a streamed array: about 100 KB of JSON. */
const NUMBERS_PER_PIECE = 8192;

/** JSON of a number array in pieces, numbers written as JSON.stringify writes them (non-finite ones as null). */
export function* numberArrayPieces(values: Float64Array): Generator<string> {
  if (values.length === 0) {
    yield "[]";
    return;
  }
  for (let from = 0; from < values.length; from += NUMBERS_PER_PIECE) {
    const to = Math.min(values.length, from + NUMBERS_PER_PIECE);
    let text = from === 0 ? "[" : ",";
    for (let i = from; i < to; i++) {
      const v = values[i];
      if (i > from) text += ",";
      text += Number.isFinite(v) ? String(v) : "null";
    }
    yield to === values.length ? `${text}]` : text;
  }
}

/** GET /api/runs/{id}/metrics as JSON text in pieces: the same text as JSON.stringify({key, ...pointsJson}). */
export function* pointsPieces(key: string, series: MetricSeries): Generator<string> {
  yield `{"key":${JSON.stringify(key)},"steps":`;
  yield* numberArrayPieces(series.steps);
  yield ',"values":';
  yield* numberArrayPieces(series.values);
  yield ',"timestamps":';
  yield* numberArrayPieces(series.timestamps);
  yield "}";
}

/** One series of POST /api/series as JSON text in pieces, with only the point arrays asked for. */
export function* seriesPieces(
  series: DownsampledSeries,
  fields: readonly PointField[],
  error: SeriesErrorJson | null,
): Generator<string> {
  yield `{"run_id":${JSON.stringify(series.runId)},"key":${JSON.stringify(series.key)}`;
  if (fields.includes("steps")) {
    yield ',"steps":';
    yield* numberArrayPieces(series.steps);
  }
  if (fields.includes("values")) {
    yield ',"values":';
    yield* numberArrayPieces(series.values);
  }
  if (fields.includes("timestamps")) {
    yield ',"timestamps":';
    yield* numberArrayPieces(series.timestamps);
  }
  const errorText = error === null ? "" : `,"error":${JSON.stringify(error)}`;
  yield `,"total_points":${series.totalPoints},"downsampled":${series.downsampled}${errorText}}`;
}
