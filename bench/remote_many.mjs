// Many processes logging at once to one server (issue 13): 25 Python and 25 TypeScript processes each log
// METRICS × STEPS points to one real `stonks serve` on 127.0.0.1 and finish; aggregate points/s until every point is
// durable on the server, the server's own time to accept each points batch (STONKS_TIMING_LOG, docs/remote.md), and
// the same 50 processes writing to one local SQLite file in the same run for the ratio.
// Run: npm run build && node bench/remote_many.mjs [--write]   (RUNS=3 rounds, medians; STEPS=5000 per process;
// SHARED_SPOOL=1 gives all processes the one default spool of the URL instead of one spool directory each;
// SERVER_PROF=dir runs the server under node --cpu-prof, profiles written to dir).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { KEYS, STEPS, spawnChild } from "./remote_writers.mjs";
import { writeResultsBlock } from "./results.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PER_LANGUAGE = Number(process.env.PER_LANGUAGE ?? 25);

const RUNS = Number(process.env.RUNS ?? 3);
const SHARED_SPOOL = process.env.SHARED_SPOOL === "1";
const dir = mkdtempSync(join(tmpdir(), "stonks-bench-many-"));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STONKS_")));

async function startServer(dbPath, port, timingLog, profileDir) {
  const args = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const child = spawn(
    process.execPath,
    [...args, join(REPO, "dist/cli/main.js"), "serve", "--db", dbPath, "--port", String(port)],
    {
      env: { ...baseEnv, ...(timingLog ? { STONKS_TIMING_LOG: timingLog } : {}) },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise((ready, fail) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (/api:\s+http/.test(out)) ready();
    });
    child.on("exit", () => fail(new Error(`serve exited: ${out}`)));
  });
  return child;
}

async function stopServer(child) {
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM");
  await exited;
}

/** Every series of every run holds steps 0..STEPS-1, each exactly once, read back through the server's read API. */
async function pointsOnServer(url, runIds) {
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

/**
 * One round: every process started, then released together. `total` runs from the first spawn, `logging` from the
 * release (process and interpreter start, imports and run creation left out), both until every point is durable:
 * the last process exited after finish() and (remote) the server's stored counts add up.
 */
async function round(mode, db, url, roundDir) {
  const expected = PER_LANGUAGE * 2 * STEPS * KEYS.length;
  const t0 = performance.now();
  const children = [];
  for (let i = 0; i < PER_LANGUAGE * 2; i++) {
    const env = { ...baseEnv };
    if (mode === "server" && !SHARED_SPOOL) env.STONKS_SPOOL_DIR = join(roundDir, `spool-${i}`);
    if (mode === "server" && SHARED_SPOOL) env.STONKS_SPOOL_DIR = join(roundDir, "spool");
    children.push(spawnChild(i % 2 === 0 ? "py" : "ts", db, env));
  }
  const runIds = await Promise.all(children.map((c) => c.ready));
  const released = performance.now();
  for (const c of children) c.child.stdin.end("go\n");
  let done = Math.max(...(await Promise.all(children.map((c) => c.exited))));
  if (mode === "server") {
    const deadline = performance.now() + 120_000;
    while ((await storedOnServer(url, runIds)) < expected) {
      if (performance.now() > deadline) throw new Error("points still missing on the server after 120 s");
      await new Promise((wait) => setTimeout(wait, 20));
      done = performance.now();
    }
  }
  const warnings = children.map((c) => c.stderr()).filter((e) => e.trim() !== "");
  return { runIds, expected, total: (done - t0) / 1000, logging: (done - released) / 1000, warnings };
}

const port = 20000 + Math.floor(Math.random() * 20000);
const url = `http://127.0.0.1:${port}`;
const results = { server: [], local: [], accept: [] };
const loads = [];
const profileDir = process.env.SERVER_PROF ? resolve(process.env.SERVER_PROF) : null;
try {
  for (let r = 0; r < RUNS; r++) {
    const roundDir = join(dir, `round-${r}`);
    mkdirSync(roundDir);
    loads.push(loadavg()[0]);
    const timingLog = join(roundDir, "timing.log");
    const server = await startServer(join(roundDir, "server.db"), port, timingLog, profileDir);
    let remote;
    try {
      remote = await round("server", url, url, roundDir);
      const stored = await pointsOnServer(url, remote.runIds);
      if (stored !== remote.expected) throw new Error(`server holds ${stored} points, ${remote.expected} were logged`);
      remote.stored = stored;
    } finally {
      await stopServer(server);
    }
    const lines = readFileSync(timingLog, "utf8").trim().split("\n");
    const accept = lines.map((line) => Number(line.split(" ")[1]));
    const failed = lines.filter((line) => line.split(" ")[2] !== "200").length;
    results.accept.push({ p50: quantile(accept, 0.5), p99: quantile(accept, 0.99), max: Math.max(...accept) });
    results.server.push({ ...remote, batches: accept.length, failed });

    const localDb = join(roundDir, "local.db");
    const local = await round("local", localDb, null, roundDir);
    const check = await startServer(localDb, port, null, null);
    try {
      local.stored = await pointsOnServer(url, local.runIds);
    } finally {
      await stopServer(check);
    }
    results.local.push(local);
    console.log(
      `round ${r + 1}: server ${Math.round(remote.expected / remote.total).toLocaleString("en-US")} points/s ` +
        `(${remote.total.toFixed(2)} s; from release ${remote.logging.toFixed(2)} s), ${accept.length} batches, ` +
        `accept p50 ${results.accept[r].p50.toFixed(1)} ms p99 ${results.accept[r].p99.toFixed(1)} ms; ` +
        `local ${Math.round(local.expected / local.total).toLocaleString("en-US")} points/s (${local.total.toFixed(2)} s); ` +
        `load ${loads[r].toFixed(2)}; child stderr lines: ${remote.warnings.length} / ${local.warnings.length}`,
    );
    for (const warning of [...remote.warnings, ...local.warnings].slice(0, 3))
      console.log(`  stderr: ${warning.trim().slice(0, 300)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const points = results.server[0].expected;
const rate = (rounds, field) => median(rounds.map((x) => x.expected / x[field]));
const serverTotal = rate(results.server, "total");
const localTotal = rate(results.local, "total");
const serverLogging = rate(results.server, "logging");
const localLogging = rate(results.local, "logging");
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const ms = (n) => `${n.toFixed(1)} ms`;
const table = [
  "| measure | one server | one local file | ratio server/local | goal |",
  "|---|---|---|---|---|",
  `| aggregate, first process start → every point durable | ${fmt(serverTotal)} points/s | ${fmt(localTotal)} points/s | ${(serverTotal / localTotal).toFixed(2)} | ≥ 300,000 points/s |`,
  `| aggregate, all processes released → every point durable | ${fmt(serverLogging)} points/s | ${fmt(localLogging)} points/s | ${(serverLogging / localLogging).toFixed(2)} | (context) |`,
  `| server: time to accept a POST /api/runs/{id}/points, p50 | ${ms(median(results.accept.map((a) => a.p50)))} | - | - | (context) |`,
  `| server: time to accept a POST /api/runs/{id}/points, p99 | ${ms(median(results.accept.map((a) => a.p99)))} | - | - | (context) |`,
  `| server: slowest batch | ${ms(median(results.accept.map((a) => a.max)))} | - | - | (context) |`,
  `| batches per round (points per batch) | ${fmt(median(results.server.map((s) => s.batches)))} (${fmt(points / median(results.server.map((s) => s.batches)))}) | - | - | |`,
];
const spool = SHARED_SPOOL
  ? "all processes share the URL's one spool file (the default on one machine)"
  : "each process has its own STONKS_SPOOL_DIR, as 50 separate machines would (the default shares one spool file per machine and server, which would add client-side lock waits that a cluster of separate nodes does not have)";
const text = `${table.join("\n")}

${PER_LANGUAGE} Python and ${PER_LANGUAGE} TypeScript processes, each one run of ${KEYS.length} metrics × ${STEPS.toLocaleString("en-US")} steps (${fmt(points)} points a round), started together, released together once all had started their run, then log() as fast as they can and finish(); ${spool}. Durable: every process exited after finish() (remote: every point acknowledged) and the server's stored counts add up. Exactly once, every round: each series read back through GET /api/runs/{id}/metrics holds steps 0..${STEPS - 1}, each once (${fmt(results.server[0].stored)} of ${fmt(points)} points; non-200 batches: ${results.server.reduce((n, s) => n + s.failed, 0)}). Time to accept: STONKS_TIMING_LOG on the server, request reaching the app → answer ready (body read, decoded, stored). Local: the same ${PER_LANGUAGE * 2} processes writing to one SQLite file. Medians of ${RUNS} rounds, server and local alternating; Node ${process.version}, ${cpus().length} cores (2-core VM shared with other work), load average at round starts ${loads.map((l) => l.toFixed(1)).join(", ")}.`;
console.log(text);
if (process.argv.includes("--write")) {
  writeResultsBlock(
    "## Remote logging (issue 13)",
    "A real `stonks serve` on 127.0.0.1; SDK processes log to it through their spool (docs/remote.md).",
    "remote-many",
    `### 50 processes, one server: \`node bench/remote_many.mjs\`\n\n${text}`,
  );
}
