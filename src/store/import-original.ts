/**
 * Reading a database written by the original stonks package (pjhartout/stonks,
 * both of its schema versions) and writing its projects, experiments, runs and
 * points into a stonks file. docs/cli.md (`stonks import`) states the rules.
 */
import { randomUUID } from "node:crypto";
import { StonksError } from "../errors.js";
import type { ImportSummary } from "../types.js";
import { type Db, isOriginalStonksLayout, runImmediate, stmt, tableColumns } from "./connection.js";
import { openConnection } from "./driver.js";
import { appendPoints, COLOR_INDEX_SQL, ensureSeries, nextRevision } from "./writes.js";

export interface OriginalProject {
  id: string;
  name: string;
  createdAt: number;
}

export interface OriginalExperiment {
  id: string;
  name: string;
  description: string | null;
  createdAt: number;
  projectId: string | null;
}

export interface OriginalRun {
  id: string;
  experimentId: string;
  name: string | null;
  status: string;
  config: string | null;
  createdAt: number;
  endedAt: number | null;
  lastHeartbeat: number | null;
  group: string | null;
  jobType: string | null;
  tags: string | null;
  notes: string | null;
}

export interface OriginalContents {
  /** 1: experiments, runs, metrics only (the original up to aee933e); 2: with projects, tags, notes, group, job type. */
  schema: 1 | 2;
  projects: OriginalProject[];
  experiments: OriginalExperiment[];
  runs: OriginalRun[];
}

/**
 * Opens a file of the original package read-only. Anything else (a stonks file,
 * another program's file) is refused with one line.
 */
export function openOriginal(path: string): Db {
  let db: Db;
  try {
    db = openConnection(path, { readonly: true });
  } catch (error) {
    throw new StonksError(`Cannot open ${path}: ${(error as Error).message}`);
  }
  let original: boolean;
  try {
    original = isOriginalStonksLayout(tableColumns(db));
  } catch (error) {
    db.close();
    throw new StonksError(`${path} is not a SQLite database (${(error as Error).message}); nothing was imported.`);
  }
  if (!original) {
    db.close();
    throw new StonksError(
      `${path} was not written by the original stonks package (it lacks its experiments, runs and metrics tables); nothing was imported.`,
    );
  }
  return db;
}

/** Every project, experiment and run of an original file, oldest first. */
export function readOriginal(source: Db): OriginalContents {
  const columns = tableColumns(source);
  const runColumns = columns.get("runs") ?? [];
  const has = (column: string) => runColumns.includes(column);
  const schema = columns.has("projects") ? 2 : 1;
  const projects =
    schema === 2
      ? (source
          .prepare("SELECT id, name, created_at AS createdAt FROM projects ORDER BY created_at, id")
          .all() as OriginalProject[])
      : [];
  const projectColumn = (columns.get("experiments") ?? []).includes("project_id") ? "project_id" : "NULL";
  const experiments = source
    .prepare(
      `SELECT id, name, description, created_at AS createdAt, ${projectColumn} AS projectId FROM experiments ORDER BY created_at, id`,
    )
    .all() as OriginalExperiment[];
  // A first-schema file has none of these columns; the original's newer code adds them as NULL.
  const optional = (column: string, as: string) => (has(column) ? `${column} AS ${as}` : `NULL AS ${as}`);
  const runs = source
    .prepare(
      `SELECT id, experiment_id AS experimentId, name, status, config, created_at AS createdAt, ended_at AS endedAt,
         last_heartbeat AS lastHeartbeat, ${optional("group_name", '"group"')}, ${optional("job_type", "jobType")},
         ${optional("tags", "tags")}, ${optional("notes", "notes")}
       FROM runs ORDER BY created_at, id`,
    )
    .all() as OriginalRun[];
  return { schema, projects, experiments, runs };
}

/** Points of one run, per key in logging order (metrics.id); NULL values are the NaN the original stored. */
interface RunPoints {
  series: Map<string, { steps: number[]; values: number[]; times: number[] }>;
  points: number;
  skipped: number;
}

function readRunPoints(source: Db, runId: string): RunPoints {
  const series: RunPoints["series"] = new Map();
  let points = 0;
  let skipped = 0;
  const rows = source
    .prepare("SELECT key, value, step, timestamp FROM metrics WHERE run_id = ? ORDER BY id")
    .raw(true)
    .iterate(runId) as Iterable<[string, number | null, number, number]>;
  for (const [key, value, step, time] of rows) {
    if (value === null) {
      skipped++;
      continue;
    }
    let one = series.get(key);
    if (one === undefined) {
      one = { steps: [], values: [], times: [] };
      series.set(key, one);
    }
    one.steps.push(Number(step));
    one.values.push(value);
    one.times.push(time);
    points++;
  }
  return { series, points, skipped };
}

/** Counts of points of one run without reading them: for a dry run. */
function countRunPoints(source: Db, runId: string): { points: number; skipped: number } {
  const row = source
    .prepare("SELECT COUNT(value) AS points, COUNT(*) - COUNT(value) AS skipped FROM metrics WHERE run_id = ?")
    .get(runId) as { points: number; skipped: number };
  return { points: Number(row.points), skipped: Number(row.skipped) };
}

function parseJson(text: string | null, runId: string, what: string): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new StonksError(
      `Run ${runId} of the original file has ${what} that is not JSON; nothing of it was imported.`,
    );
  }
}

/** The original's config (JSON object or NULL) as our config text: NULL becomes {}. */
function configText(run: OriginalRun): string {
  const config = parseJson(run.config, run.id, "a config");
  if (config === null) return "{}";
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new StonksError(
      `Run ${run.id} of the original file has a config that is not an object; nothing of it was imported.`,
    );
  }
  return JSON.stringify(config);
}

/** The original's tags (JSON list, '[]' or NULL) as our tags text: NULL and '[]' both become []. */
function tagsText(run: OriginalRun): string {
  const tags = parseJson(run.tags, run.id, "tags");
  if (tags === null) return "[]";
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === "string")) {
    throw new StonksError(
      `Run ${run.id} of the original file has tags that are not a list of text; nothing of it was imported.`,
    );
  }
  return JSON.stringify(tags);
}

function findByName(target: Db | null, table: "projects" | "experiments", name: string): string | null {
  if (target === null) return null;
  const row = stmt(target, `SELECT id FROM ${table} WHERE name = ?`).get(name) as { id: string } | undefined;
  return row?.id ?? null;
}

function idTaken(target: Db, table: "projects" | "experiments", id: string): boolean {
  return stmt(target, `SELECT 1 FROM ${table} WHERE id = ?`).get(id) !== undefined;
}

function runPresent(target: Db | null, id: string): boolean {
  return target !== null && stmt(target, "SELECT 1 FROM runs WHERE id = ?").get(id) !== undefined;
}

/**
 * Brings an original file's contents into a stonks file. Projects and
 * experiments are matched by name (kept when the target has one of that name,
 * else created with the original's id and time); an experiment is linked to
 * its project only when this creates it. Runs keep their ids; a run the target
 * already holds is left as it is, so importing again adds nothing. Each run is
 * written with all its points in one transaction. With `target` null (a dry
 * run into a file that does not exist yet) or `dryRun`, nothing is written and
 * the summary says what would be.
 */
export function importOriginal(source: Db, target: Db | null, dryRun: boolean): ImportSummary {
  const contents = readOriginal(source);
  const summary: ImportSummary = { projects: 0, experiments: 0, runs: 0, points: 0, skippedPoints: 0, presentRuns: 0 };
  const write = !dryRun && target !== null;

  const projectIds = new Map<string, string>();
  const experimentIds = new Map<string, string>();
  const createContainers = () => {
    for (const project of contents.projects) {
      let id = findByName(target, "projects", project.name);
      if (id === null) {
        summary.projects++;
        id = target !== null && idTaken(target, "projects", project.id) ? randomUUID() : project.id;
        if (write) {
          stmt(target, "INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)").run(
            id,
            project.name,
            project.createdAt,
          );
        }
      }
      projectIds.set(project.id, id);
    }
    for (const experiment of contents.experiments) {
      let id = findByName(target, "experiments", experiment.name);
      if (id === null) {
        summary.experiments++;
        id = target !== null && idTaken(target, "experiments", experiment.id) ? randomUUID() : experiment.id;
        const projectId = experiment.projectId === null ? null : (projectIds.get(experiment.projectId) ?? null);
        if (write) {
          stmt(
            target,
            "INSERT INTO experiments (id, name, description, created_at, project_id) VALUES (?, ?, ?, ?, ?)",
          ).run(id, experiment.name, experiment.description, experiment.createdAt, projectId);
        }
      }
      experimentIds.set(experiment.id, id);
    }
  };
  if (write) runImmediate(target, createContainers);
  else createContainers();

  for (const run of contents.runs) {
    if (runPresent(target, run.id)) {
      summary.presentRuns++;
      continue;
    }
    const experimentId = experimentIds.get(run.experimentId);
    if (experimentId === undefined) {
      throw new StonksError(
        `Run ${run.id} of the original file belongs to no experiment of it; nothing of it was imported.`,
      );
    }
    const config = configText(run);
    const tags = tagsText(run);
    if (!write) {
      const counts = countRunPoints(source, run.id);
      summary.runs++;
      summary.points += counts.points;
      summary.skippedPoints += counts.skipped;
      continue;
    }
    const points = readRunPoints(source, run.id);
    runImmediate(target, () => {
      // RETURNING rather than the last insert id, which PostgreSQL's driver does not have.
      const runSeq = stmt(
        target,
        `INSERT INTO runs (id, experiment_id, name, status, config, tags, group_name, job_type, notes,
           created_at, ended_at, last_heartbeat, revision, color_index)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${COLOR_INDEX_SQL})
         RETURNING seq`,
        "values",
      ).get(
        run.id,
        experimentId,
        run.name,
        run.status,
        config,
        tags,
        run.group,
        run.jobType,
        run.notes,
        run.createdAt,
        run.endedAt,
        run.lastHeartbeat,
        nextRevision(target),
        experimentId,
      ) as number;
      for (const [key, one] of points.series) {
        appendPoints(
          target,
          ensureSeries(target, runSeq, key),
          Float64Array.from(one.steps),
          Float64Array.from(one.values),
          Float64Array.from(one.times),
        );
      }
    });
    summary.runs++;
    summary.points += points.points;
    summary.skippedPoints += points.skipped;
  }
  return summary;
}
