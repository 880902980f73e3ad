// Remote logging from the TypeScript SDK (issue 13): log() cost in remote mode next to local mode in the same
// run, points/s from log() to durable on the server for one process, and flush() to the live `points` event a
// dashboard's event stream receives.
// Run: npm run build && node bench/remote_ts.mjs [--write]  (medians of RUNS repetitions; --write puts the block
// in RESULTS.md). The server is a real `stonks serve` process on 127.0.0.1.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startRun } from "../dist/index.js";
import { RING_RECORDS } from "../dist/sdk/protocol.js";
import { writeResultsBlock } from "./results.mjs";

const RUNS = Number(process.env.RUNS ?? 5);
const dir = mkdtempSync(join(tmpdir(), "stonks-bench-remote-"));
process.env.STONKS_SPOOL_DIR = join(dir, "spool");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
const METRICS = 4;
const BURST_CALLS = RING_RECORDS / METRICS / 4;
const BURSTS = 100;
const rows = [];

async function startServer(port) {
  const child = spawn(
    process.execPath,
    ["dist/cli/main.js", "serve", "--db", join(dir, "server.db"), "--port", String(port)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (/api:\s+http/.test(out)) resolve();
    });
    child.on("exit", () => reject(new Error(`serve exited: ${out}`)));
  });
  return child;
}

/** Steady-state log() cost with 4 metrics: bursts within the ring, the writer (and shipper) catching up between them. */
async function logCost(db) {
  const run = startRun("bench-remote-log", { db }).start();
  for (let i = 0; i < 10_000; i++) run.log({ "train/loss": i, "train/acc": i, "val/loss": i, lr: i });
  await run.flush();
  let logging = 0n;
  for (let b = 0; b < BURSTS; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BURST_CALLS; i++) run.log({ "train/loss": 0.5, "train/acc": 0.9, "val/loss": 0.6, lr: 0.001 });
    logging += process.hrtime.bigint() - t0;
    await run.flush();
    // Both modes: the server and the threads settle before the next timed burst, so only log() is measured.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await run.finish();
  return Number(logging) / (BURSTS * BURST_CALLS);
}

/** Points per second from the first log() to flush() resolving: durable in the file, or acknowledged by the server. */
async function ingest(db, calls) {
  const run = startRun("bench-remote-ingest", { db }).start();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) run.log({ "train/loss": i, "train/acc": i, "val/loss": i, lr: i });
  await run.flush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await run.finish();
  return (calls * METRICS) / seconds;
}

/** flush() of one point to the `points` event carrying it on GET /api/events. */
async function liveLatency(url, samples) {
  const run = startRun("bench-remote-live", { db: url }).start();
  run.log({ warmup: 0 });
  await run.flush();
  const controller = new AbortController();
  const response = await fetch(`${url}/api/events`, { signal: controller.signal });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let waiting = null;
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.includes("event: points") && waiting !== null && block.includes(waiting.marker)) {
            waiting.resolve(performance.now());
            waiting = null;
          }
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // The stream is aborted at the end.
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const latencies = [];
  for (let i = 1; i <= samples; i++) {
    const value = 1_000_000 + i;
    const arrived = new Promise((resolve) => {
      waiting = { marker: String(value), resolve };
    });
    const t0 = performance.now();
    run.log({ live: value });
    await run.flush();
    latencies.push((await arrived) - t0);
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 150));
  }
  controller.abort();
  await pump;
  await run.finish();
  return latencies;
}

const port = 20000 + Math.floor(Math.random() * 20000);
const url = `http://127.0.0.1:${port}`;
const server = await startServer(port);
try {
  const local = [];
  const remote = [];
  for (let r = 0; r < RUNS; r++) {
    local.push(await logCost(join(dir, `local-${r}.db`)));
    remote.push(await logCost(url));
  }
  rows.push(["log() with 4 metrics, per call, steady state", median(local), median(remote), "ns", "≤ 1,000 ns"]);
  const calls = Number(process.env.INGEST_CALLS ?? 250_000);
  const localIngest = [];
  const remoteIngest = [];
  for (let r = 0; r < RUNS; r++) {
    localIngest.push(await ingest(join(dir, `ingest-${r}.db`), calls));
    remoteIngest.push(await ingest(url, calls));
  }
  rows.push([
    `one process, ${calls * METRICS} points, log() to durable (file / server)`,
    median(localIngest),
    median(remoteIngest),
    "points/s",
    "(context)",
  ]);
  const latencies = await liveLatency(url, Number(process.env.LIVE_SAMPLES ?? 40));
  rows.push(["flush() to the live points event, p50", null, quantile(latencies, 0.5), "ms", "≤ 500 ms"]);
  rows.push(["flush() to the live points event, p90", null, quantile(latencies, 0.9), "ms", "≤ 500 ms"]);
} finally {
  server.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}

const format = (value, unit) =>
  value === null
    ? "-"
    : unit === "points/s"
      ? Math.round(value).toLocaleString("en-US")
      : value.toFixed(unit === "ms" ? 0 : 0);
const table = [
  "| measure | local file | server | ratio server/local | goal |",
  "|---|---|---|---|---|",
  ...rows.map(
    ([name, local, remote, unit, goal]) =>
      `| ${name} | ${local === null ? "-" : `${format(local, unit)} ${unit}`} | ${format(remote, unit)} ${unit} | ${local === null ? "-" : (remote / local).toFixed(2)} | ${goal} |`,
  ),
];
const text = `${table.join("\n")}\n\nMedians of ${RUNS} runs (latency: ${process.env.LIVE_SAMPLES ?? 40} flushes), local and remote alternating in one process; Node ${process.version}, ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}. log() runs the same code in both modes (four floats into the shared ring); what differs is the CPU the shipper thread and the server process take on the same cores while the bursts run. Durable on the server: flush() resolved, every point acknowledged.`;
console.log(text);
if (process.argv.includes("--write")) {
  writeResultsBlock(
    "## Remote logging (issue 13)",
    "A real `stonks serve` on 127.0.0.1; SDK processes log to it through their spool (docs/remote.md).",
    "remote-ts",
    `### TypeScript SDK: \`node bench/remote_ts.mjs\`\n\n${text}`,
  );
}
