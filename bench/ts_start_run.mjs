// The writer thread's start, in fresh processes: what a script that only reads pays (no thread), and
// startRun() to the first durable point for a script that writes (goal: ≤ 20 ms).
// Run: npm run build && node bench/ts_start_run.mjs [--write]   (RUNS fresh processes per measure, default 15)
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startRun } from "../dist/index.js";
import { writeResultsBlock } from "./results.mjs";

const RUNS = Number(process.env.RUNS ?? 15);
const ENTRY = JSON.stringify(new URL("../dist/index.js", import.meta.url).href);
const dir = mkdtempSync(join(tmpdir(), "stonks-bench-start-"));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs an ES module script in a fresh Node; it prints one JSON line of measures. */
function child(script) {
  const t0 = performance.now();
  const out = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    env: { ...process.env, STONKS_LOG_LEVEL: "warn" },
  });
  const wall = performance.now() - t0;
  if (out.status !== 0) throw new Error(`child failed: ${out.stderr}`);
  return { ...JSON.parse(out.stdout.trim().split("\n").pop()), process: wall };
}

// A reader: import, open, list runs, read a series, close; the process then exits by itself.
const readDb = join(dir, "read.db");
await startRun("bench-read", { db: readDb }, (run) => {
  for (let i = 0; i < 1000; i++) run.log({ loss: 1 / (i + 1) });
});
const reader = `
  const t0 = performance.now();
  const { open } = await import(${ENTRY});
  const db = open(${JSON.stringify(readDb)});
  const run = db.listRuns()[0];
  const points = db.getMetrics(run.id, "loss").values.length;
  db.close();
  const read = performance.now() - t0;
  await new Promise((resolve) => setImmediate(resolve));
  console.log(JSON.stringify({ read, points, workers: process.report.getReport().workers.length }));`;

// A writer that awaits something (loading data) before it starts its run: the writer boots meanwhile.
const writer = (db, pauseMs) => `
  const { startRun } = await import(${ENTRY});
  ${pauseMs > 0 ? `await new Promise((resolve) => setTimeout(resolve, ${pauseMs}));` : ""}
  const t0 = performance.now();
  const run = startRun("first", { db: ${JSON.stringify(db)} }).start();
  run.log({ loss: 1 });
  await run.flush();
  const first = performance.now() - t0;
  await run.finish();
  console.log(JSON.stringify({ first, workers: process.report.getReport().workers.length }));`;

const samples = { read: [], readProcess: [], readWorkers: [], warm: [], cold: [], coldWorkers: [] };
for (let r = 0; r < RUNS; r++) {
  const read = child(reader);
  if (read.points !== 1000) throw new Error("short read");
  samples.read.push(read.read);
  samples.readProcess.push(read.process);
  samples.readWorkers.push(read.workers);
  samples.warm.push(child(writer(join(dir, `warm-${r}.db`), 200)).first);
  const cold = child(writer(join(dir, `cold-${r}.db`), 0));
  samples.cold.push(cold.first);
  samples.coldWorkers.push(cold.workers);
}
rmSync(dir, { recursive: true, force: true });

const ms = (v) => `${v.toFixed(1)} ms`;
const rows = [
  ["reader: import + open + listRuns + 1,000-point read", ms(median(samples.read)), "(context)"],
  ["reader: whole process, spawn to exit", ms(median(samples.readProcess)), "(context)"],
  ["reader: worker threads after the read", `${Math.max(...samples.readWorkers)} (max)`, "0"],
  ["startRun() to first point durable, 200 ms after import", ms(median(samples.warm)), "≤ 20 ms"],
  ["startRun() to first point durable, right after import (boots the thread)", ms(median(samples.cold)), "(context)"],
];
const markdown = `### Writer thread start (bench/ts_start_run.mjs)

Command: \`npm run build && node bench/ts_start_run.mjs --write\` (${new Date().toISOString().slice(0, 10)}). Machine: ${cpus().length} × ${cpus()[0].model}, Node ${process.version}; load average ${loadavg()[0].toFixed(1)} when it ended. Medians of ${RUNS} fresh processes per row, interleaved.

| measure | result | goal |
|---|---|---|
${rows.map((row) => `| ${row.join(" | ")} |`).join("\n")}

The writer thread boots on the first turn of the event loop after \`import\`, unless \`open()\` was called before it: a script that reads starts no thread (Node's diagnostic report lists no worker), and a script that awaits anything before \`startRun()\` (loading data; here a 200 ms timer) finds the thread booted. A script that calls \`startRun()\` before its first await waits for the boot inside \`start()\`: the last row.`;
console.log(markdown);
if (process.argv.includes("--write")) {
  writeResultsBlock("## TypeScript SDK and storage (bench/ts_sdk.mjs)", "", "ts-start-run", markdown);
}
