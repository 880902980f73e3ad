/**
 * `stonks import <kind> <source>`: brings another tracker's runs into a stonks
 * store (src/interop/ reads them, src/query/import-foreign.ts writes them).
 * `stonks import FILE` with a single argument is the original stonks package's
 * database, as before.
 */
import { existsSync } from "node:fs";
import { ImportSourceError } from "../interop/model.js";
import { FOREIGN_READERS, importKinds } from "../interop/readers.js";
import { type ForeignImportSummary, importForeign } from "../query/import-foreign.js";
import { openService, type StonksService } from "../query/service.js";
import { isPostgresUrl, resolveDbPath } from "../util/db-path.js";
import { logger } from "../util/logger.js";
import { CliError, type DbOption } from "./common.js";
import { formatCount } from "./format.js";
import { progressBar } from "./progress.js";

export interface ImportOptions extends DbOption {
  dryRun?: boolean;
  experiment?: string;
}

function plural(count: number, one: string, many: string): string {
  return `${formatCount(count)} ${count === 1 ? one : many}`;
}

export function foreignSummaryLine(
  summary: ForeignImportSummary,
  kind: string,
  source: string,
  target: string,
  dryRun: boolean,
): string {
  const what = [
    plural(summary.experiments, "experiment", "experiments"),
    plural(summary.runs, "run", "runs"),
    plural(summary.points, "point", "points"),
  ].join(", ");
  const skipped = `skipped ${plural(summary.skippedRuns, "run", "runs")} already there and ${plural(summary.skippedPoints, "point", "points")} that cannot be stored`;
  return dryRun
    ? `Would import ${what} from ${kind} ${source} into ${target}; ${skipped}. Nothing was written (--dry-run).`
    : `Imported ${what} from ${kind} ${source} into ${target}; ${skipped}.`;
}

export async function importCommand(
  kindOrFile: string,
  source: string | undefined,
  options: ImportOptions,
): Promise<void> {
  if (source === undefined) {
    if (FOREIGN_READERS[kindOrFile] !== undefined) {
      throw new CliError(`Say what to import: stonks import ${kindOrFile} <source>.`);
    }
    (await import("./import-original.js")).importCommand(kindOrFile, options);
    return;
  }
  const load = FOREIGN_READERS[kindOrFile];
  if (load === undefined) {
    throw new CliError(`stonks cannot import "${kindOrFile}"; use one of: ${importKinds().join(", ")}.`);
  }
  const dryRun = options.dryRun === true;
  const target = resolveDbPath(options.db);
  let reader: Awaited<ReturnType<typeof load>>;
  let opened: Awaited<ReturnType<Awaited<ReturnType<typeof load>>>>;
  try {
    reader = await load();
    opened = await reader(source);
  } catch (error) {
    if (error instanceof ImportSourceError) throw new CliError(error.message);
    throw error;
  }
  let service: StonksService | null = null;
  const progress = progressBar(`importing ${kindOrFile}`);
  try {
    if (!dryRun) service = openService(target, { create: true });
    // A PostgreSQL database always exists: opened as a first open does, so a dry run counts what it holds.
    else if (isPostgresUrl(target)) service = openService(target);
    else if (existsSync(target)) service = openService(target, { readonly: true });
    const summary = await importForeign(opened, service, {
      kind: kindOrFile,
      experiment: options.experiment,
      dryRun,
      onRun: (runs) => progress.update(runs, opened.runCount, "runs"),
      onRepair: (repair) => logger.warn(repair.message),
    });
    progress.finish();
    process.stdout.write(`${foreignSummaryLine(summary, kindOrFile, source, target, dryRun)}\n`);
  } catch (error) {
    progress.finish();
    if (error instanceof ImportSourceError) throw new CliError(error.message);
    throw error;
  } finally {
    service?.close();
    await opened.close?.();
  }
}
