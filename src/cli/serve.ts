/** `stonks serve` and `stonks demo`. */
import { existsSync } from "node:fs";
import { openDatabase } from "../store/connection.js";
import { getExperiment } from "../store/reads.js";
import { resolveDbPath } from "../util/db-path.js";
import { CliError, parseIntegerOption } from "./common.js";
import { DEMO_EXPERIMENTS, writeDemoData } from "./demo.js";
import { formatCount } from "./format.js";

/** Where demo data goes unless --db says otherwise: never the user's own stonks.db. */
export const DEMO_DB_PATH = "./stonks-demo.db";

/** Writes the demo data into a new or demo-free database. */
export function demoCommand(options: { db?: string }): void {
  const path = options.db ?? DEMO_DB_PATH;
  const started = Date.now();
  const db = openDatabase(path);
  try {
    const taken = DEMO_EXPERIMENTS.filter((name) => getExperiment(db, name) !== null);
    if (taken.length > 0) {
      throw new CliError(`${path} already has the demo experiment "${taken[0]}"; choose another file with --db.`);
    }
    const summary = writeDemoData(db);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `Wrote ${summary.experiments} experiments, ${summary.runs} runs and ${formatCount(summary.points)} points to ${path} in ${seconds} s.\n` +
        `Look at them: stonks serve --db ${path}\n`,
    );
  } finally {
    db.close();
  }
}

export interface ServeOptions {
  db?: string;
  host: string;
  port: string;
  token?: string;
  allowOrigin: string[];
  demo?: boolean;
}

export async function serveCommand(options: ServeOptions): Promise<void> {
  const port = parseIntegerOption("--port", options.port, 0, 65535);
  // An empty --token or STONKS_TOKEN means no token, as an unset one does.
  const token = options.token || process.env.STONKS_TOKEN || null;
  const allowOrigins =
    options.allowOrigin.length > 0
      ? options.allowOrigin
      : (process.env.STONKS_ALLOW_ORIGINS ?? "").split(",").filter((o) => o.trim() !== "");
  let dbPath = resolveDbPath(options.db);
  if (options.demo) {
    dbPath = options.db ?? DEMO_DB_PATH;
    if (!existsSync(dbPath)) demoCommand({ db: dbPath });
  }
  // The server (Hono, zod) loads only here, so other commands start faster.
  const { startServer } = await import("../server/index.js");
  const server = await startServer({
    dbPath,
    host: options.host,
    port,
    token,
    allowOrigins: allowOrigins.map((o) => o.trim()),
  });
  const dashboard = token === null ? `${server.url}/` : `${server.url}/?token=${encodeURIComponent(token)}`;
  process.stdout.write(
    `stonks is serving ${dbPath}\n  dashboard: ${dashboard}\n  api:       ${server.url}/api\nPress Ctrl+C to stop.\n`,
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
