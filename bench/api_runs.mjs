// API latency of the runs list of an experiment with 10,000 runs, each with
// a config and 4 metrics (goal: p50 ≤ 100 ms). Filtering and sorting on
// config values and metric summaries run in memory over the experiment's rows.
// Baseline, measured in the same run: the query API's listRuns() in process
// (rows only, no summaries, no HTTP).
// Run: npm run build && node bench/api_runs.mjs   (REPEATS=20 by default)
import { open } from "../dist/index.js";
import { startServer } from "../dist/server/index.js";
import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { appendPoints, ensureSeries, finishRun, insertRun } from "../dist/store/writes.js";
import { machine, median, ms, PROVENANCE, quantile, tempDb, timeCalls, writeResults } from "./api_common.mjs";

const RUNS = 10_000;
const POINTS_PER_METRIC = 20;
const REPEATS = Number(process.env.REPEATS ?? 20);
const KEYS = ["train/loss", "train/acc", "val/loss", "val/acc"];

function writeSweep(path) {
  const db = openDatabase(path);
  const steps = Float64Array.from({ length: POINTS_PER_METRIC }, (_, i) => i * 100);
  const times = Float64Array.from(steps, (s) => 1_700_000_000 + s);
  runImmediate(db, () => {
    for (let i = 0; i < RUNS; i++) {
      const lr = [0.3, 0.1, 0.03, 0.01, 0.003][i % 5];
      const run = insertRun(db, {
        experimentName: "sweep",
        name: `run-${i}`,
        config: {
          lr,
          batch_size: [32, 64, 128, 256][i % 4],
          optimizer: i % 3 === 0 ? "sgd" : "adamw",
          model: { depth: 18 + (i % 4) * 16, width: 64 },
          seed: i,
        },
        tags: i % 10 === 0 ? ["sweep", "checkpoint"] : ["sweep"],
        group: `group-${i % 20}`,
        jobType: "train",
        notes: i % 50 === 0 ? `note for run ${i}` : null,
        now: 1_700_000_000 + i * 60,
        provenance: PROVENANCE,
      });
      for (const [k, key] of KEYS.entries()) {
        const quality = ((i * 7919) % 1000) / 1000;
        const values = Float64Array.from(steps, (_, j) => (k % 2 === 0 ? 2 : 0.1) + quality * Math.exp(-j / 5));
        appendPoints(db, ensureSeries(db, run.seq, key), steps, values, times);
      }
      finishRun(db, run.seq, i % 17 === 0 ? "failed" : "completed", 1_700_000_000 + i * 60 + 3000);
    }
  });
  db.close();
}

const db = tempDb("api-runs");
const started = performance.now();
writeSweep(db.path);
const writeSeconds = (performance.now() - started) / 1000;
const server = await startServer({ dbPath: db.path, port: 0 });
const [experiment] = await (await fetch(`${server.url}/api/experiments`)).json();

async function list(query, base = server.url) {
  const response = await fetch(`${base}/api/experiments/${experiment.id}/runs${query}`);
  if (!response.ok) throw new Error(`${query}: ${response.status} ${await response.text()}`);
  return { total: Number(response.headers.get("x-total-count")), runs: await response.json() };
}

/** Until the last byte arrives, without parsing: the server's share of a big answer. */
async function download(query) {
  const response = await fetch(`${server.url}/api/experiments/${experiment.id}/runs${query}`);
  return (await response.arrayBuffer()).byteLength;
}

const where = (condition) => `where=${encodeURIComponent(condition)}`;
const cases = [
  { label: "newest first, first page of 100", query: "?limit=100" },
  { label: "sorted by metric.val/loss.min, page of 100", query: "?sort=metric.val/loss.min&order=asc&limit=100" },
  {
    label: "where config.lr>0.01 and metric.val/loss<2.5, sorted by config.lr, page of 100",
    query: `?${where("config.lr>0.01")}&${where("metric.val/loss<2.5")}&sort=config.lr&limit=100`,
  },
  {
    label: "status=failed, tag=checkpoint, text search, page 3",
    query: "?status=failed&tag=checkpoint&q=run-&limit=50&offset=100",
  },
  { label: "page of 5,000 (the dashboard's page size)", query: "?limit=5000" },
  { label: "every run with summaries (no limit)", query: "" },
];

const rows = [];
for (const { label, query } of cases) {
  const reply = await list(query);
  const samples = await timeCalls(() => list(query), REPEATS);
  rows.push({
    label,
    query,
    total: reply.total,
    returned: reply.runs.length,
    p50: median(samples),
    p90: quantile(samples, 0.9),
  });
  console.log(
    `${label}: p50 ${ms(median(samples))} ms, p90 ${ms(quantile(samples, 0.9))} ms (${reply.runs.length} of ${reply.total})`,
  );
}
const bytes = await download("");
const transfer = await timeCalls(() => download(""), REPEATS);
console.log(`every run, transfer only: p50 ${ms(median(transfer))} ms (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
await server.close();

// Cold: a fresh server reads the whole experiment from the file on its first request.
const cold = [];
for (let i = 0; i < 3; i++) {
  const fresh = await startServer({ dbPath: db.path, port: 0 });
  const start = performance.now();
  await list("?limit=100", fresh.url);
  cold.push(performance.now() - start);
  await fresh.close();
}
console.log(`first request of a fresh server (page of 100): p50 ${ms(median(cold))} ms`);

const reader = open(db.path);
const baseline = await timeCalls(() => reader.listRuns(experiment.id), REPEATS);
reader.close();
const baselineP50 = median(baseline);
console.log(`baseline listRuns() in process: p50 ${ms(baselineP50)} ms`);
db.remove();

writeResults(
  "api-runs",
  `### Runs list of an experiment with 10,000 runs (bench/api_runs.mjs)

${machine()}; one experiment, ${RUNS.toLocaleString("en-US")} finished runs, each with a 5-key config (one nested) and ${KEYS.length} metrics of ${POINTS_PER_METRIC} points (written in ${writeSeconds.toFixed(1)} s). GET /api/experiments/{id}/runs over HTTP, JSON parsed, ${REPEATS} requests after 3 warm-ups. Baseline in the same run: \`open().listRuns(experimentId)\` in process (every run, no summaries, no HTTP). Goal: p50 ≤ 100 ms.

| request | runs returned (of matching) | p50 | p90 | p50 / baseline |
|---|---|---|---|---|
${rows.map((r) => `| ${r.label} | ${r.returned} (of ${r.total}) | ${ms(r.p50)} ms | ${ms(r.p90)} ms | ${(r.p50 / baselineP50).toFixed(2)} |`).join("\n")}
| every run, bytes only (${(bytes / 2 ** 20).toFixed(1)} MiB, not parsed) | ${RUNS} | ${ms(median(transfer))} ms | ${ms(quantile(transfer, 0.9))} ms | ${(median(transfer) / baselineP50).toFixed(2)} |
| first request of a fresh server, page of 100 (3 servers) | 100 | ${ms(median(cold))} ms | ${ms(Math.max(...cold))} ms (max) | ${(median(cold) / baselineP50).toFixed(2)} |
| baseline: listRuns() in process | ${RUNS} | ${ms(baselineP50)} ms | ${ms(quantile(baseline, 0.9))} ms | 1 |

The server keeps each recently used experiment's run table in memory and brings it up to date from the change cursors on every request (src/query/run-list.ts), so only the first request after start reads every run from the file.`,
);
