// Reads and live events as the stored data grows, SQLite backend beside PostgreSQL backend, in one run (issue 14,
// part 6). One database per backend grows in stages; after each stage two real `stonks serve` processes (A and B)
// serve it and this script measures over HTTP:
// - a downsampled read of one series: GET /api/runs/{id}/metrics?key=train/loss&downsample=1000 of a 10,000-point
//   series, the same series at every stage (goal p50 ≤ 30 ms), and of a different random run each request;
// - the runs list as the dashboard asks: GET /api/experiments/{id}/runs?limit=5000&offset=0 (its first page, newest
//   first) and a sorted first page (?sort=metric.train/loss.min&order=asc&limit=100), of the fixed 100-run
//   experiment at every stage and of the 10,000-run experiment at the last (goal p50 ≤ 100 ms);
// - live event latency: one point written with POST /api/runs/{id}/points to server A → its `points` event on an SSE
//   client of /api/events on A and on B (goal ≤ 500 ms). SQLite: two servers on one file (the change feed polls
//   the file); PostgreSQL: two servers on one database (LISTEN/NOTIFY).
// Stages (STAGES, bulk runs in total after each, default 0,900,10000): experiment "fixed" of FIXED_RUNS=100 runs ×
// 10,000 points (1 M points) first, then experiment "bulk" of runs × 10,000 points: 1 M, 10 M, 101 M stored points.
// The data is written through the store layer in this process (insertRun, ensureSeries, appendPoints, finishRun: one
// transaction per run), the same code for both backends; populate time is reported as points/s. PostgreSQL is a
// private cluster under /tmp (bench/pg_cluster.mjs: fsync off, shared_buffers 2GB), ANALYZEd after each stage.
// Everything written is removed at the end.
//
//   npm run build && node bench/pg_reads_scale.mjs [--write]     (REPEATS=30 requests per read, LIVE=30 points)
//   nohup node bench/pg_reads_scale.mjs --write > /tmp/pg-reads-scale.log 2>&1 &   (100 M: tens of minutes)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, statSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { appendPoints, ensureSeries, finishRun, insertRun } from "../dist/store/writes.js";
import { startBenchCluster, tuningText } from "./pg_cluster.mjs";
import { writeResultsBlock } from "./results.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const STAGES = (process.env.STAGES ?? "0,900,10000").split(",").map(Number);
const FIXED_RUNS = Number(process.env.FIXED_RUNS ?? 100);
const POINTS_PER_RUN = Number(process.env.POINTS_PER_RUN ?? 10_000);
const REPEATS = Number(process.env.REPEATS ?? 30);
const LIVE = Number(process.env.LIVE ?? 30);
const KEY = "train/loss";
const PROVENANCE = {
  host: "bench",
  pid: 1,
  command: "bench",
  cwd: "/",
  gitCommit: null,
  gitDirty: null,
  sdkLanguage: "typescript",
  sdkVersion: "0",
};
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STONKS_")));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const freeGiB = () => {
  const s = statfsSync("/tmp");
  return (s.bavail * s.bsize) / 2 ** 30;
};
const log = (line) =>
  console.log(`[${new Date().toISOString().slice(11, 19)} load ${loadavg()[0].toFixed(1)}] ${line}`);

// One curve shape for every run, scaled per run so that summaries (min, last) differ between runs.
const STEPS = Float64Array.from({ length: POINTS_PER_RUN }, (_, i) => i);
const CURVE = Float64Array.from(STEPS, (s) => 2 + 8 * (1 + s / 2000) ** -0.4 + 0.05 * Math.sin(s * 12.9898));

/** Writes runs [from, to) of an experiment, one transaction per run; returns their ids. */
function writeRuns(db, experiment, from, to, progress) {
  const ids = [];
  const values = new Float64Array(POINTS_PER_RUN);
  const times = new Float64Array(POINTS_PER_RUN);
  let reported = performance.now();
  for (let i = from; i < to; i++) {
    const scale = 0.5 + ((i * 7919) % 1000) / 1000;
    for (let j = 0; j < POINTS_PER_RUN; j++) {
      values[j] = CURVE[j] * scale;
      times[j] = 1_700_000_000 + i * 100 + j * 0.01;
    }
    ids.push(
      runImmediate(db, () => {
        const run = insertRun(db, {
          experimentName: experiment,
          name: `${experiment}-${i}`,
          config: { lr: [0.3, 0.1, 0.03, 0.01, 0.003][i % 5], batch_size: [32, 64, 128, 256][i % 4], seed: i },
          tags: ["scale"],
          group: `group-${i % 20}`,
          jobType: "train",
          notes: null,
          now: 1_700_000_000 + i * 100,
          provenance: PROVENANCE,
        });
        appendPoints(db, ensureSeries(db, run.seq, KEY), STEPS, values, times);
        finishRun(db, run.seq, "completed", 1_700_000_000 + i * 100 + 99);
        return run.id;
      }),
    );
    if (performance.now() - reported > 30_000) {
      reported = performance.now();
      progress(i + 1 - from, to - from);
    }
  }
  return ids;
}

async function startServe(target) {
  const child = spawn(process.execPath, [join(REPO, "dist/cli/main.js"), "serve", "--db", target, "--port", "0"], {
    env: baseEnv,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((ready, fail) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /api:\s+(http:\/\/\S+?)\/?\s/.exec(out);
      if (match) ready(match[1].replace(/\/api$/, ""));
    });
    child.on("exit", () => fail(new Error(`serve exited: ${out}`)));
  });
  return {
    url,
    async stop() {
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return { body: await response.json(), total: Number(response.headers.get("x-total-count")) };
}

/** The first request (a fresh server), then REPEATS timed ones after 3 warm-ups; milliseconds. */
async function timeRequests(makeUrl, check) {
  let start = performance.now();
  check(await getJson(makeUrl()));
  const first = performance.now() - start;
  for (let i = 0; i < 5; i++) await getJson(makeUrl());
  const samples = [];
  for (let i = 0; i < REPEATS; i++) {
    const url = makeUrl();
    start = performance.now();
    check(await getJson(url));
    samples.push(performance.now() - start);
  }
  return { first, p50: median(samples), p90: quantile(samples, 0.9) };
}

/** Reads an SSE stream; calls onPoints(data, arrival ms) for each `points` event. */
function listen(url, onPoints) {
  const controller = new AbortController();
  const opened = (async () => {
    const response = await fetch(`${url}/api/events`, { signal: controller.signal });
    const decoder = new TextDecoder();
    let buffer = "";
    let readyResolve;
    const ready = new Promise((done) => {
      readyResolve = done;
    });
    const reading = (async () => {
      try {
        for await (const chunk of response.body) {
          const now = performance.now() + performance.timeOrigin;
          buffer += decoder.decode(chunk, { stream: true });
          for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (block.includes("event: ready")) readyResolve();
            if (block.includes("event: points")) onPoints(JSON.parse(block.slice(block.indexOf("data: ") + 6)), now);
          }
        }
      } catch {
        // Aborted at the end.
      }
    })();
    await ready;
    // Wrapped: an async function returning the promise itself would wait for the stream's end.
    return { reading };
  })();
  return {
    opened,
    async close() {
      controller.abort();
      await (await opened).reading;
    },
  };
}

const b64 = (xs) => Buffer.from(Float64Array.from(xs).buffer).toString("base64");

/** LIVE points, one every 200 ms, POSTed to server A; delays to the event on A's and on B's stream. */
async function liveLatency(a, b, stage) {
  const runId = `live-${stage}-${Math.random().toString(36).slice(2, 10)}`;
  const sent = new Map();
  const arrived = { a: new Map(), b: new Map() };
  const streams = {
    a: listen(a.url, (data, at) => data.run_id === runId && arrived.a.set(data.steps.at(-1), at)),
    b: listen(b.url, (data, at) => data.run_id === runId && arrived.b.set(data.steps.at(-1), at)),
  };
  await Promise.all([streams.a.opened, streams.b.opened]);
  const now = Date.now() / 1000;
  const put = await fetch(`${a.url}/api/runs/${runId}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      experiment: "live",
      project: null,
      name: runId,
      config: {},
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      color: null,
      createdAt: now,
      status: "running",
      endedAt: null,
      lastHeartbeat: now,
      provenance: PROVENANCE,
    }),
  });
  if (!put.ok) throw new Error(`PUT run: ${put.status} ${await put.text()}`);
  await new Promise((wait) => setTimeout(wait, 500));
  for (let step = 0; step < LIVE; step++) {
    const at = performance.now() + performance.timeOrigin;
    sent.set(step, at);
    const response = await fetch(`${a.url}/api/runs/${runId}/points`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        series: [{ key: KEY, start: step, steps: b64([step]), values: b64([1 / (step + 1)]), times: b64([at / 1000]) }],
      }),
    });
    if (!response.ok) throw new Error(`POST points: ${response.status} ${await response.text()}`);
    await new Promise((wait) => setTimeout(wait, 200));
  }
  await new Promise((wait) => setTimeout(wait, 1000));
  await Promise.all([streams.a.close(), streams.b.close()]);
  const delays = (which) => [...sent].filter(([s]) => arrived[which].has(s)).map(([s, t]) => arrived[which].get(s) - t);
  const same = delays("a");
  const other = delays("b");
  const summary = (xs) => ({
    p50: xs.length ? median(xs) : Number.NaN,
    p90: xs.length ? quantile(xs, 0.9) : Number.NaN,
    max: xs.length ? Math.max(...xs) : Number.NaN,
    missing: LIVE - xs.length,
  });
  return { same: summary(same), other: summary(other) };
}

async function measure(backend, stage, stored) {
  const a = await startServe(backend.target);
  const b = await startServe(backend.target);
  try {
    // Both servers finish starting (and the machine settles) before anything is timed.
    await Promise.all([getJson(`${a.url}/api/experiments`), getJson(`${b.url}/api/experiments`)]);
    await new Promise((wait) => setTimeout(wait, 2000));
    const experiments = (await getJson(`${a.url}/api/experiments`)).body;
    const idOf = (name) => experiments.find((e) => e.name === name)?.id;
    const key = encodeURIComponent(KEY);
    const checkSeries = ({ body }) => {
      if (body.steps.length === 0 || body.steps.length > 1000) throw new Error(`${body.steps.length} points returned`);
    };
    const everyRun = [...backend.fixedIds, ...backend.bulkIds];
    const series = await timeRequests(
      () => `${a.url}/api/runs/${backend.fixedIds[0]}/metrics?key=${key}&downsample=1000`,
      checkSeries,
    );
    const seriesRandom = await timeRequests(
      () =>
        `${a.url}/api/runs/${everyRun[Math.floor(Math.random() * everyRun.length)]}/metrics?key=${key}&downsample=1000`,
      checkSeries,
    );
    const lists = {};
    for (const [name, runs] of [
      ["fixed", backend.fixedIds.length],
      ["bulk", backend.bulkIds.length],
    ]) {
      if (runs === 0) continue;
      const id = idOf(name);
      const expect =
        (size) =>
        ({ body, total }) => {
          if (total !== runs || body.length !== Math.min(size, runs))
            throw new Error(`${name}: ${body.length} of ${total}`);
        };
      lists[name] = {
        runs,
        page: await timeRequests(() => `${a.url}/api/experiments/${id}/runs?limit=5000&offset=0`, expect(5000)),
        sorted: await timeRequests(
          () => `${a.url}/api/experiments/${id}/runs?sort=metric.${KEY}.min&order=asc&limit=100`,
          expect(100),
        ),
      };
    }
    const live = await liveLatency(a, b, stage);
    const result = { backend: backend.name, stage, stored, load: loadavg()[0], series, seriesRandom, lists, live };
    log(
      `${backend.name} @ ${fmt(stored)} points: downsample p50 ${ms(series.p50)} ms (random run ${ms(seriesRandom.p50)} ms); ` +
        Object.entries(lists)
          .map(([n, l]) => `${n} (${l.runs} runs) page p50 ${ms(l.page.p50)} ms, sorted p50 ${ms(l.sorted.p50)} ms`)
          .join("; ") +
        `; live same ${ms(live.same.p50)} ms, other server ${ms(live.other.p50)} ms (missing ${live.same.missing}/${live.other.missing})`,
    );
    return result;
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

/** The block for RESULTS.md from the stages measured so far (written after each stage: a long run leaves its early stages). */
function report() {
  const pair = (stored, fn) =>
    ["SQLite", "PostgreSQL"]
      .map((name) => fn(results.find((r) => r.stored === stored && r.backend === name)))
      .join(" | ");
  const storedList = [...new Set(populate.map((r) => r.stored))].filter((stored) =>
    results.some((r) => r.stored === stored),
  );
  const goal = (value, limit) => (value <= limit ? "met" : "**missed**");
  const lines = [];
  lines.push(
    `Command: \`node bench/pg_reads_scale.mjs --write\` (STAGES=${STAGES.join(",")}), ${new Date().toISOString().slice(0, 10)}; ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, PostgreSQL ${cluster.version} (private cluster on 127.0.0.1 under /tmp: ${tuningText()}; fsync off is for the benchmark only, never for data you keep). The VM is shared with other engineers' work: load averages are given per row. Two real \`stonks serve\` processes per backend and stage (SQLite: two servers on one file; PostgreSQL: two servers on one database); requests with Node's fetch over keep-alive, JSON parsed; p50 and p90 of ${REPEATS} requests after 5 warm-ups, "first" = the first request of a fresh server.`,
    "",
    `Stored data: experiment "fixed" of ${FIXED_RUNS} runs × ${fmt(POINTS_PER_RUN)} points (written first, measured at every stage), then experiment "bulk" of runs × ${fmt(POINTS_PER_RUN)} points (${STAGES.map(fmt).join(" → ")} runs): one series per run, chunks of 1,024 points and their rollups, as the SDKs store them.`,
    "",
    "#### Populating (store layer in the benchmark process: insertRun, ensureSeries, appendPoints, finishRun; one transaction per run)",
    "",
    "| stored points after | SQLite: points/s (written in) | PostgreSQL: points/s (written in) | SQLite file | PostgreSQL database | load at start |",
    "|---|---|---|---|---|---|",
    ...storedList.map((stored) => {
      const p = (name) => populate.find((x) => x.stored === stored && x.backend === name);
      const s = (name) => sizes.find((x) => x.stored === stored && x.backend === name);
      return `| ${fmt(stored)} | ${fmt(p("SQLite").rate)} (${p("SQLite").seconds.toFixed(0)} s) | ${fmt(p("PostgreSQL").rate)} (${p("PostgreSQL").seconds.toFixed(0)} s) | ${(s("SQLite").bytes / 2 ** 30).toFixed(2)} GiB | ${(s("PostgreSQL").bytes / 2 ** 30).toFixed(2)} GiB | ${p("SQLite").load.toFixed(1)} / ${p("PostgreSQL").load.toFixed(1)} |`;
    }),
    "",
    "#### Reads as the data grows: p50 (p90) in ms",
    "",
    `| stored points | backend | downsample=1000, the same ${fmt(POINTS_PER_RUN)}-point series (goal ≤ 30) | downsample=1000, a random run each request | runs list of "fixed" (${FIXED_RUNS} runs), the dashboard's first page | "fixed" sorted by metric.train/loss.min, page of 100 | load |`,
    "|---|---|---|---|---|---|---|",
    ...results.map(
      (r) =>
        `| ${fmt(r.stored)} | ${r.backend} | ${ms(r.series.p50)} (${ms(r.series.p90)}) | ${ms(r.seriesRandom.p50)} (${ms(r.seriesRandom.p90)}) | ${ms(r.lists.fixed.page.p50)} (${ms(r.lists.fixed.page.p90)}) | ${ms(r.lists.fixed.sorted.p50)} (${ms(r.lists.fixed.sorted.p90)}) | ${r.load.toFixed(1)} |`,
    ),
    "",
    '#### Runs list of the "bulk" experiment (GET /api/experiments/{id}/runs as the dashboard asks; goal p50 ≤ 100 ms at 10,000 runs)',
    "",
    "| stored points | runs in the experiment | first page (limit=5000, newest first): p50 (p90), first request | sorted by metric.train/loss.min, limit=100: p50 (p90), first request | goal |",
    "|---|---|---|---|---|",
    ...results
      .filter((r) => r.lists.bulk)
      .map((r) => {
        const l = r.lists.bulk;
        return `| ${fmt(r.stored)} (${r.backend}, load ${r.load.toFixed(1)}) | ${fmt(l.runs)} | ${ms(l.page.p50)} (${ms(l.page.p90)}), ${ms(l.page.first)} | ${ms(l.sorted.p50)} (${ms(l.sorted.p90)}), ${ms(l.sorted.first)} | ${l.runs >= 10_000 ? `${goal(l.page.p50, 100)} / ${goal(l.sorted.p50, 100)}` : "(context)"} |`;
      }),
    "",
    `#### Live events: a point POSTed to server A → its \`points\` event on an SSE client (${LIVE} points, one every 200 ms; goal ≤ 500 ms)`,
    "",
    "| stored points | backend | same server: p50 / p90 / max | other server (B): p50 / p90 / max | events missing (A / B) | goal (p90 on A and on B ≤ 500 ms) |",
    "|---|---|---|---|---|---|",
    ...results.map(
      (r) =>
        `| ${fmt(r.stored)} | ${r.backend} | ${ms(r.live.same.p50)} / ${ms(r.live.same.p90)} / ${ms(r.live.same.max)} ms | ${ms(r.live.other.p50)} / ${ms(r.live.other.p90)} / ${ms(r.live.other.max)} ms | ${r.live.same.missing} / ${r.live.other.missing} | ${goal(Math.max(r.live.same.p90, r.live.other.p90), 500)} |`,
    ),
    "",
    `Downsampled reads at the largest stage: ${pair(storedList.at(-1), (r) => `${r.backend} p50 ${ms(r.series.p50)} ms (${goal(r.series.p50, 30)})`)}; first request of a fresh server: ${pair(storedList.at(-1), (r) => `${ms(r.series.first)} ms`)}.`,
  );
  const text = lines.join("\n");
  console.log(text);
  if (process.argv.includes("--write")) {
    writeResultsBlock(
      "## PostgreSQL backend (bench/pg_*.mjs)",
      "The PostgreSQL storage backend (src/store/pg): how its write path was chosen and what it costs.",
      "pg-reads-scale",
      `### Reads and live events from 1 M to 100 M stored points, SQLite beside PostgreSQL (bench/pg_reads_scale.mjs)\n\n${text}`,
    );
  }
}

const workDir = mkdtempSync("/tmp/stonks-bench-scale-");
log(`free on /tmp at start: ${freeGiB().toFixed(1)} GiB`);
const cluster = await startBenchCluster();
let cleaned = false;
function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  try {
    cluster.stop();
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

const results = [];
const populate = [];
const sizes = [];
try {
  await cluster.query("CREATE DATABASE stonks_bench");
  const backends = [
    { name: "SQLite", target: join(workDir, "bench.db"), fixedIds: [], bulkIds: [] },
    { name: "PostgreSQL", target: cluster.url("stonks_bench"), fixedIds: [], bulkIds: [] },
  ];
  let previous = 0;
  for (const [index, bulkRuns] of STAGES.entries()) {
    const stored = (FIXED_RUNS + bulkRuns) * POINTS_PER_RUN;
    for (const backend of backends) {
      const db = openDatabase(backend.target);
      const started = performance.now();
      const loadAtStart = loadavg()[0];
      const progress = (name) => (done, of) =>
        log(
          `${backend.name}: ${name} ${done}/${of} runs, ${fmt((done * POINTS_PER_RUN) / ((performance.now() - started) / 1000))} points/s`,
        );
      let written = 0;
      if (index === 0) {
        backend.fixedIds.push(...writeRuns(db, "fixed", 0, FIXED_RUNS, progress("fixed")));
        written += FIXED_RUNS;
      }
      backend.bulkIds.push(...writeRuns(db, "bulk", previous, bulkRuns, progress("bulk")));
      written += bulkRuns - previous;
      db.close();
      const seconds = (performance.now() - started) / 1000;
      if (backend.name === "PostgreSQL") await cluster.query("ANALYZE", "stonks_bench");
      const bytes =
        backend.name === "SQLite"
          ? statSync(backend.target).size
          : Number((await cluster.query("SELECT pg_database_size('stonks_bench') AS b", "stonks_bench")).rows[0].b);
      sizes.push({ backend: backend.name, stored, bytes });
      const rate = (written * POINTS_PER_RUN) / seconds;
      populate.push({
        backend: backend.name,
        stored,
        written: written * POINTS_PER_RUN,
        seconds,
        rate,
        load: loadAtStart,
      });
      log(
        `${backend.name}: wrote ${fmt(written * POINTS_PER_RUN)} points in ${seconds.toFixed(1)} s (${fmt(rate)} points/s), database ${(bytes / 2 ** 30).toFixed(2)} GiB; /tmp free ${freeGiB().toFixed(1)} GiB`,
      );
    }
    for (const backend of backends) results.push(await measure(backend, index, stored));
    report();
    previous = bulkRuns;
  }
} finally {
  cleanUp();
  log(`cleaned up; free on /tmp: ${freeGiB().toFixed(1)} GiB`);
}
