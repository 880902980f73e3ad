/** `stonks import`: brings a database written by the original stonks package into a stonks file. */
import { existsSync, realpathSync } from "node:fs";
import { resolve } from "node:path";
import { importOriginalFile } from "../query/import.js";
import type { ImportSummary } from "../types.js";
import { resolveDbPath } from "../util/db-path.js";
import { CliError, type DbOption } from "./common.js";
import { formatCount } from "./format.js";

function samePath(a: string, b: string): boolean {
  const real = (path: string) => (existsSync(path) ? realpathSync(path) : resolve(path));
  return real(a) === real(b);
}

function plural(count: number, one: string, many: string): string {
  return `${formatCount(count)} ${count === 1 ? one : many}`;
}

function summaryLine(summary: ImportSummary, source: string, target: string, dryRun: boolean): string {
  const what = [
    plural(summary.projects, "project", "projects"),
    plural(summary.experiments, "experiment", "experiments"),
    plural(summary.runs, "run", "runs"),
    plural(summary.points, "point", "points"),
  ].join(", ");
  const skipped = `skipped ${plural(summary.skippedPoints, "NaN point", "NaN points")} and ${plural(summary.presentRuns, "run", "runs")} already there`;
  return dryRun
    ? `Would import ${what} from ${source} into ${target}; ${skipped}. Nothing was written (--dry-run).`
    : `Imported ${what} from ${source} into ${target}; ${skipped}.`;
}

export function importCommand(file: string, options: DbOption & { dryRun?: boolean }): void {
  const dryRun = options.dryRun === true;
  const targetPath = resolveDbPath(options.db);
  if (!existsSync(file))
    throw new CliError(`No file at ${file}. Pass the path of a database the original stonks wrote.`);
  if (samePath(file, targetPath)) {
    throw new CliError(`${file} is both the file to import and the target; pass another target with --db NEW.db.`);
  }
  const summary = importOriginalFile(file, targetPath, dryRun);
  process.stdout.write(`${summaryLine(summary, file, targetPath, dryRun)}\n`);
}
