/** `stonks import` behind the service layer: reads a file of the original stonks package into a stonks file. */
import { existsSync } from "node:fs";
import { type Db, isPostgresUrl, openDatabase } from "../store/connection.js";
import { importOriginal, openOriginal } from "../store/import-original.js";
import type { ImportSummary } from "../types.js";

/**
 * Imports `sourcePath` (written by the original package) into `targetPath`.
 * A dry run writes nothing and does not create the target file: one that does
 * not exist yet counts as empty.
 */
export function importOriginalFile(sourcePath: string, targetPath: string, dryRun: boolean): ImportSummary {
  const source = openOriginal(sourcePath);
  let target: Db | null = null;
  try {
    if (isPostgresUrl(targetPath)) {
      // A PostgreSQL database always exists: opened as every first open does (its tables made if
      // missing), so that a dry run counts what it already holds.
      target = openDatabase(targetPath);
    } else if (!dryRun || existsSync(targetPath)) target = openDatabase(targetPath, { readonly: dryRun });
    return importOriginal(source, target, dryRun);
  } finally {
    target?.close();
    source.close();
  }
}
