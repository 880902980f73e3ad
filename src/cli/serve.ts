/** `stonks serve` and `stonks demo`. */
import { readFileSync } from "node:fs";
import { openService } from "../query/service.js";
import { redactUrl, resolveDbPath } from "../util/db-path.js";
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
  // The file's tokens are secrets nobody can print again: say how to open the dashboard with one.
  const tokens =
    token === null && server.fileHasTokens
      ? `  tokens:    this file's tokens are required; open the dashboard as ${server.url}/?token=<secret>\n`
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
