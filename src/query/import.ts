/** `stonks import` behind the service layer: reads a file of the original stonks package into a stonks file. */
import { existsSync } from "node:fs";
import { type Db, openDatabase } from "../store/connection.js";
import { importOriginal, openOriginal } from "../store/import-original.js";
import type { ImportSummary } from "../types.js";

/**
 * Imports `sourcePath` (written by the original package) into `targetPath`.
 * A dry run writes nothing and does not create the target: one that does not
 * exist yet counts as empty.
 */
export function importOriginalFile(sourcePath: string, targetPath: string, dryRun: boolean): ImportSummary {
  const source = openOriginal(sourcePath);
  let target: Db | null = null;
  try {
    if (!dryRun || existsSync(targetPath)) target = openDatabase(targetPath, { readonly: dryRun });
    return importOriginal(source, target, dryRun);
  } finally {
    target?.close();
    source.close();
  }
}
