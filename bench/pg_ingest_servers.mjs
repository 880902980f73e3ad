// Aggregate ingest from 50 writer processes through one server and through two servers, SQLite backend beside
// PostgreSQL backend, in one run (issue 14, part 6). 25 Python and 25 TypeScript processes (the writer of
// bench/remote_many.mjs: bench/remote_writers.mjs) each log 4 metrics × STEPS points in remote mode to real
// `stonks serve` processes on 127.0.0.1 (with two servers, process i writes to server i mod 2, as a load balancer
// would spread them) and finish. Measured per round: points/s from the first process start until every point is
// durable (every process exited after finish(), every point acknowledged, the stored counts add up), the same from
// the release of the started processes, and each server's own time to accept a points batch (STONKS_TIMING_LOG).
// Every round checks exactly-once: each series read back through GET /api/runs/{id}/metrics holds steps
// 0..STEPS-1, each once. SQLite: one file, "two servers" = two servers on one file; PostgreSQL: one database of a
// private cluster under /tmp (bench/pg_cluster.mjs: fsync off, shared_buffers 2GB), pools of the default size (4).
// Every round starts on a fresh file / database; configurations rotate between rounds.
//
//   npm run build && node bench/pg_ingest_servers.mjs [--write]   (RUNS=3 rounds, medians; STEPS=30000 per process)
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startBenchCluster, tuningText } from "./pg_cluster.mjs";
import { KEYS, STEPS, spawnChild } from "./remote_writers.mjs";
import { writeResultsBlock } from "./results.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = Number(process.env.RUNS ?? 3);
const WRITERS = Number(process.env.WRITERS ?? 50);
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STONKS_")));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const log = (line) =>
  console.log(`[${new Date().toISOString().slice(11, 19)} load ${loadavg()[0].toFixed(1)}] ${line}`);

async function startServe(target, timingLog) {
  const child = spawn(process.execPath, [join(REPO, "dist/cli/main.js"), "serve", "--db", target, "--port", "0"], {
    env: { ...baseEnv, STONKS_TIMING_LOG: timingLog },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((ready, fail) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /api:\s+(http:\/\/\S+?)\/api\s/.exec(out);
      if (match) ready(match[1]);
    });
    child.on("exit", () => fail(new Error(`serve exited: ${out}`)));
  });
  return {
    url,
    timingLog,
    async stop() {
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Points the server holds for these runs, by its sync counts. */
async function storedOnServer(url, runIds) {
  let total = 0;
  for (const id of runIds) {
    const response = await fetch(`${url}/api/runs/${id}/sync`);
    if (response.status !== 200) continue;
    const { series } = await response.json();
    total += Object.values(series).reduce((sum, n) => sum + n, 0);
  }
  return total;
}

/** Every series of every run holds steps 0..STEPS-1, each exactly once. */
async function checkExactlyOnce(url, runIds) {
  let total = 0;
  for (const id of runIds) {
    for (const key of KEYS) {
      const response = await fetch(`${url}/api/runs/${id}/metrics?key=${encodeURIComponent(key)}`);
      if (response.status !== 200) throw new Error(`run ${id} ${key}: HTTP ${response.status}`);
      const { steps } = await response.json();
      const distinct = new Set(steps);
      if (steps.length !== STEPS || distinct.size !== STEPS || Math.max(...steps) !== STEPS - 1) {
        throw new Error(`run ${id} ${key}: ${steps.length} points, ${distinct.size} distinct steps; expected ${STEPS}`);
      }
      total += steps.length;
    }
  }
  return total;
}

async function round(target, servers, roundDir) {
  const running = [];
  for (let s = 0; s < servers; s++) running.push(await startServe(target, join(roundDir, `timing-${s}.log`)));
  try {
    const expected = WRITERS * STEPS * KEYS.length;
    const t0 = performance.now();
    const children = [];
    for (let i = 0; i < WRITERS; i++) {
      const env = { ...baseEnv, STONKS_SPOOL_DIR: join(roundDir, `spool-${i}`) };
      children.push(spawnChild(i % 2 === 0 ? "py" : "ts", running[i % servers].url, env));
    }
    const runIds = await Promise.all(children.map((c) => c.ready));
    const released = performance.now();
    for (const c of children) c.child.stdin.end("go\n");
    let done = Math.max(...(await Promise.all(children.map((c) => c.exited))));
    const deadline = performance.now() + 120_000;
    while ((await storedOnServer(running[0].url, runIds)) < expected) {
      if (performance.now() > deadline) throw new Error("points still missing after 120 s");
      await new Promise((wait) => setTimeout(wait, 20));
      done = performance.now();
    }
    const stored = await checkExactlyOnce(running[servers - 1].url, runIds);
    if (stored !== expected) throw new Error(`${stored} points stored, ${expected} logged`);
    const accept = [];
    let failed = 0;
    for (const server of running) {
      for (const line of readFileSync(server.timingLog, "utf8").trim().split("\n")) {
        const [, took, status] = line.split(" ");
        accept.push(Number(took));
        if (status !== "200") failed++;
      }
    }
    const warnings = children.map((c) => c.stderr()).filter((e) => e.trim() !== "");
    for (const warning of warnings.slice(0, 3)) log(`  writer stderr: ${warning.trim().slice(0, 300)}`);
    return {
      expected,
      total: expected / ((done - t0) / 1000),
      logging: expected / ((done - released) / 1000),
      p50: quantile(accept, 0.5),
      p99: quantile(accept, 0.99),
      batches: accept.length,
      failed,
      warnings: warnings.length,
    };
  } finally {
    await Promise.all(running.map((s) => s.stop()));
  }
}

const dir = mkdtempSync("/tmp/stonks-bench-ingest-");
const cluster = await startBenchCluster();
const configs = [
  { backend: "SQLite", servers: 1 },
  { backend: "SQLite", servers: 2 },
  { backend: "PostgreSQL", servers: 1 },
  { backend: "PostgreSQL", servers: 2 },
];
const rounds = new Map(configs.map((c) => [`${c.backend}/${c.servers}`, []]));
try {
  for (let r = 0; r < RUNS; r++) {
    for (let k = 0; k < configs.length; k++) {
      const config = configs[(k + r) % configs.length];
      const roundDir = join(dir, `round-${r}-${k}`);
      mkdirSync(roundDir);
      let target = join(roundDir, "server.db");
      if (config.backend === "PostgreSQL") {
        await cluster.query(`CREATE DATABASE ingest_${r}_${k}`);
        target = cluster.url(`ingest_${r}_${k}`);
      }
      const load = loadavg()[0];
      const result = { ...(await round(target, config.servers, roundDir)), load };
      rounds.get(`${config.backend}/${config.servers}`).push(result);
      log(
        `round ${r + 1}, ${config.backend}, ${config.servers} server(s): ${fmt(result.total)} points/s from first start, ` +
          `${fmt(result.logging)} from release; accept p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms; ` +
          `${result.batches} batches, ${result.failed} non-200, ${result.warnings} writers with stderr`,
      );
      if (config.backend === "PostgreSQL") await cluster.query(`DROP DATABASE ingest_${r}_${k}`);
      rmSync(roundDir, { recursive: true, force: true });
    }
  }
} finally {
  cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}

const cell = (key, field, digits = 0) => {
  const values = rounds.get(key).map((x) => x[field]);
  return digits === 0 ? fmt(median(values)) : median(values).toFixed(digits);
};
const loads = [...rounds.values()].flat().map((x) => x.load);
const text = `Command: \`STEPS=${STEPS} RUNS=${RUNS} node bench/pg_ingest_servers.mjs --write\`, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, PostgreSQL ${cluster.version}, ${cpus().length} cores (the 2-core VM, shared with other engineers' work: load average at round starts ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}, median ${median(loads).toFixed(1)}). ${WRITERS / 2} Python and ${WRITERS / 2} TypeScript processes in remote mode, each one run of ${KEYS.length} metrics × ${fmt(STEPS)} steps (${fmt(WRITERS * KEYS.length * STEPS)} points a round), each with its own spool directory; with two servers, process i writes to server i mod 2. Every round on a fresh SQLite file / PostgreSQL database; every point checked stored exactly once. PostgreSQL: private cluster on 127.0.0.1 under /tmp (${tuningText()}; fsync off is for the benchmark only), pool of 4 connections per server. Medians of ${RUNS} rounds, configurations rotating.

| measure | SQLite, 1 server | SQLite, 2 servers on one file | PostgreSQL, 1 server | PostgreSQL, 2 servers on one database |
|---|---|---|---|---|
| aggregate, first process start → every point durable (points/s) | ${configs.map((c) => cell(`${c.backend}/${c.servers}`, "total")).join(" | ")} |
| aggregate, processes released → every point durable (points/s) | ${configs.map((c) => cell(`${c.backend}/${c.servers}`, "logging")).join(" | ")} |
| server: time to accept a points batch, p50 (ms) | ${configs.map((c) => cell(`${c.backend}/${c.servers}`, "p50", 1)).join(" | ")} |
| server: time to accept a points batch, p99 (ms) | ${configs.map((c) => cell(`${c.backend}/${c.servers}`, "p99", 1)).join(" | ")} |
| batches per round | ${configs.map((c) => cell(`${c.backend}/${c.servers}`, "batches")).join(" | ")} |
| non-200 batches, all rounds | ${configs.map((c) => rounds.get(`${c.backend}/${c.servers}`).reduce((n, x) => n + x.failed, 0)).join(" | ")} |`;
console.log(text);
if (process.argv.includes("--write")) {
  writeResultsBlock(
    "## PostgreSQL backend (bench/pg_*.mjs)",
    "The PostgreSQL storage backend (src/store/pg): how its write path was chosen and what it costs.",
    "pg-ingest-servers",
    `### 50 writer processes through one and two servers, SQLite beside PostgreSQL (bench/pg_ingest_servers.mjs)\n\n${text}`,
  );
}
