// API latency of a where query (docs/query-language.md) over an experiment of
// 10,000 runs, each with a config and 4 metrics (goal: p50 ≤ 30 ms). Baseline,
// measured in the same run: the same request without a where expression.
// Run: npm run build && node bench/api_where.mjs   (REPEATS=30 by default)

import { loadavg } from "node:os";
import { filterWhere, parseWhere } from "../dist/contract/where.js";
import { open } from "../dist/index.js";
import { startServer } from "../dist/server/index.js";
import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { appendPoints, ensureSeries, finishRun, insertRun } from "../dist/store/writes.js";
import { machine, median, ms, PROVENANCE, quantile, tempDb, timeCalls, writeResults } from "./api_common.mjs";

const RUNS = 10_000;
const POINTS_PER_METRIC = 20;
const REPEATS = Number(process.env.REPEATS ?? 30);
const KEYS = ["train/loss", "train/acc", "val/loss", "val/acc"];
const MODELS = ["resnet18", "resnet50", "vit-base", "convnext-tiny", "resnet101"];
const START = 1_700_000_000;

function writeSweep(path) {
  const db = openDatabase(path);
  const steps = Float64Array.from({ length: POINTS_PER_METRIC }, (_, i) => i * 100);
  runImmediate(db, () => {
    for (let i = 0; i < RUNS; i++) {
      const createdAt = START + i * 60;
      const run = insertRun(db, {
        experimentName: "sweep",
        name: `run-${i}`,
        config: {
          lr: [0.3, 0.1, 0.03, 0.01, 0.003][i % 5],
          batch_size: [32, 64, 128, 256][i % 4],
          optimizer: i % 3 === 0 ? "sgd" : "adamw",
          model: { name: MODELS[i % MODELS.length], depth: 18 + (i % 4) * 16 },
          ...(i % 7 === 0 ? { warmup: 500 } : {}),
          seed: i,
        },
        tags: i % 10 === 0 ? ["sweep", "checkpoint"] : ["sweep"],
        group: `group-${i % 20}`,
        jobType: "train",
        notes: null,
        now: createdAt,
        provenance: PROVENANCE,
      });
      const times = Float64Array.from(steps, (s) => createdAt + s);
      for (const [k, key] of KEYS.entries()) {
        const quality = ((i * 7919) % 1000) / 1000;
        const values = Float64Array.from(steps, (_, j) => (k % 2 === 0 ? 2 : 0.1) + quality * Math.exp(-j / 5));
        appendPoints(db, ensureSeries(db, run.seq, key), steps, values, times);
      }
      finishRun(db, run.seq, i % 17 === 0 ? "failed" : "completed", createdAt + 1000 + (i % 9) * 500);
    }
  });
  db.close();
}

const loadAtStart = loadavg()[0];
const db = tempDb("api-where");
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

const where = (expression) => `where=${encodeURIComponent(expression)}`;
const EXPRESSIONS = [
  "config.lr < 0.05 AND metric.val/acc.max > 0.5",
  '(config.model.name GLOB "resnet*" OR config.optimizer = "sgd") AND NOT status = failed',
  '"checkpoint" IN tags AND duration BETWEEN 1000 AND 3000',
  'name ~ "^run-1[0-9]{3}$" OR group IN ("group-1", "group-2")',
  'config.model.depth >= 50 AND metric.train/loss.last < 2.3 AND created_at > "2023-11-16" AND NOT config.warmup EXISTS',
];
const cases = [
  { label: "no where (baseline), page of 100", query: "?limit=100" },
  ...EXPRESSIONS.map((e) => ({ label: `\`${e}\`, page of 100`, query: `?${where(e)}&limit=100` })),
  {
    label: "old form: `where=config.lr>0.01&where=metric.val/loss<2.5`, page of 100",
    query: `?${where("config.lr>0.01")}&${where("metric.val/loss<2.5")}&limit=100`,
  },
  { label: `\`${EXPRESSIONS[0]}\`, every matching run`, query: `?${where(EXPRESSIONS[0])}` },
];

const rows = [];
for (const { label, query } of cases) {
  const reply = await list(query);
  const samples = await timeCalls(() => list(query), REPEATS);
  rows.push({
    label,
    total: reply.total,
    returned: reply.runs.length,
    p50: median(samples),
    p90: quantile(samples, 0.9),
  });
  console.log(
    `${label}: p50 ${ms(median(samples))} ms, p90 ${ms(quantile(samples, 0.9))} ms (${reply.runs.length} of ${reply.total})`,
  );
}

// The language's own share: parse, compile and test every run, in memory, no HTTP.
const everyRun = (await list("")).runs.map((r) => ({
  id: r.id,
  name: r.name,
  notes: r.notes,
  tags: r.tags,
  group: r.group,
  jobType: r.job_type,
  status: r.status,
  stale: r.stale,
  createdAt: r.created_at,
  endedAt: r.ended_at,
  duration: r.duration,
  config: r.config,
  summary: r.summary,
}));
const filterOnly = EXPRESSIONS.map((e) => {
  const now = Date.now() / 1000;
  for (let i = 0; i < 5; i++) filterWhere(everyRun, parseWhere(e), now);
  const start = performance.now();
  for (let i = 0; i < REPEATS; i++) filterWhere(everyRun, parseWhere(e), now);
  return (performance.now() - start) / REPEATS;
});
console.log(`parse + filter alone: ${filterOnly.map(ms).join(", ")} ms`);

// Every request a new expression (a threshold that moves), so nothing of an earlier answer can be reused.
let threshold = 0;
const fresh = await timeCalls(() => {
  threshold += 1;
  return list(
    `?${where(`metric.val/acc.max > ${(0.1 + threshold / 10_000).toFixed(4)} AND config.lr < 0.05`)}&limit=100`,
  );
}, REPEATS);
console.log(`a new expression each request: p50 ${ms(median(fresh))} ms`);
await server.close();

// Cold: a fresh server reads the whole experiment from the file on its first request.
const cold = [];
for (let i = 0; i < 3; i++) {
  const coldServer = await startServer({ dbPath: db.path, port: 0 });
  const start = performance.now();
  await list(`?${where(EXPRESSIONS[0])}&limit=100`, coldServer.url);
  cold.push(performance.now() - start);
  await coldServer.close();
}
console.log(`first request of a fresh server: p50 ${ms(median(cold))} ms`);

const reader = open(db.path);
const inProcess = await timeCalls(() => reader.listRuns(experiment.id, { where: EXPRESSIONS[0] }), 5, 1);
reader.close();
console.log(`db.listRuns(id, { where }) in process (reads the file each call): p50 ${ms(median(inProcess))} ms`);
db.remove();

const baselineP50 = rows[0].p50;
writeResults(
  "api-where",
  `### A where query over an experiment of 10,000 runs (bench/api_where.mjs)

${machine()} (load average ${loadAtStart.toFixed(1)} at the start: other work shared the machine); one experiment, ${RUNS.toLocaleString("en-US")} finished runs, each with a 6-key config (one nested) and ${KEYS.length} metrics of ${POINTS_PER_METRIC} points (written in ${writeSeconds.toFixed(1)} s). GET /api/experiments/{id}/runs?where=… over HTTP, JSON parsed, ${REPEATS} requests after 3 warm-ups. Baseline in the same run: the same request without a where expression. Goal: p50 ≤ 30 ms.

| request | runs returned (of matching) | p50 | p90 | p50 / baseline |
|---|---|---|---|---|
${rows.map((r) => `| ${r.label.replaceAll("|", "\\|")} | ${r.returned} (of ${r.total}) | ${ms(r.p50)} ms | ${ms(r.p90)} ms | ${(r.p50 / baselineP50).toFixed(2)} |`).join("\n")}
| parse + filter alone, in memory over the 10,000 runs (each expression above, in order; mean) | all matching | ${filterOnly.map((t) => `${ms(t)} ms`).join(", ")} | | |
| a new expression each request (moving threshold), page of 100 | 100 | ${ms(median(fresh))} ms | ${ms(quantile(fresh, 0.9))} ms | ${(median(fresh) / baselineP50).toFixed(2)} |
| cold: first request of a fresh server (3 servers) | 100 | ${ms(median(cold))} ms | ${ms(Math.max(...cold))} ms (max) | ${(median(cold) / baselineP50).toFixed(2)} |
| \`db.listRuns(id, { where })\` in process, reading the file each call (5 calls) | all matching | ${ms(median(inProcess))} ms | ${ms(quantile(inProcess, 0.9))} ms | ${(median(inProcess) / baselineP50).toFixed(2)} |

Each request parses the expression, compiles it into one test per run and runs it over the server's in-memory run table (src/contract/where.ts over src/query/run-list.ts); the cold row is the server reading the experiment's runs and summaries on its first request.`,
);
