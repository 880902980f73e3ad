/** Read-only commands: ls, runs, info, export. */
import { createWriteStream, openSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import {
  allOf,
  displayStatus,
  parseDisplayStatuses,
  parseWhere,
  type RunView,
  type WhereExpression,
  WhereSyntaxError,
} from "../query/run-filter.js";
import { openService } from "../query/service.js";
import { experimentJson, pointsJson, runJson } from "../server/json.js";
import type { DatabaseCounts, Experiment } from "../types.js";
import { resolveDbPath } from "../util/db-path.js";
import { CliError, type DbOption, fileSize, findRun, printJson, writeAll } from "./common.js";
import { formatBytes, formatCount, formatDuration, formatTable, formatTime, shortId } from "./format.js";

export function listExperimentsCommand(options: DbOption & { json?: boolean }): void {
  const db = openService(resolveDbPath(options.db));
  try {
    const experiments = db.listExperiments();
    const projectNames = new Map(db.listProjects().map((p) => [p.id, p.name]));
    const projectOf = (e: Experiment) => (e.projectId === null ? null : (projectNames.get(e.projectId) ?? null));
    if (options.json) {
      printJson(experiments.map((e) => ({ ...experimentJson(e), project: projectOf(e) })));
      return;
    }
    if (experiments.length === 0) {
      process.stdout.write(`No experiments in ${db.path} yet. Log a run, or try \`stonks demo\`.\n`);
      return;
    }
    process.stdout.write(
      `${formatTable(experiments, [
        // Without projects the column would only say "-" on every line.
        ...(projectNames.size === 0
          ? []
          : [{ header: "PROJECT", value: (e: Experiment) => projectOf(e) ?? "-", max: 40 }]),
        { header: "EXPERIMENT", value: (e) => e.name, max: 60 },
        { header: "RUNS", value: (e) => formatCount(e.runCount), right: true },
        { header: "CREATED", value: (e) => formatTime(e.createdAt) },
        { header: "ID", value: (e) => shortId(e.id) },
      ])}\n`,
    );
  } finally {
    db.close();
  }
}

/** Every --where must hold; a mistake is one line that points at its column. */
function whereOption(texts: readonly string[]): WhereExpression | undefined {
  return allOf(
    texts.map((text) => {
      try {
        return parseWhere(text);
      } catch (error) {
        if (!(error instanceof WhereSyntaxError)) throw error;
        throw new CliError(
          `--where ${JSON.stringify(text)} ${error.message} (the language: docs/query-language.md, e.g. --where 'config.lr < 0.01 AND status = completed').`,
        );
      }
    }),
  );
}

export function listRunsCommand(
  experimentName: string,
  options: DbOption & { json?: boolean; status: string[]; tag: string[]; where: string[] },
): void {
  const db = openService(resolveDbPath(options.db));
  try {
    const experiment = db.getExperiment(experimentName);
    if (experiment === null) {
      throw new CliError(`No experiment "${experimentName}" in ${db.path}. See the list with \`stonks ls\`.`);
    }
    const { runs } = db.queryRuns(experiment.id, {
      statuses: parseDisplayStatuses("--status", options.status),
      tags: options.tag,
      where: whereOption(options.where),
    });
    if (options.json) {
      printJson(runs.map(runJson));
      return;
    }
    if (runs.length === 0) {
      process.stdout.write(`No runs in ${experiment.name} match.\n`);
      return;
    }
    process.stdout.write(
      `${formatTable(runs, [
        { header: "ID", value: (r) => shortId(r.id) },
        { header: "NAME", value: (r) => r.name ?? "-", max: 40 },
        { header: "STATUS", value: (r) => displayStatus(r) },
        { header: "CREATED", value: (r) => formatTime(r.createdAt) },
        { header: "DURATION", value: (r) => formatDuration(r.duration), right: true },
        {
          header: "POINTS",
          value: (r) => formatCount(Object.values(r.summary).reduce((n, s) => n + s.count, 0)),
          right: true,
        },
        { header: "TAGS", value: (r) => r.tags.join(","), max: 40 },
      ])}\n`,
    );
  } finally {
    db.close();
  }
}

export function infoCommand(options: DbOption & { json?: boolean }): void {
  const db = openService(resolveDbPath(options.db));
  const path = db.path;
  let counts: DatabaseCounts;
  let serverBytes: number | null;
  try {
    counts = db.counts();
    serverBytes = db.serverDatabaseBytes();
  } finally {
    db.close();
  }
  // A PostgreSQL database has no file: its size is what the server reports, as in `stonks gc`.
  const fileBytes = serverBytes ?? fileSize(path);
  const walBytes = fileSize(`${path}-wal`);
  if (options.json) {
    printJson({
      path,
      file_bytes: fileBytes,
      wal_bytes: walBytes,
      schema_version: counts.schemaVersion,
      experiments: counts.experiments,
      runs: counts.runs,
      runs_by_status: counts.runsByStatus,
      series: counts.series,
      points: counts.points,
      metric_keys: counts.metricKeys,
      free_bytes: counts.freePages * counts.pageSize,
    });
    return;
  }
  const byStatus = Object.entries(counts.runsByStatus)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${formatCount(n)} ${status}`)
    .join(", ");
  const lines: [string, string][] = [
    ["database", path],
    ["file size", `${formatBytes(fileBytes)} (+ ${formatBytes(walBytes)} write-ahead log)`],
    ["reclaimable", `${formatBytes(counts.freePages * counts.pageSize)} (stonks gc)`],
    ["schema version", String(counts.schemaVersion)],
    ["experiments", formatCount(counts.experiments)],
    ["runs", `${formatCount(counts.runs)}${byStatus === "" ? "" : ` (${byStatus})`}`],
    ["metric series", formatCount(counts.series)],
    ["points", formatCount(counts.points)],
  ];
  const width = Math.max(...lines.map(([label]) => label.length));
  process.stdout.write(`${lines.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n")}\n`);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Opens the export file now, so a missing folder or a read-only place ends in one line before any work. */
function outputFile(path: string): WriteStream {
  let fd: number;
  try {
    fd = openSync(path, "w");
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === "ENOENT" ? "its folder does not exist" : (error as Error).message;
    throw new CliError(`Cannot write ${path}: ${reason}. Choose another file with -o.`);
  }
  return createWriteStream(path, { fd });
}

export async function exportCommand(
  runText: string,
  options: DbOption & { format: string; output?: string },
): Promise<void> {
  if (options.format !== "csv" && options.format !== "json" && options.format !== "parquet") {
    throw new CliError(`--format must be csv, json or parquet; got "${options.format}".`);
  }
  if (options.format === "parquet") {
    await exportParquetCommand(runText, options.output, options.db);
    return;
  }
  const db = openService(resolveDbPath(options.db));
  try {
    const found = findRun(db, runText);
    if (found === null) {
      throw new CliError(`No run "${runText}" in ${db.path}. Find ids with \`stonks runs <experiment>\`.`);
    }
    // Narrowing does not reach into the generator below; this binding keeps the non-null type.
    const row: RunView = found;
    const keys = db.getMetricKeys(row.id);
    const out = options.output === undefined ? process.stdout : outputFile(options.output);
    const format = options.format;
    function* pieces(): Generator<string> {
      if (format === "json") {
        const run = JSON.stringify(runJson(row));
        yield `{"run":${run},"metrics":{`;
        for (const [i, key] of keys.entries()) {
          yield `${i === 0 ? "" : ","}${JSON.stringify(key)}:${JSON.stringify(pointsJson(db.getMetrics(row.id, key)))}`;
        }
        yield "}}\n";
        return;
      }
      yield "key,step,value,timestamp\n";
      for (const key of keys) {
        const series = db.getMetrics(row.id, key);
        const field = csvField(key);
        const batch: string[] = [];
        for (let i = 0; i < series.values.length; i++) {
          batch.push(`${field},${series.steps[i]},${series.values[i]},${series.timestamps[i]}\n`);
          if (batch.length === 10_000) yield batch.splice(0).join("");
        }
        if (batch.length > 0) yield batch.join("");
      }
    }
    try {
      await writeAll(out, pieces());
      if (out !== process.stdout) {
        await new Promise<void>((resolve, reject) =>
          out.end((error?: Error | null) => (error ? reject(error) : resolve())),
        );
      }
    } catch (error) {
      if (out === process.stdout) throw error;
      throw new CliError(`Cannot write ${options.output}: ${(error as Error).message}`);
    }
    if (out !== process.stdout) {
      process.stderr.write(`Exported run ${row.id} (${keys.length} metrics) to ${options.output}\n`);
    }
  } finally {
    db.close();
  }
}

/** A run (id or prefix) or an experiment (name or id): the runs a Parquet export holds. */
async function exportParquetCommand(
  target: string,
  output: string | undefined,
  dbPath: string | undefined,
): Promise<void> {
  const db = openService(resolveDbPath(dbPath));
  try {
    const run = findRun(db, target);
    const experiment = run === null ? db.getExperiment(target) : null;
    if (run === null && experiment === null) {
      throw new CliError(
        `No run or experiment "${target}" in ${db.path}. See \`stonks ls\` and \`stonks runs <experiment>\`.`,
      );
    }
    const runs =
      run !== null
        ? [run]
        : db.queryRuns((experiment as Experiment).id, { sort: { kind: "created_at" }, order: "asc" }).runs;
    const { exportParquet } = await import("./export-parquet.js");
    const written = await exportParquet(db, runs, output);
    process.stderr.write(
      `Exported ${formatCount(written.runs)} ${written.runs === 1 ? "run" : "runs"} and ${formatCount(written.points)} points to ${join(written.folder, "runs.parquet")} and ${join(written.folder, "points.parquet")}\n`,
    );
  } finally {
    db.close();
  }
}
