// API latency of a where query (docs/query-language.md) over an experiment of
// 10,000 runs, each with a config and 4 metrics (goal: p50 ≤ 30 ms). Baseline,
// measured in the same run: the same request without a where expression.
// Run: npm run build && node bench/api_where.mjs   (REPEATS=30 requests per case, REPS=3 servers per build)
// BEFORE_DIST=/path/to/an/earlier/dist adds that build as a column, its servers interleaved with this
// build's on the same file. One way to make it, for commit C:
//   mkdir /tmp/before && git archive C src tsconfig.json tsconfig.build.json | tar -x -C /tmp/before &&
//   ln -s "$PWD/node_modules" /tmp/before/ && (cd /tmp/before && npx tsc -p tsconfig.build.json &&
//   node "$OLDPWD/scripts/copy-assets.mjs")

import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { machine, median, ms, PROVENANCE, quantile, tempDb, timeCalls, writeResults } from "./api_common.mjs";

const RUNS = 10_000;
const POINTS_PER_METRIC = 20;
const REPEATS = Number(process.env.REPEATS ?? 30);
const REPS = Number(process.env.REPS ?? 3);
const KEYS = ["train/loss", "train/acc", "val/loss", "val/acc"];
const MODELS = ["resnet18", "resnet50", "vit-base", "convnext-tiny", "resnet101"];
const START = 1_700_000_000;

async function writeSweep(dist, path) {
  const { openDatabase, runImmediate } = await import(`${dist}/store/connection.js`);
  const { appendPoints, ensureSeries, finishRun, insertRun } = await import(`${dist}/store/writes.js`);
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

const where = (expression) => `where=${encodeURIComponent(expression)}`;
const EXPRESSIONS = [
  "config.lr < 0.05 AND metric.val/acc.max > 0.5",
  '(config.model.name GLOB "resnet*" OR config.optimizer = "sgd") AND NOT status = failed',
  '"checkpoint" IN tags AND duration BETWEEN 1000 AND 3000',
  'name ~ "^run-1[0-9]{3}$" OR group IN ("group-1", "group-2")',
  'config.model.depth >= 50 AND metric.train/loss.last < 2.3 AND created_at > "2023-11-16" AND NOT config.warmup EXISTS',
];
const CASES = [
  { label: "no where (baseline), page of 100", query: "?limit=100" },
  ...EXPRESSIONS.map((e) => ({ label: `\`${e}\`, page of 100`, query: `?${where(e)}&limit=100` })),
  {
    label: "old form: `where=config.lr>0.01&where=metric.val/loss<2.5`, page of 100",
    query: `?${where("config.lr>0.01")}&${where("metric.val/loss<2.5")}&limit=100`,
  },
  { label: `\`${EXPRESSIONS[0]}\`, every matching run`, query: `?${where(EXPRESSIONS[0])}` },
];

/** One build's numbers over the file at `path`, in this process: a server of its own, then the in-memory filter. */
async function measure(dist, path) {
  const { filterWhere, parseWhere } = await import(`${dist}/contract/where.js`);
  const { open } = await import(`${dist}/index.js`);
  const { startServer } = await import(`${dist}/server/index.js`);
  const server = await startServer({ dbPath: path, port: 0 });
  const [experiment] = await (await fetch(`${server.url}/api/experiments`)).json();

  async function list(query, base = server.url) {
    const response = await fetch(`${base}/api/experiments/${experiment.id}/runs${query}`);
    if (!response.ok) throw new Error(`${query}: ${response.status} ${await response.text()}`);
    return { total: Number(response.headers.get("x-total-count")), runs: await response.json() };
  }

  // Every case once before any is timed, so the first one timed (the baseline) does not pay for the JIT's warm-up.
  for (const { query } of CASES) await list(query);
  const rows = [];
  for (const { label, query } of CASES) {
    const reply = await list(query);
    const samples = await timeCalls(() => list(query), REPEATS);
    rows.push({
      label,
      total: reply.total,
      returned: reply.runs.length,
      p50: median(samples),
      p90: quantile(samples, 0.9),
    });
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

  // Every request a new expression (a threshold that moves), so nothing of an earlier answer can be reused.
  let threshold = 0;
  const fresh = await timeCalls(() => {
    threshold += 1;
    return list(
      `?${where(`metric.val/acc.max > ${(0.1 + threshold / 10_000).toFixed(4)} AND config.lr < 0.05`)}&limit=100`,
    );
  }, REPEATS);
  await server.close();

  // Cold: a fresh server reads the whole experiment from the file on its first request.
  const cold = [];
  for (let i = 0; i < 3; i++) {
    const coldServer = await startServer({ dbPath: path, port: 0 });
    const start = performance.now();
    await list(`?${where(EXPRESSIONS[0])}&limit=100`, coldServer.url);
    cold.push(performance.now() - start);
    await coldServer.close();
  }

  const reader = open(path);
  const inProcess = await timeCalls(() => reader.listRuns(experiment.id, { where: EXPRESSIONS[0] }), 5, 1);
  reader.close();
  return { rows, filterOnly, fresh, cold, inProcess };
}

const HERE = fileURLToPath(import.meta.url);

if (process.argv[2] === "--measure") {
  process.stdout.write(`${JSON.stringify(await measure(process.argv[3], process.argv[4]))}\n`);
  process.exit(0);
}

const builds = [{ name: "after", dist: pathToFileURL(resolve(join(HERE, "../../dist"))).href }];
if (process.env.BEFORE_DIST) {
  builds.unshift({ name: "before", dist: pathToFileURL(resolve(process.env.BEFORE_DIST)).href });
}
const loadAtStart = loadavg()[0];
const db = tempDb("api-where");
const started = performance.now();
await writeSweep(builds.at(-1).dist, db.path);
const writeSeconds = (performance.now() - started) / 1000;

/** Per build, one result per rep: each a fresh process and server, the builds taking turns going first. */
const results = new Map(builds.map((b) => [b.name, []]));
for (let rep = 0; rep < REPS; rep++) {
  const order = rep % 2 === 0 ? builds : [...builds].reverse();
  for (const build of order) {
    const out = execFileSync(process.execPath, [HERE, "--measure", build.dist, db.path], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    const result = JSON.parse(out.trim().split("\n").at(-1));
    results.get(build.name).push(result);
    console.log(
      `rep ${rep + 1} ${build.name}: ${result.rows.map((r) => `${ms(r.p50)}`).join(", ")} ms p50; load ${loadavg()[0].toFixed(1)}`,
    );
  }
}
const loadAtEnd = loadavg()[0];
db.remove();

const after = results.get("after");
const before = results.get("before");
/** Median over reps of one number of each rep's result. */
const across = (reps, pick) => median(reps.map(pick));
const each = (reps, pick) => reps.map((r) => ms(pick(r))).join(", ");

const rows = CASES.map((c, i) => ({
  label: c.label,
  total: after[0].rows[i].total,
  returned: after[0].rows[i].returned,
  p50: across(after, (r) => r.rows[i].p50),
  p90: across(after, (r) => r.rows[i].p90),
  reps: each(after, (r) => r.rows[i].p50),
  before: before && { p50: across(before, (r) => r.rows[i].p50), reps: each(before, (r) => r.rows[i].p50) },
}));
const extra = [
  {
    label: "a new expression each request (moving threshold), page of 100",
    returned: "100",
    pick: (r) => median(r.fresh),
    pick90: (r) => quantile(r.fresh, 0.9),
  },
  {
    label: "cold: first request of a fresh server (3 servers per rep)",
    returned: "100",
    pick: (r) => median(r.cold),
    pick90: (r) => Math.max(...r.cold),
  },
  {
    label: "`db.listRuns(id, { where })` in process, reading the file each call (5 calls per rep)",
    returned: "all matching",
    pick: (r) => median(r.inProcess),
    pick90: (r) => quantile(r.inProcess, 0.9),
  },
];
const baselineP50 = rows[0].p50;
const beforeColumns = before ? " p50 before (each rep) |" : "";
const beforeRule = before ? "---|" : "";
const beforeCell = (value) => (before ? ` ${value} |` : "");
const filterOnly = (reps) => EXPRESSIONS.map((_, i) => `${ms(across(reps, (r) => r.filterOnly[i]))} ms`).join(", ");
console.log(`parse + filter alone: ${filterOnly(after)}${before ? `; before: ${filterOnly(before)}` : ""}`);

writeResults(
  "api-where",
  `### A where query over an experiment of 10,000 runs (bench/api_where.mjs)

${machine()}; load average ${loadAtStart.toFixed(1)} at the start and ${loadAtEnd.toFixed(1)} at the end (other work shared the machine). One experiment, ${RUNS.toLocaleString("en-US")} finished runs, each with a 6-key config (one nested) and ${KEYS.length} metrics of ${POINTS_PER_METRIC} points (written in ${writeSeconds.toFixed(1)} s). GET /api/experiments/{id}/runs?where=… over HTTP, JSON parsed, ${REPEATS} requests after 3 warm-ups (and one request of every case before the first is timed), in ${REPS} reps, each rep a fresh process and server per build${before ? ", the two builds taking turns to go first (before: `BEFORE_DIST`, the build of the code before the change; after: this build)" : ""}. Cells are medians over the reps of each rep's p50 (or p90); the reps' own p50s are in brackets. Baseline in the same run: the same request without a where expression. Goal: p50 ≤ 30 ms.

| request | runs returned (of matching) |${beforeColumns} p50 (each rep) | p90 | p50 / baseline |
|---|---|${beforeRule}---|---|---|
${rows.map((r) => `| ${r.label.replaceAll("|", "\\|")} | ${r.returned} (of ${r.total}) |${beforeCell(r.before ? `${ms(r.before.p50)} ms (${r.before.reps})` : "")} ${ms(r.p50)} ms (${r.reps}) | ${ms(r.p90)} ms | ${(r.p50 / baselineP50).toFixed(2)} |`).join("\n")}
${extra.map((e) => `| ${e.label} | ${e.returned} |${beforeCell(before ? `${ms(across(before, e.pick))} ms (${each(before, e.pick)})` : "")} ${ms(across(after, e.pick))} ms (${each(after, e.pick)}) | ${ms(across(after, e.pick90))} ms | ${(across(after, e.pick) / baselineP50).toFixed(2)} |`).join("\n")}
| parse + filter alone, in memory over the 10,000 runs as the API sends them (each expression above, in order; mean) | all matching |${beforeCell(before ? filterOnly(before) : "")} ${filterOnly(after)} | | |

Each request parses the expression and runs it over the server's in-memory run table (src/contract/where.ts over src/query/run-list.ts); the cold row is the server reading the experiment's runs and summaries on its first request. The "parse + filter alone" row is the language over plain run objects, without the columns the server's tables keep.`,
);
