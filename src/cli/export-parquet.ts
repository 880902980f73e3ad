/**
 * `stonks export <run-or-experiment> -f parquet -o DIR`: two Parquet files for
 * pandas, polars, DuckDB and Spark users. DIR/runs.parquet has one row per
 * run; DIR/points.parquet one row per point (run_id, key, step, value, time).
 * Times are Unix seconds as doubles, as in the CSV and JSON exports, so every
 * value reads back exactly; config is its JSON text; tags a list of strings.
 * Points are written a row group at a time, so an experiment of any size is
 * exported in bounded memory.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ColumnSource, SchemaElement } from "hyparquet-writer";
import { fileWriter, ParquetWriter } from "hyparquet-writer";
import type { RunView } from "../query/run-filter.js";
import type { StonksService } from "../query/service.js";
import { CliError } from "./common.js";

const POINTS_PER_ROW_GROUP = 100_000;

type Column = { name: string; type: "STRING" | "DOUBLE" | "INT64" | "BOOLEAN"; required: boolean };

function element(column: Column): SchemaElement {
  const repetition_type = column.required ? "REQUIRED" : "OPTIONAL";
  if (column.type === "STRING")
    return { name: column.name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type };
  return { name: column.name, type: column.type, repetition_type };
}

function schema(columns: Column[], lists: string[] = []): SchemaElement[] {
  const elements: SchemaElement[] = [{ name: "root", num_children: columns.length + lists.length }];
  for (const column of columns) elements.push(element(column));
  for (const name of lists) {
    elements.push(
      { name, repetition_type: "REQUIRED", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
    );
  }
  return elements;
}

const RUN_COLUMNS: Column[] = [
  { name: "id", type: "STRING", required: true },
  { name: "experiment", type: "STRING", required: true },
  { name: "project", type: "STRING", required: false },
  { name: "name", type: "STRING", required: false },
  { name: "status", type: "STRING", required: true },
  { name: "created_at", type: "DOUBLE", required: true },
  { name: "ended_at", type: "DOUBLE", required: false },
  { name: "last_heartbeat", type: "DOUBLE", required: false },
  { name: "config", type: "STRING", required: true },
  { name: "group", type: "STRING", required: false },
  { name: "job_type", type: "STRING", required: false },
  { name: "notes", type: "STRING", required: false },
  { name: "color", type: "STRING", required: false },
  { name: "host", type: "STRING", required: false },
  { name: "pid", type: "INT64", required: false },
  { name: "command", type: "STRING", required: false },
  { name: "cwd", type: "STRING", required: false },
  { name: "git_commit", type: "STRING", required: false },
  { name: "git_dirty", type: "BOOLEAN", required: false },
  { name: "sdk_language", type: "STRING", required: false },
  { name: "sdk_version", type: "STRING", required: false },
];

const POINT_COLUMNS: Column[] = [
  { name: "run_id", type: "STRING", required: true },
  { name: "key", type: "STRING", required: true },
  { name: "step", type: "DOUBLE", required: true },
  { name: "value", type: "DOUBLE", required: true },
  { name: "time", type: "DOUBLE", required: true },
];

/** Creates the folder now, so a place that cannot be written ends in one line before any work. */
function outputFolder(path: string | undefined): string {
  if (path === undefined) {
    throw new CliError("Parquet export writes two files (runs.parquet, points.parquet); name a folder with -o DIR.");
  }
  try {
    mkdirSync(path, { recursive: true });
  } catch (error) {
    throw new CliError(`Cannot write ${path}: ${(error as Error).message}. Choose another folder with -o.`);
  }
  return path;
}

function runColumns(
  runs: readonly RunView[],
  experimentName: (run: RunView) => string,
  projectName: (run: RunView) => string | null,
): ColumnSource[] {
  const values: Record<string, (run: RunView) => unknown> = {
    id: (r) => r.id,
    experiment: experimentName,
    project: projectName,
    name: (r) => r.name,
    status: (r) => r.status,
    created_at: (r) => r.createdAt,
    ended_at: (r) => r.endedAt,
    last_heartbeat: (r) => r.lastHeartbeat,
    config: (r) => JSON.stringify(r.config),
    group: (r) => r.group,
    job_type: (r) => r.jobType,
    notes: (r) => r.notes,
    color: (r) => r.color,
    host: (r) => r.provenance.host,
    pid: (r) => (r.provenance.pid === null ? null : BigInt(r.provenance.pid)),
    command: (r) => r.provenance.command,
    cwd: (r) => r.provenance.cwd,
    git_commit: (r) => r.provenance.gitCommit,
    git_dirty: (r) => r.provenance.gitDirty,
    sdk_language: (r) => r.provenance.sdkLanguage,
    sdk_version: (r) => r.provenance.sdkVersion,
  };
  const columns: ColumnSource[] = RUN_COLUMNS.map((column) => ({
    name: column.name,
    data: runs.map((run) => (values[column.name] as (run: RunView) => unknown)(run)),
    nullable: !column.required,
  }));
  columns.push({ name: "tags", data: runs.map((run) => run.tags), nullable: false });
  return columns;
}

export interface ParquetExportSummary {
  runs: number;
  points: number;
}

/** Writes `runs` and every point they hold into DIR/runs.parquet and DIR/points.parquet. */
export async function exportParquet(
  db: StonksService,
  runs: readonly RunView[],
  output: string | undefined,
): Promise<ParquetExportSummary & { folder: string }> {
  const folder = outputFolder(output);
  const experiments = new Map(db.listExperiments().map((e) => [e.id, e]));
  const projects = new Map(db.listProjects().map((p) => [p.id, p.name]));
  const experimentOf = (run: RunView) => experiments.get(run.experimentId);
  const runWriter = new ParquetWriter({
    writer: fileWriter(join(folder, "runs.parquet")),
    schema: schema(RUN_COLUMNS, ["tags"]),
  });
  await runWriter.write({
    columnData: runColumns(
      runs,
      (run) => experimentOf(run)?.name ?? run.experimentId,
      (run) => {
        const projectId = experimentOf(run)?.projectId ?? null;
        return projectId === null ? null : (projects.get(projectId) ?? null);
      },
    ),
  });
  await runWriter.finish();

  const pointWriter = new ParquetWriter({
    writer: fileWriter(join(folder, "points.parquet")),
    schema: schema(POINT_COLUMNS),
  });
  let runIds: string[] = [];
  let keys: string[] = [];
  let steps: number[] = [];
  let values: number[] = [];
  let times: number[] = [];
  let points = 0;
  const flush = async () => {
    if (runIds.length === 0) return;
    await pointWriter.write({
      columnData: [
        { name: "run_id", data: runIds, nullable: false },
        { name: "key", data: keys, nullable: false },
        { name: "step", data: Float64Array.from(steps), nullable: false },
        { name: "value", data: Float64Array.from(values), nullable: false },
        { name: "time", data: Float64Array.from(times), nullable: false },
      ],
      rowGroupSize: POINTS_PER_ROW_GROUP,
    });
    runIds = [];
    keys = [];
    steps = [];
    values = [];
    times = [];
  };
  for (const run of runs) {
    for (const key of db.getMetricKeys(run.id)) {
      const series = db.getMetrics(run.id, key);
      for (let i = 0; i < series.values.length; i++) {
        runIds.push(run.id);
        keys.push(key);
        steps.push(series.steps[i] as number);
        values.push(series.values[i] as number);
        times.push(series.timestamps[i] as number);
        if (runIds.length === POINTS_PER_ROW_GROUP) await flush();
      }
      points += series.values.length;
    }
  }
  await flush();
  await pointWriter.finish();
  return { runs: runs.length, points, folder };
}
