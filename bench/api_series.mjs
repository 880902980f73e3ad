// API latency of a downsampled million-point series (goal: p50 ≤ 30 ms).
// Baseline, measured in the same run: the same series without downsampling
// (every point as JSON), which is what a client would fetch otherwise.
// Run: npm run build && node bench/api_series.mjs   (REPEATS=50 by default)
import { startServer } from "../dist/server/index.js";
import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { appendPoints, ensureSeries, finishRun, insertRun } from "../dist/store/writes.js";
import { machine, median, ms, PROVENANCE, quantile, tempDb, timeCalls, writeResults } from "./api_common.mjs";

const POINTS = 1_000_000;
const REPEATS = Number(process.env.REPEATS ?? 50);
const BASELINE_REPEATS = Number(process.env.BASELINE_REPEATS ?? 5);

function writeMillionPointRun(path) {
  const db = openDatabase(path);
  const run = runImmediate(db, () =>
    insertRun(db, {
      experimentName: "bench",
      name: "million",
      config: {},
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      now: 1_700_000_000,
      provenance: PROVENANCE,
    }),
  );
  const series = runImmediate(db, () => ensureSeries(db, run.seq, "train/loss"));
  // Batches of 100,000 points, as a long run's flushes would add up to.
  for (let start = 0; start < POINTS; start += 100_000) {
    const n = Math.min(100_000, POINTS - start);
    const steps = Float64Array.from({ length: n }, (_, i) => start + i);
    const values = Float64Array.from(steps, (s) => 2 + 8 * (1 + s / 2000) ** -0.4 + 0.05 * Math.sin(s * 12.9898));
    const times = Float64Array.from(steps, (s) => 1_700_000_000 + s * 0.3);
    runImmediate(db, () => appendPoints(db, series, steps, values, times));
  }
  runImmediate(db, () => finishRun(db, run.seq, "completed", 1_700_300_000));
  db.close();
  return run.id;
}

const db = tempDb("api-series");
const written = performance.now();
const runId = writeMillionPointRun(db.path);
const writeSeconds = (performance.now() - written) / 1000;
const server = await startServer({ dbPath: db.path, port: 0 });

async function getJson(path, init) {
  const response = await fetch(server.url + path, init);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

const key = encodeURIComponent("train/loss");
const cases = [
  {
    label: "GET /api/runs/{id}/metrics?downsample=1000 (whole run)",
    call: () => getJson(`/api/runs/${runId}/metrics?key=${key}&downsample=1000`),
  },
  {
    label: "POST /api/series, 1 series, downsample 2000 (whole run)",
    call: () =>
      getJson("/api/series", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ series: [{ run_id: runId, key: "train/loss" }], downsample: 2000 }),
      }),
  },
  {
    label: "POST /api/series, zoomed to steps 250,000–750,000, downsample 1000",
    call: () =>
      getJson("/api/series", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          series: [{ run_id: runId, key: "train/loss" }],
          downsample: 1000,
          min_step: 250_000,
          max_step: 750_000,
        }),
      }),
  },
];

const rows = [];
for (const { label, call } of cases) {
  const reply = await call();
  const points = reply.values?.length ?? reply.series[0].values.length;
  const samples = await timeCalls(call, REPEATS);
  rows.push({ label, points, p50: median(samples), p90: quantile(samples, 0.9) });
  console.log(`${label}: p50 ${ms(median(samples))} ms, p90 ${ms(quantile(samples, 0.9))} ms (${points} points)`);
}
const full = await timeCalls(() => getJson(`/api/runs/${runId}/metrics?key=${key}`), BASELINE_REPEATS, 1);
const fullP50 = median(full);
console.log(`baseline, every point: p50 ${ms(fullP50)} ms`);

await server.close();
db.remove();

writeResults(
  "api-series",
  `### Downsampled series of a million-point run (bench/api_series.mjs)

${machine()}; one run, one key, ${POINTS.toLocaleString("en-US")} points (written in ${writeSeconds.toFixed(1)} s through the store layer). Latency of the whole request over HTTP (fetch, keep-alive, JSON parsed), ${REPEATS} requests after 3 warm-ups. Baseline in the same run: the same series without downsampling (${BASELINE_REPEATS} requests). Goal: p50 ≤ 30 ms.

| request | points returned | p50 | p90 | baseline (every point) / p50 |
|---|---|---|---|---|
${rows.map((r) => `| ${r.label} | ${r.points} | ${ms(r.p50)} ms | ${ms(r.p90)} ms | ${(fullP50 / r.p50).toFixed(0)}× |`).join("\n")}
| baseline: GET /api/runs/{id}/metrics without downsample | ${POINTS.toLocaleString("en-US")} | ${ms(fullP50)} ms | ${ms(quantile(full, 0.9))} ms | 1× |`,
);
