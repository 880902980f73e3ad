/**
 * `stonks import mlflow <source>`: runs of an MLflow tracking store, either a
 * SQLite database (`mlflow.db`, `sqlite:///mlflow.db`) or a file store (an
 * `mlruns` folder: experiments with a meta.yaml, runs with a meta.yaml and
 * params/, tags/, metrics/ files). Both come out the same way (docs/migrating.md):
 * params become config (a value that is a whole number stays a number, so
 * `config.lr < 0.01` works), user tags become `key=value` tags, and the
 * `mlflow.*` system tags that stonks has a place for fill it.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";
import { type MlflowDatabase, type MlflowMetricRow, openMlflowDatabase } from "../store/mlflow-database.js";
import type { Config } from "../types.js";
import { mlflowStatus, paramValue, splitMlflowTags } from "./mlflow-values.js";
import {
  type ForeignReader,
  type ForeignRun,
  type ForeignSeries,
  type ForeignSource,
  ImportSourceError,
} from "./model.js";

const WHAT_TO_PASS = "pass an mlruns folder, an MLflow SQLite database (mlflow.db) or sqlite:///path/to/mlflow.db";

/** Points of one run grouped by key, each key in the order it was logged; timestamps in ms become seconds. */
function metricSeries(rows: Iterable<MlflowMetricRow>): Record<string, ForeignSeries> {
  const grouped = new Map<string, { steps: number[]; values: number[]; times: number[] }>();
  for (const row of rows) {
    let series = grouped.get(row.key);
    if (series === undefined) {
      series = { steps: [], values: [], times: [] };
      grouped.set(row.key, series);
    }
    series.steps.push(row.step);
    series.values.push(row.value);
    series.times.push(row.timestampMs / 1000);
  }
  const metrics: Record<string, ForeignSeries> = Object.create(null);
  for (const [key, series] of grouped) {
    metrics[key] = {
      steps: Float64Array.from(series.steps),
      values: Float64Array.from(series.values),
      times: Float64Array.from(series.times),
    };
  }
  return metrics;
}

interface RunParts {
  runId: string;
  experiment: string;
  name: string | null;
  status: string;
  startMs: number | null;
  endMs: number | null;
  params: Iterable<[string, string]>;
  tags: Iterable<[string, string | null]>;
  metrics: Iterable<MlflowMetricRow>;
}

function foreignRun(run: RunParts, runNames: ReadonlyMap<string, string | null>): ForeignRun {
  const tags = splitMlflowTags(run.tags);
  const config: Config = {};
  for (const [key, value] of run.params) config[key] = paramValue(value);
  const status = mlflowStatus(run.status);
  const createdAt = (run.startMs ?? 0) / 1000;
  const parent = tags.parentRunId;
  return {
    sourceKey: run.runId,
    experiment: run.experiment,
    name: run.name || tags.name,
    config,
    tags: tags.tags,
    // Nested runs (a sweep's trials) are grouped under their parent run's name.
    group: parent === null ? null : (runNames.get(parent) ?? parent),
    jobType: null,
    notes: tags.notes,
    createdAt,
    status,
    endedAt: status === "running" || run.endMs === null ? null : run.endMs / 1000,
    provenance: tags.provenance,
    metrics: metricSeries(run.metrics),
  };
}

function sqliteSource(database: MlflowDatabase): ForeignSource {
  const rows = database.runs();
  const names = new Map(rows.map((row) => [row.runId, row.name]));
  return {
    runCount: rows.length,
    async *runs() {
      for (const row of rows) {
        yield foreignRun(
          {
            runId: row.runId,
            experiment: row.experiment,
            name: row.name,
            status: row.status,
            startMs: row.startTime === null ? null : Number(row.startTime),
            endMs: row.endTime === null ? null : Number(row.endTime),
            params: database.params(row.runId),
            tags: database.tags(row.runId),
            metrics: database.metrics(row.runId),
          },
          names,
        );
      }
    },
    close: () => database.close(),
  };
}

/**
 * The flat `key: value` mapping of an MLflow meta.yaml (yaml.safe_dump of a
 * dict of scalars): plain, 'single' and "double" quoted scalars, and plain
 * ones folded over indented lines, all read as text (`tags: []` too).
 */
export function parseMetaYaml(text: string): Record<string, string | null> {
  const lines = text.split(/\r?\n/);
  const meta: Record<string, string | null> = {};
  for (let i = 0; i < lines.length; i++) {
    const match = /^([A-Za-z_][\w]*):(?:\s+(.*))?$/.exec(lines[i] ?? "");
    if (match === null) continue;
    let raw = (match[2] ?? "").trim();
    while (i + 1 < lines.length && /^\s+\S/.test(lines[i + 1] ?? "")) raw += ` ${(lines[++i] ?? "").trim()}`;
    meta[match[1] as string] = yamlScalar(raw);
  }
  return meta;
}

function yamlScalar(raw: string): string | null {
  if (raw === "" || raw === "null" || raw === "~") return null;
  if (raw.startsWith("'") && raw.endsWith("'") && raw.length >= 2) return raw.slice(1, -1).replace(/''/g, "'");
  if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) {
    return JSON.parse(raw.replace(/\\x([0-9a-fA-F]{2})/g, "\\u00$1")) as string;
  }
  return raw;
}

function readMeta(path: string): Record<string, string | null> | null {
  try {
    return parseMetaYaml(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
}

/** Files under dir with their paths relative to it as keys ("val/acc" for metrics/val/acc). */
function keyedFiles(dir: string, prefix = ""): [string, string][] {
  if (!existsSync(dir)) return [];
  const files: [string, string][] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...keyedFiles(path, `${prefix}${entry.name}/`));
    else if (entry.isFile()) files.push([`${prefix}${entry.name}`, path]);
  }
  return files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** How much of a metric file is read at a time. */
const METRIC_FILE_BLOCK = 1 << 20;

/**
 * A file's lines, read a block at a time: a metric file of a long run is hundreds of megabytes,
 * more than one string can hold (V8's limit is 512 MiB), and read whole it was held two or three
 * times over (the text, its lines, their rows) while the run's points were gathered.
 */
export function* fileLines(file: string, blockSize = METRIC_FILE_BLOCK): Generator<string> {
  const fd = openSync(file, "r");
  try {
    const block = Buffer.alloc(blockSize);
    const decoder = new StringDecoder("utf8");
    let rest = "";
    for (;;) {
      const filled = readSync(fd, block, 0, blockSize, null);
      if (filled === 0) break;
      const lines = (rest + decoder.write(block.subarray(0, filled))).split("\n");
      rest = lines.pop() as string;
      yield* lines;
    }
    rest += decoder.end();
    if (rest !== "") yield rest;
  } finally {
    closeSync(fd);
  }
}

/** A metric file's lines: "timestamp value step" (MLflow before 1.0 wrote no step: 0). */
function* metricFileRows(key: string, file: string): Generator<MlflowMetricRow> {
  for (const line of fileLines(file)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2) continue;
    yield {
      key,
      timestampMs: Number(fields[0]),
      value: Number.parseFloat(fields[1] as string),
      step: fields[2] === undefined ? 0 : Number(fields[2]),
    };
  }
}

interface FileRun {
  dir: string;
  experiment: string;
  meta: Record<string, string | null>;
}

function fileStoreRuns(root: string): FileRun[] {
  const runs: FileRun[] = [];
  for (const experimentDir of readdirSync(root, { withFileTypes: true })) {
    if (!experimentDir.isDirectory() || experimentDir.name.startsWith(".")) continue;
    const experimentPath = join(root, experimentDir.name);
    const experiment = readMeta(join(experimentPath, "meta.yaml"));
    if (experiment?.name == null || experiment.lifecycle_stage === "deleted") continue;
    for (const runDir of readdirSync(experimentPath, { withFileTypes: true })) {
      if (!runDir.isDirectory()) continue;
      const dir = join(experimentPath, runDir.name);
      const meta = readMeta(join(dir, "meta.yaml"));
      if (meta === null || meta.lifecycle_stage === "deleted") continue;
      runs.push({ dir, experiment: experiment.name, meta });
    }
  }
  return runs.sort(
    (a, b) => Number(a.meta.start_time ?? 0) - Number(b.meta.start_time ?? 0) || (a.dir < b.dir ? -1 : 1),
  );
}

function readText(file: string): string {
  return readFileSync(file, "utf8");
}

function fileRunId(run: FileRun): string {
  return run.meta.run_id ?? run.meta.run_uuid ?? (run.dir.split(sep).pop() as string);
}

function fileRunName(run: FileRun): string | null {
  if (run.meta.run_name) return run.meta.run_name;
  const tag = join(run.dir, "tags", "mlflow.runName");
  return existsSync(tag) ? readText(tag) : null;
}

function fileStoreSource(runs: FileRun[]): ForeignSource {
  const names = new Map(runs.map((run) => [fileRunId(run), fileRunName(run)]));
  return {
    runCount: runs.length,
    async *runs() {
      for (const run of runs) {
        const metricFiles = keyedFiles(join(run.dir, "metrics"));
        yield foreignRun(
          {
            runId: fileRunId(run),
            experiment: run.experiment,
            name: run.meta.run_name ?? null,
            status: run.meta.status ?? "FINISHED",
            startMs: run.meta.start_time == null ? null : Number(run.meta.start_time),
            endMs: run.meta.end_time == null ? null : Number(run.meta.end_time),
            params: keyedFiles(join(run.dir, "params")).map(([key, file]): [string, string] => [key, readText(file)]),
            tags: keyedFiles(join(run.dir, "tags")).map(([key, file]): [string, string] => [key, readText(file)]),
            // Row by row into the run's series, a file at a time (not every row of the run at once).
            metrics: (function* () {
              for (const [key, file] of metricFiles) yield* metricFileRows(key, file);
            })(),
          },
          names,
        );
      }
    },
  };
}

/** The local path a source names: a path, a file: URI, or sqlite:///relative and sqlite:////absolute. */
function sourcePath(source: string): { path: string; sqlite: boolean } {
  if (source.startsWith("sqlite:///")) return { path: source.slice("sqlite:///".length), sqlite: true };
  if (source.startsWith("file:")) return { path: fileURLToPath(source), sqlite: false };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(source);
  if (scheme !== null) {
    throw new ImportSourceError(
      `stonks imports MLflow stores on this machine, not ${scheme[1]}:// ones; ${WHAT_TO_PASS} (or point your MLflow client at stonks serve).`,
    );
  }
  return { path: source, sqlite: false };
}

export const readMlflow: ForeignReader = async (source) => {
  const { path, sqlite } = sourcePath(source);
  if (!existsSync(path)) throw new ImportSourceError(`No MLflow store at ${path}; ${WHAT_TO_PASS}.`);
  if (statSync(path).isDirectory()) {
    if (sqlite) throw new ImportSourceError(`${path} is a folder, not an MLflow SQLite database; ${WHAT_TO_PASS}.`);
    const root = existsSync(join(path, "mlruns")) ? join(path, "mlruns") : path;
    const runs = fileStoreRuns(root);
    if (runs.length === 0 && !readdirSync(root).some((name) => existsSync(join(root, name, "meta.yaml")))) {
      throw new ImportSourceError(
        `${path} holds no MLflow experiments (folders with a meta.yaml); pass the mlruns folder MLflow wrote.`,
      );
    }
    return fileStoreSource(runs);
  }
  let database: MlflowDatabase | null;
  try {
    database = openMlflowDatabase(path);
  } catch (error) {
    throw new ImportSourceError(
      `${path} is not an MLflow SQLite database (${(error as Error).message.split("\n")[0]}); ${WHAT_TO_PASS}.`,
    );
  }
  if (database === null) {
    throw new ImportSourceError(
      `${path} is a SQLite file without MLflow's tables (experiments, runs, params, tags, metrics); ${WHAT_TO_PASS}.`,
    );
  }
  return sqliteSource(database);
};
