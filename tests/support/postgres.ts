/**
 * A real PostgreSQL for the tests. CI (.ci/run) starts one server for the
 * whole run and exports its URL as STONKS_TEST_PG; each test file gets its own
 * fresh database on it (useTestDatabase), dropped after the file. Without
 * STONKS_TEST_PG (a developer's machine) the first test file of a process
 * starts a private cluster instead, so the suites always run against a real
 * server. Fault tests that stop and restart PostgreSQL start a private
 * cluster of their own (startPrivateCluster).
 *
 * PostgreSQL refuses to run as root: under root the server runs as
 * STONKS_TEST_PG_OS_USER, else the `postgres` user Debian's package makes,
 * else `nobody`, with its data directory and unix socket under /tmp.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";

const run = promisify(execFile);

/** Superuser of every cluster the harness makes (initdb -U). */
const SUPERUSER = "postgres";

/** Where Debian keeps the server binaries (initdb and pg_ctl are not on PATH there); newest version first. */
function binDir(): string {
  if (process.env.STONKS_PG_BIN) return process.env.STONKS_PG_BIN;
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(root, versions[0], "bin");
  }
  try {
    return execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(
      "No PostgreSQL server binaries (initdb, pg_ctl) found: install Debian's postgresql package, set STONKS_PG_BIN, or set STONKS_TEST_PG to a server's URL.",
    );
  }
}

function osUser(): string | null {
  if (process.getuid?.() !== 0) return null;
  if (process.env.STONKS_TEST_PG_OS_USER) return process.env.STONKS_TEST_PG_OS_USER;
  try {
    execFileSync("id", ["-u", "postgres"], { stdio: "ignore" });
    return "postgres";
  } catch {
    return "nobody";
  }
}

/** Runs a PostgreSQL program, as the non-root user when this process is root. */
async function pgProgram(name: string, args: string[], user: string | null): Promise<string> {
  const program = join(binDir(), name);
  const [file, argv] = user === null ? [program, args] : ["runuser", ["-u", user, "--", program, ...args]];
  try {
    const { stdout } = await run(file, argv, { encoding: "utf8" });
    return stdout;
  } catch (error) {
    const failed = error as { stderr?: string; message: string };
    throw new Error(`${name} ${args.join(" ")} failed: ${failed.stderr || failed.message}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()));
    });
  });
}

export interface PgCluster {
  port: number;
  /** Holds the data directory and the unix socket. */
  dir: string;
  /** The URL of one of its databases (default: postgres). */
  url(database?: string): string;
  /** Stops the server: "fast" ends sessions cleanly, "immediate" is a crash (recovery at the next start). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port (nothing when it runs). */
  start(): Promise<void>;
  /** Stops it and removes its files. */
  destroy(): Promise<void>;
}

/**
 * Stops the cluster and removes its files once this process is gone, however
 * it ends: a test process that times out is killed without running its
 * afterAll or exit handlers.
 */
const WATCHDOG = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
if [ -n "$5" ]; then runuser -u "$5" -- "$2" -D "$3" -m immediate stop; else "$2" -D "$3" -m immediate stop; fi >/dev/null 2>&1
rm -rf "$4"`;

function startWatchdog(dir: string, data: string, user: string | null): ChildProcess {
  const watchdog = spawn(
    "sh",
    ["-c", WATCHDOG, "watchdog", String(process.pid), join(binDir(), "pg_ctl"), data, dir, user ?? ""],
    { detached: true, stdio: "ignore" },
  );
  watchdog.unref();
  return watchdog;
}

/**
 * A throwaway cluster (initdb, then pg_ctl start) on a free port of 127.0.0.1;
 * no password (trust). `settings` are more `-c name=value` server settings, e.g.
 * synchronous_commit=on for a test that crashes the server and counts what
 * survived, or a small max_connections.
 */
export async function startPrivateCluster(settings: Record<string, string> = {}): Promise<PgCluster> {
  const user = osUser();
  const dir = mkdtempSync("/tmp/stonks-testpg-");
  if (user !== null) {
    const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  await pgProgram(
    "initdb",
    ["-D", data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
    user,
  );
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off${Object.entries(
    settings,
  )
    .map(([name, value]) => ` -c ${name}=${value}`)
    .join("")}`;
  let running = false;
  const watchdog = startWatchdog(dir, data, user);
  const cluster: PgCluster = {
    port,
    dir,
    url: (database = "postgres") => `postgresql://${SUPERUSER}@127.0.0.1:${port}/${database}`,
    async start() {
      if (running) return;
      await pgProgram(
        "pg_ctl",
        ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "-o", options, "start"],
        user,
      );
      running = true;
    },
    async stop(mode = "fast") {
      if (!running) return;
      await pgProgram("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"], user);
      running = false;
    },
    async destroy() {
      watchdog.kill();
      await cluster.stop("immediate");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}

let fallback: Promise<PgCluster> | null = null;
/** Test databases on the private cluster not dropped yet: the last one dropped stops it. */
let fallbackUsers = 0;

/** The server's URL (any database on it): STONKS_TEST_PG, else this process's private cluster. */
async function serverUrl(): Promise<string> {
  const shared = process.env.STONKS_TEST_PG;
  if (shared !== undefined && shared !== "") return shared;
  fallback ??= startPrivateCluster();
  return (await fallback).url();
}

/** The same server's URL with another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Runs one statement on the server's maintenance database. */
export async function adminQuery(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops it, ending any session still connected. */
  drop(): Promise<void>;
}

let databases = 0;

/**
 * A new empty database with a name no other test process uses: on `cluster`,
 * else on the test server. Dropping the last one made on this process's
 * private cluster stops that cluster.
 */
export async function createTestDatabase(cluster?: PgCluster): Promise<TestDatabase> {
  const server = cluster === undefined ? await serverUrl() : cluster.url();
  const onFallback = cluster === undefined && fallback !== null;
  databases += 1;
  const name = `stonks_test_${process.pid}_${databases}_${Math.random().toString(36).slice(2, 8)}`;
  await adminQuery(server, `CREATE DATABASE ${name}`);
  if (onFallback) fallbackUsers += 1;
  let dropped = false;
  return {
    name,
    url: withDatabase(server, name),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await adminQuery(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      if (!onFallback) return;
      fallbackUsers -= 1;
      if (fallbackUsers > 0 || fallback === null) return;
      const privateCluster = await fallback;
      fallback = null;
      await privateCluster.destroy();
    },
  };
}

/** A fresh database for the calling test file: made before its tests, dropped after them. Returns a getter for its URL. */
export function useTestDatabase(): () => string {
  let database: TestDatabase | null = null;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
    database = null;
  });
  return () => {
    if (database === null) throw new Error("the test database exists only while the file's tests run");
    return database.url;
  };
}
