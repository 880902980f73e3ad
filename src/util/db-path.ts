import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";

/** Database location rule shared by the SDK, open() and the CLI: explicit > STONKS_DB > ./stonks.db. */
export function resolveDbPath(explicit?: string | null): string {
  if (explicit !== undefined && explicit !== null && explicit !== "") return explicit;
  const fromEnv = process.env.STONKS_DB;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return "./stonks.db";
}

/** Whether a database target is a PostgreSQL URL (else it is a SQLite file path). */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

export function isRemoteUrl(target: string): boolean {
  return /^https?:\/\//i.test(target);
}

/** The server URL without trailing slashes, so "http://h:1/" and "http://h:1" share one spool. */
export function normalizeServerUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

/** Folder of the spool files: STONKS_SPOOL_DIR, else ${XDG_CACHE_HOME:-~/.cache}/stonks/spool. */
export function spoolDir(): string {
  const explicit = process.env.STONKS_SPOOL_DIR;
  if (explicit !== undefined && explicit !== "") return explicit;
  const cache = process.env.XDG_CACHE_HOME;
  return join(cache !== undefined && cache !== "" ? cache : join(homedir(), ".cache"), "stonks", "spool");
}

/**
 * The local spool file of a server URL: one per server, shared by every process
 * that logs to it (docs/remote.md). Python computes the same name.
 */
export function spoolPathFor(url: string): string {
  const digest = createHash("sha256").update(normalizeServerUrl(url)).digest("hex").slice(0, 16);
  return join(spoolDir(), `${digest}.db`);
}
