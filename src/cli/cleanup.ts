/** Commands that remove data: delete, gc. */
import { parseDisplayStatuses } from "../query/run-filter.js";
import { openService, type StonksService } from "../query/service.js";
import type { GcCriteria, RunStatus } from "../types.js";
import { redactUrl, resolveDbPath } from "../util/db-path.js";
import { DEFAULT_STALE_AFTER_S } from "../util/staleness.js";
import { CliError, confirm, type DbOption, fileSize, findRun } from "./common.js";
import { formatBytes, formatCount } from "./format.js";

function pointsOfRun(db: StonksService, runId: string): number {
  return db.getSummaries(runId).reduce((n, s) => n + s.count, 0);
}

/** Deletes a run (by id or id prefix) or an experiment (by name or id). */
export async function deleteCommand(target: string, options: DbOption & { force?: boolean }): Promise<void> {
  const db = openService(resolveDbPath(options.db));
  try {
    const run = findRun(db, target);
    if (run !== null) {
      const label = `run ${run.id}${run.name === null ? "" : ` (${run.name})`}`;
      const question = `Delete ${label} and its ${formatCount(pointsOfRun(db, run.id))} points?`;
      if (!options.force && !(await confirm(question))) {
        process.stderr.write("Nothing deleted.\n");
        return;
      }
      db.deleteRuns([run.id]);
      process.stdout.write(`Deleted ${label}.\n`);
      return;
    }
    const experiment = db.getExperiment(target);
    if (experiment === null) {
      throw new CliError(
        `No run or experiment "${target}" in ${db.path}. See \`stonks ls\` and \`stonks runs <experiment>\`.`,
      );
    }
    const question = `Delete experiment ${experiment.name} with its ${formatCount(experiment.runCount)} runs?`;
    if (!options.force && !(await confirm(question))) {
      process.stderr.write("Nothing deleted.\n");
      return;
    }
    const deleted = db.deleteExperiment(experiment.id) ?? 0;
    process.stdout.write(`Deleted experiment ${experiment.name} (${formatCount(deleted)} runs).\n`);
  } finally {
    db.close();
  }
}

/** --status values to store criteria: "stale" is a running run with an old heartbeat. */
function gcCriteria(beforeDays: string | undefined, statusText: string | undefined, now: number): GcCriteria {
  const criteria: GcCriteria = {};
  if (beforeDays !== undefined) {
    const days = Number(beforeDays);
    if (beforeDays.trim() === "" || !Number.isFinite(days) || days < 0) {
      throw new CliError(`--before takes a number of days (0 or more); got "${beforeDays}".`);
    }
    criteria.createdBefore = now - days * 86400;
  }
  if (statusText !== undefined) {
    const wanted = parseDisplayStatuses("--status", [statusText]);
    const stored = new Set(wanted.filter((s): s is RunStatus => s !== "stale"));
    if (wanted.includes("stale") && !stored.has("running")) {
      stored.add("running");
      criteria.staleBefore = now - DEFAULT_STALE_AFTER_S;
    }
    criteria.statuses = [...stored];
  }
  return criteria;
}

function fileBytes(path: string): number {
  return fileSize(path) + fileSize(`${path}-wal`);
}

/** Deletes runs matching the criteria, then compacts the file. */
export async function gcCommand(
  options: DbOption & { before?: string; status?: string; force?: boolean },
): Promise<void> {
  const criteria = gcCriteria(options.before, options.status, Date.now() / 1000);
  const db = openService(resolveDbPath(options.db));
  try {
    const sizeBefore = db.serverDatabaseBytes() ?? fileBytes(db.path);
    const filtered = criteria.createdBefore !== undefined || criteria.statuses !== undefined;
    const candidates = filtered ? db.gcCandidates(criteria) : [];
    if (candidates.length > 0) {
      const points = candidates.reduce((n, c) => n + c.points, 0);
      const question = `Delete ${formatCount(candidates.length)} runs with ${formatCount(points)} points?`;
      if (!options.force && !(await confirm(question))) {
        process.stderr.write("Nothing deleted.\n");
        return;
      }
      db.deleteRuns(candidates.map((c) => c.id));
      db.deleteEmptyExperiments();
    }
    db.compact();
    const sizeAfter = db.serverDatabaseBytes() ?? fileBytes(db.path);
    process.stdout.write(
      `Deleted ${formatCount(candidates.length)} runs; ${redactUrl(db.path)}: ${formatBytes(sizeBefore)} -> ${formatBytes(sizeAfter)}.\n`,
    );
  } finally {
    db.close();
  }
}
