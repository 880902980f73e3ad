/**
 * `stonks import neptune <export dir>`: the Parquet files of Neptune's
 * official exporter (neptune-ai/neptune-exporter). Its layout: one folder per
 * project under the data path, one run in `<run>_part_<n>.parquet` files (a
 * run is complete once part_0 exists), every row one attribute value in the
 * long schema of its `model.SCHEMA`: project_id, run_id, attribute_path,
 * attribute_type, step (decimal), timestamp (ms, UTC) and one typed value
 * column (int_value, float_value, string_value, bool_value, datetime_value,
 * string_set_value, file_value, histogram_value).
 *
 * Mapping (the same as the exporter's own loaders where they decide): a
 * project is an experiment; a run keeps its Neptune id (sys/custom_run_id in
 * Neptune 3, sys/id in Neptune 2) as its name and sys/name as its group;
 * sys/tags and sys/group_tags are tags; sys/description the notes;
 * sys/creation_time, sys/ping_time, sys/failed and sys/hostname the times,
 * status and host. Every other parameter attribute (float, int, string, bool,
 * datetime as ISO text, string_set as a list) is config, nested by its path.
 * float_series are metrics with their steps and timestamps. String series,
 * histograms, files and forking are not read.
 */
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import type { Config, JsonValue } from "../types.js";
import { type ForeignReader, type ForeignRun, type ForeignSeries, ImportSourceError } from "./model.js";

const PART_ZERO = "_part_0.parquet";
const PARAMETER_TYPES = new Set(["float", "int", "string", "bool", "datetime", "string_set"]);
const COLUMNS = [
  "project_id",
  "run_id",
  "attribute_path",
  "attribute_type",
  "step",
  "timestamp",
  "int_value",
  "float_value",
  "string_value",
  "bool_value",
  "datetime_value",
  "string_set_value",
];

interface ExportedRun {
  dir: string;
  /** The file name before `_part_<n>.parquet` (the exporter's sanitized run id). */
  prefix: string;
}

interface Row {
  project_id: string | null;
  run_id: string | null;
  attribute_path: string | null;
  attribute_type: string | null;
  step: number | null;
  timestamp: Date | null;
  int_value: bigint | number | null;
  float_value: number | null;
  string_value: string | null;
  bool_value: boolean | null;
  datetime_value: Date | null;
  string_set_value: string[] | null;
}

async function findRuns(root: string): Promise<ExportedRun[]> {
  const found: ExportedRun[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.isFile() && entry.name.endsWith(PART_ZERO)) {
        found.push({ dir, prefix: entry.name.slice(0, -PART_ZERO.length) });
      } else if (entry.isDirectory()) {
        await visit(join(dir, entry.name));
      }
    }
  };
  await visit(root);
  const order = (r: ExportedRun) => join(relative(root, r.dir), r.prefix);
  return found.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

/** The run's part files in part order. */
async function partFiles(run: ExportedRun): Promise<string[]> {
  const pattern = new RegExp(`^${run.prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}_part_(\\d+)\\.parquet$`);
  const parts: [number, string][] = [];
  for (const name of await readdir(run.dir)) {
    const match = pattern.exec(name);
    if (match) parts.push([Number(match[1]), join(run.dir, name)]);
  }
  return parts.sort((a, b) => a[0] - b[0]).map(([, path]) => path);
}

/** Rows of one part file, a row group at a time, so a 50 MB part is never decoded whole. */
async function* partRows(path: string): AsyncGenerator<Row> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = await parquetReadObjects({ file, metadata, columns: COLUMNS, rowStart, rowEnd, compressors });
    for (const row of rows) yield row as Row;
    rowStart = rowEnd;
  }
}

function parameterValue(row: Row): JsonValue | undefined {
  switch (row.attribute_type) {
    case "float":
      return row.float_value ?? undefined;
    case "int":
      return row.int_value === null ? undefined : Number(row.int_value);
    case "string":
      return row.string_value ?? undefined;
    case "bool":
      return row.bool_value ?? undefined;
    case "datetime":
      return row.datetime_value?.toISOString();
    case "string_set":
      return row.string_set_value ?? undefined;
    default:
      return undefined;
  }
}

/** Sets `parameters/optimizer/lr` as config.parameters.optimizer.lr; a path that clashes with a value stays whole. */
function setPath(config: Config, path: string, value: JsonValue): void {
  const parts = path.split("/");
  let node: Config = config;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === undefined) {
      const child: Config = {};
      node[part] = child;
      node = child;
    } else if (next !== null && typeof next === "object" && !Array.isArray(next)) {
      node = next;
    } else {
      config[path] = value;
      return;
    }
  }
  node[parts[parts.length - 1] as string] = value;
}

class PointList {
  steps: number[] = [];
  values: number[] = [];
  times: number[] = [];
}

/** Points in step order; points at one step keep the order they were exported in. */
function sortedSeries(points: PointList): ForeignSeries {
  const order = points.steps.map((_, i) => i).sort((a, b) => (points.steps[a] as number) - (points.steps[b] as number));
  return {
    steps: Float64Array.from(order, (i) => points.steps[i] as number),
    values: Float64Array.from(order, (i) => points.values[i] as number),
    times: Float64Array.from(order, (i) => points.times[i] as number),
  };
}

async function readRun(run: ExportedRun): Promise<ForeignRun> {
  let project: string | null = null;
  let runId: string | null = null;
  const sys = new Map<string, JsonValue>();
  const config: Config = {};
  const series = new Map<string, PointList>();
  let firstTime = Number.POSITIVE_INFINITY;
  let lastTime = Number.NEGATIVE_INFINITY;
  for (const path of await partFiles(run)) {
    for await (const row of partRows(path)) {
      project ??= row.project_id;
      runId ??= row.run_id;
      const attribute = row.attribute_path;
      if (attribute === null) continue;
      if (row.attribute_type === "float_series") {
        if (row.step === null) continue;
        let points = series.get(attribute);
        if (points === undefined) {
          points = new PointList();
          series.set(attribute, points);
        }
        const time = row.timestamp === null ? Number.NaN : row.timestamp.getTime() / 1000;
        points.steps.push(row.step);
        points.values.push(row.float_value ?? Number.NaN);
        points.times.push(time);
        if (!Number.isNaN(time)) {
          firstTime = Math.min(firstTime, time);
          lastTime = Math.max(lastTime, time);
        }
        continue;
      }
      if (!PARAMETER_TYPES.has(row.attribute_type ?? "")) continue;
      const value = parameterValue(row);
      if (value === undefined) continue;
      if (attribute.startsWith("sys/")) sys.set(attribute, value);
      else setPath(config, attribute, value);
    }
  }
  if (project === null || runId === null) {
    throw new ImportSourceError(
      `${join(run.dir, run.prefix)}_part_*.parquet has no project_id and run_id; pass the data folder of a neptune-exporter export.`,
    );
  }
  const text = (key: string) => {
    const value = sys.get(key);
    return typeof value === "string" && value !== "" ? value : null;
  };
  const seconds = (key: string) => {
    const value = text(key);
    return value === null ? null : Date.parse(value) / 1000;
  };
  const list = (key: string) => {
    const value = sys.get(key);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  };
  const metrics: Record<string, ForeignSeries> = {};
  for (const [key, points] of series) {
    // A point without a timestamp gets the run's last known time rather than 1970.
    for (let i = 0; i < points.times.length; i++) {
      if (Number.isNaN(points.times[i])) points.times[i] = Number.isFinite(lastTime) ? lastTime : 0;
    }
    metrics[key] = sortedSeries(points);
  }
  const createdAt = seconds("sys/creation_time") ?? (Number.isFinite(firstTime) ? firstTime : Date.now() / 1000);
  return {
    sourceKey: `${project}/${runId}`,
    experiment: project,
    name: runId,
    config,
    tags: [...new Set([...list("sys/tags"), ...list("sys/group_tags")])],
    group: text("sys/name"),
    jobType: null,
    notes: text("sys/description"),
    createdAt,
    status: sys.get("sys/failed") === true ? "failed" : "completed",
    endedAt:
      seconds("sys/ping_time") ?? seconds("sys/modification_time") ?? (Number.isFinite(lastTime) ? lastTime : null),
    provenance: { host: text("sys/hostname") },
    metrics,
  };
}

export const readNeptune: ForeignReader = async (source) => {
  const info = await stat(source).catch(() => null);
  if (info === null || !info.isDirectory()) {
    throw new ImportSourceError(
      `${source} is not a directory; pass the data folder of a neptune-exporter export (--data-path, ./exports/data by default).`,
    );
  }
  const runs = await findRuns(source);
  if (runs.length === 0) {
    throw new ImportSourceError(
      `No Neptune export under ${source} (files named <run>_part_0.parquet); pass the exporter's data folder (--data-path, ./exports/data by default).`,
    );
  }
  const first = runs[0] as ExportedRun;
  const firstPart = join(first.dir, `${first.prefix}${PART_ZERO}`);
  const columns = await parquetMetadataAsync(await asyncBufferFromFile(firstPart))
    .then((metadata) => new Set(metadata.schema.map((element) => element.name)))
    .catch(() => new Set<string>());
  if (!columns.has("attribute_path") || !columns.has("attribute_type") || !columns.has("run_id")) {
    throw new ImportSourceError(
      `${firstPart} is not a neptune-exporter Parquet file (no attribute_path, attribute_type and run_id columns); pass the exporter's data folder.`,
    );
  }
  return {
    runCount: runs.length,
    async *runs() {
      for (const run of runs) yield await readRun(run);
    },
  };
};
