// A private PostgreSQL cluster for the PostgreSQL benchmarks (bench/pg_ingest_servers.mjs, bench/pg_reads_scale.mjs):
// initdb into /tmp, started on a unix socket and a free port of 127.0.0.1, tuned for bulk loading on this machine.
// fsync, synchronous_commit and full_page_writes are off: a crash could lose or corrupt the benchmark's data, which
// is thrown away anyway; the numbers are those of a server whose disk never makes a writer wait. PostgreSQL refuses
// to run as root: under root the server runs as `nobody` (STONKS_BENCH_PG_OS_USER to change).
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import pg from "pg";

export const TUNING = {
  shared_buffers: "2GB",
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
  wal_level: "minimal",
  max_wal_senders: "0",
  max_wal_size: "8GB",
  checkpoint_timeout: "30min",
  work_mem: "32MB",
  maintenance_work_mem: "512MB",
  max_connections: "200",
};

function binDir() {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(root, versions[0], "bin");
  }
  return execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts the cluster; returns { url(database), version, settings, stop() } (stop removes its files). */
export async function startBenchCluster() {
  const user = process.getuid?.() === 0 ? (process.env.STONKS_BENCH_PG_OS_USER ?? "nobody") : null;
  const as = (program, args) => {
    const file = join(binDir(), program);
    return user === null
      ? execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      : execFileSync("runuser", ["-u", user, "--", file, ...args], {
          encoding: "utf8",
          cwd: "/tmp",
          stdio: ["ignore", "pipe", "pipe"],
        });
  };
  const dir = mkdtempSync("/tmp/stonks-bench-pg-");
  if (user !== null) {
    const id = (flag) => Number(execFileSync("id", [flag, user], { encoding: "utf8" }).trim());
    chownSync(dir, id("-u"), id("-g"));
  }
  const data = join(dir, "data");
  as("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
  const port = await freePort();
  const settings = Object.entries(TUNING)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(" ");
  as("pg_ctl", [
    "-D",
    data,
    "-l",
    join(dir, "server.log"),
    "-w",
    "-t",
    "120",
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 ${settings}`,
    "start",
  ]);
  const url = (database = "postgres") => `postgresql://postgres@127.0.0.1:${port}/${database}`;
  const client = new pg.Client({ connectionString: url() });
  await client.connect();
  const version = (await client.query("SHOW server_version")).rows[0].server_version;
  await client.end();
  return {
    url,
    version,
    dir,
    async query(sql, database = "postgres") {
      const c = new pg.Client({ connectionString: url(database) });
      await c.connect();
      try {
        return await c.query(sql);
      } finally {
        await c.end();
      }
    },
    stop() {
      try {
        as("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "120", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The settings as one line for RESULTS.md. */
export const tuningText = () =>
  Object.entries(TUNING)
    .map(([name, value]) => `${name}=${value}`)
    .join(", ");
