/**
 * A throwaway PostgreSQL for one test file: initdb into a temporary folder,
 * started with its socket there (no TCP port), stopped by stop(). PostgreSQL
 * refuses to run as root, so as root it runs as nobody. Kept small on purpose:
 * the team harness (tests/support/postgres.ts) replaces it.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./helpers.js";

export interface PgCluster {
  /** Socket folder: connect with postgresql://postgres@/DB?host=<socketDir>. */
  socketDir: string;
  /** Creates an empty database and returns its URL. */
  newDatabase(): string;
  /** Stops the server (immediately) and deletes its folder. */
  stop(): void;
}

const asPostgresUser = (command: string, args: string[]): [string, string[]] =>
  process.getuid?.() === 0 ? ["runuser", ["-u", "nobody", "--", command, ...args]] : [command, args];

function run(command: string, args: string[]): void {
  const [file, argv] = asPostgresUser(command, args);
  execFileSync(file, argv, { stdio: ["ignore", "ignore", "pipe"], cwd: "/tmp" });
}

let databases = 0;

export function startPgCluster(): PgCluster {
  if (!existsSync(join(ROOT, "dist", "store", "pg", "worker.js"))) {
    throw new Error("the PostgreSQL driver's worker is not built: run npm run build first");
  }
  // /tmp, not os.tmpdir(): a unix socket path must stay under about 100 bytes.
  const dir = mkdtempSync("/tmp/stonks-pg-");
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]);
  const options = `-k ${dir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  run("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"]);
  const url = (db: string) => `postgresql://postgres@/${db}?host=${encodeURIComponent(dir)}`;
  return {
    socketDir: dir,
    newDatabase() {
      const name = `stonks_${process.pid}_${++databases}`;
      execFileSync("psql", ["-q", "-d", url("postgres"), "-c", `CREATE DATABASE ${name}`], { stdio: "ignore" });
      return url(name);
    },
    stop() {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
