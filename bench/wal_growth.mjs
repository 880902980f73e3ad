// The write-ahead log while writers ingest and a server polls (issue 8, part 9).
// Run: npm run build && node bench/wal_growth.mjs
//   POINTS (default 10,000,000) points in all, split over WRITERS (default "ts,py": one TypeScript
//   and one Python SDK process), while `stonks serve` (built dist/) streams live events to an SSE
//   client that also reads every series downsampled every 500 ms, as an open dashboard does.
//   DIST=/path/to/other/dist measures another build (e.g. the one before the fix) the same way;
//   the Python writer then comes from DIST/../python.
// Prints the largest and the final size of the -wal file and the ingest rate as a Markdown table.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = resolve(process.env.DIST ?? join(ROOT, "dist"));
const PYTHON = join(dirname(DIST), "python");
const POINTS = Number(process.env.POINTS ?? 10_000_000);
const WRITERS = (process.env.WRITERS ?? "ts,py").split(",");
const METRICS = 4;
const MiB = 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), "stonks-wal-"));
const db = join(dir, "wal.db");
const walPath = `${db}-wal`;
const walSize = () => (existsSync(walPath) ? statSync(walPath).size : 0);

function startServer() {
  const child = spawn(process.execPath, [join(DIST, "cli", "main.js"), "serve", "--db", db, "--port", "0"], {
    env: { ...process.env, STONKS_DB: "", STONKS_TOKEN: "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolveUrl, reject) => {
    let out = "";
    child.stdout.on("data", (data) => {
      out += data;
      const match = /api:\s+(http:\/\/\S+)\/api/.exec(out);
      if (match) resolveUrl({ child, url: match[1] });
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

/** An open dashboard: one live-event stream read as it comes, and every chart refetched every 500 ms. */
function startDashboard(url) {
  const controller = new AbortController();
  let events = 0;
  let seriesReads = 0;
  const stream = (async () => {
    const response = await fetch(`${url}/api/events`, { signal: controller.signal });
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      events += new TextDecoder().decode(value).split("\nevent: ").length - 1;
    }
  })().catch(() => {});
  const charts = (async () => {
    while (!controller.signal.aborted) {
      const experiments = await (await fetch(`${url}/api/experiments`, { signal: controller.signal })).json();
      for (const experiment of experiments) {
        const runs = await (await fetch(`${url}/api/experiments/${experiment.id}/runs`)).json();
        const list = Array.isArray(runs) ? runs : runs.runs;
        const series = list.flatMap((run) =>
          Array.from({ length: METRICS }, (_, m) => ({ run_id: run.id, key: `m${m}` })),
        );
        if (series.length === 0) continue;
        const response = await fetch(`${url}/api/series`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ series, downsample: 1000 }),
          signal: controller.signal,
        });
        await response.arrayBuffer();
        seriesReads++;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })().catch(() => {});
  return {
    stats: () => ({ events, seriesReads }),
    stop: async () => {
      controller.abort();
      await Promise.all([stream, charts]);
    },
  };
}

function startWriter(kind, index, steps) {
  const metricNames = Array.from({ length: METRICS }, (_, m) => `m${m}`);
  let command;
  let args;
  let env = { ...process.env, STONKS_DB: "" };
  if (kind === "ts") {
    const script = `
      const { startRun } = await import(${JSON.stringify(join(DIST, "index.js"))});
      const run = startRun("wal-bench", { db: process.argv[1], runName: "ts-${index}" }).start();
      const names = ${JSON.stringify(metricNames)};
      for (let s = 0; s < ${steps}; s++) {
        const metrics = {};
        for (let m = 0; m < names.length; m++) metrics[names[m]] = Math.sin(s + m);
        run.log(metrics);
      }
      await run.finish();`;
    command = process.execPath;
    args = ["--input-type=module", "-e", script, db];
  } else {
    const script = `
import math, sys, stonks
names = ${JSON.stringify(metricNames)}
with stonks.start_run("wal-bench", db=sys.argv[1], run_name="py-${index}") as run:
    for s in range(${steps}):
        run.log({n: math.sin(s + m) for m, n in enumerate(names)})
`;
    command = "python3";
    args = ["-c", script, db];
    env = { ...env, PYTHONPATH: PYTHON };
  }
  const child = spawn(command, args, { env, stdio: ["ignore", "inherit", "inherit"] });
  return new Promise((resolveExit, reject) => {
    child.once("exit", (code) => (code === 0 ? resolveExit() : reject(new Error(`${kind} writer exited ${code}`))));
  });
}

const { child: server, url } = await startServer();
// A failed writer must not leave the server running.
process.on("exit", () => server.kill("SIGKILL"));
const dashboard = startDashboard(url);
let largest = 0;
let samples = 0;
const sampler = setInterval(() => {
  const size = walSize();
  largest = Math.max(largest, size);
  if (process.env.TRACE && ++samples % 25 === 0) process.stderr.write(`${(size / MiB).toFixed(0)} `);
}, 20);
const steps = Math.ceil(POINTS / METRICS / WRITERS.length);
const progress = (text) => process.stderr.write(`[wal_growth] ${text}\n`);
progress(`serving ${db} at ${url}; ${WRITERS.length} writers of ${steps} steps`);
const t0 = performance.now();
await Promise.all(WRITERS.map((kind, i) => startWriter(kind, i, steps)));
const seconds = (performance.now() - t0) / 1000;
progress(`writers done in ${seconds.toFixed(1)} s`);
// The server keeps polling: the log must not stay at its peak while a reader is open.
await new Promise((r) => setTimeout(r, 3000));
clearInterval(sampler);
largest = Math.max(largest, walSize());
const finalWhileServing = walSize();
const { events, seriesReads } = dashboard.stats();
await dashboard.stop();
progress("dashboard stopped");
server.kill("SIGTERM");
await new Promise((r) => server.once("exit", r));
const dbSize = statSync(db).size;
rmSync(dir, { recursive: true, force: true });

const points = steps * METRICS * WRITERS.length;
console.log(`| measure | value |`);
console.log(`|---|---|`);
console.log(`| build | ${DIST} |`);
console.log(`| writers | ${WRITERS.join(", ")} (${points.toLocaleString("en-US")} points, ${METRICS} metrics) |`);
console.log(`| largest -wal while writing | ${(largest / MiB).toFixed(1)} MiB |`);
console.log(`| -wal 3 s after the writers finished, server still open | ${(finalWhileServing / MiB).toFixed(1)} MiB |`);
console.log(`| database file | ${(dbSize / MiB).toFixed(1)} MiB |`);
console.log(
  `| ingest, all writers together | ${Math.round(points / seconds).toLocaleString("en-US")} points/s (${seconds.toFixed(1)} s) |`,
);
console.log(`| dashboard during the run | ${events} live events, ${seriesReads} series reads |`);
console.log(
  `\n${cpus().length} × ${cpus()[0].model}, Node ${process.version}; load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ")} when the run ended.`,
);
