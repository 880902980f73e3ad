// GET /api/runs/{id}/metrics/all, the original stonks' dashboard's chart read:
// a run with 10 plain keys of 100,000 points and one key logged by 8 ranks
// (rank_0/loss … rank_7/loss, 100,000 points each, combined per step into
// mean/min/max), read with downsample=1000 as that dashboard does, and a run
// with the 10 plain keys only. Medians of 20 requests over keep-alive.
// Run: npm run build && node bench/api_metrics_all.mjs
import { startServer } from "../dist/server/index.js";
import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { appendPoints, ensureSeries, finishRun, insertRun } from "../dist/store/writes.js";
import { machine, median, ms, PROVENANCE, tempDb, timeCalls, writeResults } from "./api_common.mjs";

const POINTS = 100_000;
const PLAIN_KEYS = 10;
const RANKS = 8;

function writeRun(db, name, keys) {
  const run = runImmediate(db, () =>
    insertRun(db, {
      experimentName: "metrics-all",
      name,
      config: {},
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      now: 1_700_000_000,
      provenance: PROVENANCE,
    }),
  );
  const steps = Float64Array.from({ length: POINTS }, (_, i) => i);
  const times = Float64Array.from(steps, (s) => 1_700_000_000 + s * 0.1);
  keys.forEach((key, k) => {
    const values = Float64Array.from(steps, (s) => 2 + (1 + s / 2000) ** -0.4 + 0.05 * Math.sin(s * 12.9898 + k));
    runImmediate(db, () => appendPoints(db, ensureSeries(db, run.seq, key), steps, values, times));
  });
  runImmediate(db, () => finishRun(db, run.seq, "completed", 1_700_010_000));
  return run.id;
}

const file = tempDb("metrics-all");
const db = openDatabase(file.path);
const plainKeys = Array.from({ length: PLAIN_KEYS }, (_, i) => `train/metric_${i}`);
const rankKeys = Array.from({ length: RANKS }, (_, r) => `rank_${r}/loss`);
const plainRun = writeRun(db, "plain", plainKeys);
const rankedRun = writeRun(db, "ranked", [...plainKeys, ...rankKeys]);
db.close();

const server = await startServer({ dbPath: file.path, port: 0 });
const read = (runId) => async () => {
  const response = await fetch(`${server.url}/api/runs/${runId}/metrics/all?downsample=1000`);
  const body = await response.json();
  if (response.status !== 200 || Object.keys(body).length === 0) throw new Error(`bad answer ${response.status}`);
};
const plainMs = median(await timeCalls(read(plainRun), 20));
const rankedMs = median(await timeCalls(read(rankedRun), 20));
await server.close();
file.remove();

const lines = [
  `### GET /api/runs/{id}/metrics/all?downsample=1000 (bench/api_metrics_all.mjs)`,
  "",
  `Machine: ${machine()}.`,
  "",
  "| run | median |",
  "|---|---|",
  `| ${PLAIN_KEYS} keys × ${POINTS.toLocaleString("en")} points | ${ms(plainMs)} ms |`,
  `| the same + 1 key logged by ${RANKS} ranks × ${POINTS.toLocaleString("en")} points (combined in full, then downsampled) | ${ms(rankedMs)} ms |`,
];
console.log(lines.join("\n"));
writeResults("api_metrics_all", lines.join("\n"));
