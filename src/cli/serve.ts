/** `stonks serve` and `stonks demo`. */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { DatabaseUnavailableError } from "../errors.js";
import { openService } from "../query/service.js";
import { isPostgresUrl, redactUrl, resolveDbPath } from "../util/db-path.js";
import { CliError, parseIntegerOption } from "./common.js";
import { DEMO_EXPERIMENTS, writeDemoData } from "./demo.js";
import { formatCount } from "./format.js";

/**
 * Adds the demo experiments to the database, once: the demo goes into the file
 * the user's own runs go to (--db > STONKS_DB > ./stonks.db), so one dashboard
 * shows both. Returns whether anything was written.
 */
function addDemoData(path: string): boolean {
  const started = Date.now();
  const db = openService(path, { create: true });
  try {
    if (DEMO_EXPERIMENTS.every((name) => db.getExperiment(name) !== null)) {
      process.stdout.write(`${path} already has the demo experiments; nothing added.\n`);
      return false;
    }
    const summary = writeDemoData(db);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `Wrote ${summary.experiments} experiments, ${summary.runs} runs and ${formatCount(summary.points)} points to ${path} in ${seconds} s.\n`,
    );
    return true;
  } finally {
    db.close();
  }
}

export function demoCommand(options: { db?: string }): void {
  const path = resolveDbPath(options.db);
  addDemoData(path);
  process.stdout.write(`Look at them: ${options.db === undefined ? "stonks serve" : `stonks serve --db ${path}`}\n`);
}

export interface ServeOptions {
  db?: string;
  host: string;
  port: string;
  token?: string;
  allowOrigin: string[];
  demo?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  pgPool?: string;
  waitForDb?: string;
}

/** How long `stonks serve` keeps trying a PostgreSQL that cannot be reached at start, unless told otherwise. */
export const DEFAULT_WAIT_FOR_DB_SECONDS = 60;
/** Pause between two connection attempts while waiting for PostgreSQL. */
const WAIT_FOR_DB_RETRY_MS = 1000;

function waitForDbSeconds(options: ServeOptions): number {
  if (options.waitForDb !== undefined) return parseIntegerOption("--wait-for-db", options.waitForDb, 0, 86_400);
  const fromEnv = process.env.STONKS_WAIT_FOR_DB;
  if (fromEnv === undefined || fromEnv === "") return DEFAULT_WAIT_FOR_DB_SECONDS;
  return parseIntegerOption("STONKS_WAIT_FOR_DB", fromEnv, 0, 86_400);
}

/**
 * Waits until PostgreSQL answers (and the schema is migrated), for up to
 * `seconds`: docker-compose starts the database and the servers at once, and
 * a server that exits at once would race it. Says so once on stderr; gives up
 * with one line. Other failures (a wrong password, a database that does not
 * exist) end it at once: waiting does not mend them.
 */
async function waitForDatabase(url: string, seconds: number, pgPoolSize: number | undefined): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let said = false;
  for (;;) {
    try {
      openService(url, { create: true, pgPoolSize }).close();
      if (said) process.stderr.write(`stonks: PostgreSQL at ${redactUrl(url)} answers; starting.\n`);
      return;
    } catch (error) {
      if (!(error instanceof DatabaseUnavailableError) || seconds === 0) throw error;
      if (Date.now() + WAIT_FOR_DB_RETRY_MS > deadline) {
        throw new CliError(
          `Cannot connect to PostgreSQL at ${redactUrl(url)} within ${seconds} s: ${error.reason}. Start PostgreSQL or fix the URL (--db or STONKS_DB); --wait-for-db SECONDS waits longer.`,
        );
      }
      if (!said) {
        process.stderr.write(
          `stonks: PostgreSQL at ${redactUrl(url)} cannot be reached (${error.reason}); trying again for up to ${seconds} s (--wait-for-db).\n`,
        );
        said = true;
      }
      await sleep(WAIT_FOR_DB_RETRY_MS);
    }
  }
}

/** The certificate and key files of --tls-cert and --tls-key, read now so a mistake stops the start. */
function readTls(options: ServeOptions): { cert: Buffer; key: Buffer } | undefined {
  if (options.tlsCert === undefined && options.tlsKey === undefined) return undefined;
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    throw new CliError("HTTPS needs both --tls-cert FILE and --tls-key FILE.");
  }
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new CliError(
        `Cannot read ${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
      );
    }
  };
  return { cert: read("--tls-cert", options.tlsCert), key: read("--tls-key", options.tlsKey) };
}

export async function serveCommand(options: ServeOptions): Promise<void> {
  const port = parseIntegerOption("--port", options.port, 0, 65535);
  // An empty --token or STONKS_TOKEN means no token, as an unset one does.
  const token = options.token || process.env.STONKS_TOKEN || null;
  const allowOrigins =
    options.allowOrigin.length > 0
      ? options.allowOrigin
      : (process.env.STONKS_ALLOW_ORIGINS ?? "").split(",").filter((o) => o.trim() !== "");
  const dbPath = resolveDbPath(options.db);
  const pgPoolSize =
    options.pgPool === undefined ? undefined : parseIntegerOption("--pg-pool", options.pgPool, 1, 1000);
  const tls = readTls(options);
  const waitSeconds = waitForDbSeconds(options);
  if (isPostgresUrl(dbPath)) await waitForDatabase(dbPath, waitSeconds, pgPoolSize);
  if (options.demo) addDemoData(dbPath);
  // The server (Hono, zod) loads only here, so other commands start faster.
  const { startServer } = await import("../server/index.js");
  const server = await startServer({
    dbPath,
    host: options.host,
    port,
    token,
    allowOrigins: allowOrigins.map((o) => o.trim()),
    tls,
    pgPoolSize,
  });
  const dashboard = token === null ? `${server.url}/` : `${server.url}/?token=${encodeURIComponent(token)}`;
  // The stored tokens are secrets nobody can print again: say how to open the dashboard with one.
  const holder = isPostgresUrl(dbPath) ? "this database's" : "this file's";
  const tokens =
    token === null && server.fileHasTokens
      ? `  tokens:    ${holder} tokens are required; open the dashboard as ${server.url}/?token=<secret>\n`
      : "";
  process.stdout.write(
    `stonks is serving ${redactUrl(dbPath)}\n  dashboard: ${dashboard}\n  api:       ${server.url}/api\n${tokens}Press Ctrl+C to stop.\n`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`\n${signal}: stopping…\n`);
    void server.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
