// better-sqlite3 before and after the driver seam, in ONE process: both builds' store modules are
// loaded side by side and alternate, so heap, JIT and machine load are shared. Separate processes
// (bench/drivers.mjs with BASELINE_DIST) differ by a few percent from process to process.
// Run: npm run build && BASELINE_DIST=/path/to/old/dist node bench/driver_seam_ab.mjs [--write]
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { writeResultsBlock } from "./results.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 16);
const baseline = process.env.BASELINE_DIST;
if (!baseline) throw new Error("set BASELINE_DIST to the dist/ of the build to compare against");
const current = new URL("../dist", import.meta.url).pathname;

async function load(dist) {
  return {
    connection: await import(`${dist}/store/connection.js`),
    writes: await import(`${dist}/store/writes.js`),
    index: await import(`${dist}/index.js`),
  };
}
const builds = { before: await load(baseline), after: await load(current) };
const provenance = {
  host: "bench",
  pid: 1,
  command: "bench",
  cwd: "/",
  gitCommit: null,
  gitDirty: null,
  sdkLanguage: "typescript",
  sdkVersion: "0",
};
const floats = (n, at, f) => Float64Array.from({ length: n }, (_, i) => f(at + i));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const dir = mkdtempSync(join(tmpdir(), "stonks-seam-ab-"));
const samples = { before: { ingest: [], full: [], down: [] }, after: { ingest: [], full: [], down: [] } };

/** 1,000,000 points into 4 series, 10,000 per commit; then a full and a downsampled read of one 250,000-point series. */
function once(name, round) {
  const { connection, writes, index } = builds[name];
  const path = join(dir, `${name}-${round}.db`);
  const db = connection.openDatabase(path);
  const run = connection.runImmediate(db, () =>
    writes.insertRun(db, {
      experimentName: "e",
      name: "r",
      config: {},
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      provenance,
      now: 1,
    }),
  );
  const ids = connection.runImmediate(db, () => [0, 1, 2, 3].map((k) => writes.ensureSeries(db, run.seq, `m${k}`)));
  const batches = [];
  for (let at = 0; at < 250_000; at += 2500) {
    batches.push([floats(2500, at, (i) => i), floats(2500, at, Math.sin), floats(2500, at, (i) => 1.7e9 + i)]);
  }
  let t0 = performance.now();
  for (const [steps, values, times] of batches) {
    connection.runImmediate(db, () => {
      for (const id of ids) writes.appendPoints(db, id, steps, values, times);
    });
  }
  samples[name].ingest.push(1_000_000 / ((performance.now() - t0) / 1000));
  db.close();
  const q = index.open(path);
  t0 = performance.now();
  q.getMetrics(run.id, "m1");
  samples[name].full.push(performance.now() - t0);
  t0 = performance.now();
  q.getSeries([{ runId: run.id, key: "m1" }], { maxPoints: 2000 });
  samples[name].down.push(performance.now() - t0);
  q.close();
  rmSync(path, { force: true });
}

for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 ? ["after", "before"] : ["before", "after"]) once(name, round);
}
rmSync(dir, { recursive: true, force: true });

const rows = [
  ["ingest (appendPoints, 10,000 points per commit)", "ingest", "points/s", true, 0],
  ["full read of a 250,000-point series", "full", "ms", false, 2],
  ["downsampled read of it, 1,000 buckets", "down", "ms", false, 2],
];
const lines = ["| measurement | before the seam | after | after's speed ÷ before |", "|---|---|---|---|"];
for (const [label, key, unit, higherIsBetter, digits] of rows) {
  const a = median(samples.before[key]);
  const b = median(samples.after[key]);
  const fmt = (x) => x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  lines.push(`| ${label} | ${fmt(a)} ${unit} | ${fmt(b)} ${unit} | ${(higherIsBetter ? b / a : a / b).toFixed(2)}× |`);
}
const markdown = `${lines.join("\n")}

Command: \`BASELINE_DIST=${baseline} node bench/driver_seam_ab.mjs --write\` (${new Date().toISOString().slice(0, 10)}). Machine: ${cpus().length} × ${cpus()[0].model}, Node ${process.version}, better-sqlite3; load average ${loadavg()[0].toFixed(1)} when it ended. Medians of ${ROUNDS} alternating rounds in one process.`;
process.stdout.write(`${markdown}\n`);
if (process.argv.includes("--write")) {
  writeResultsBlock(
    "## Storage drivers: better-sqlite3 and node:sqlite (issue 11, part 2)",
    "",
    "driver-seam-ab",
    markdown,
  );
}
