// The server under heavy point reads (goal: GET /api/experiments answers
// within 1 s and the server's RSS stays under 500 MB). A real `stonks serve`
// process (dist/cli/main.js) on a real file with one 1,000,000-point series
// and 200 series of 10,000 points, and three attacks, one after the other:
//   1. batch: 8 clients in a loop POST /api/series asking the million-point
//      series 200 times at downsample 100000 (20 M points; answered 400 now);
//   2. at the cap: 4 clients in a loop POST /api/series asking the 200 small
//      series at downsample 100000 (2 M points, the most one response may
//      carry; streamed, each client reads every answer);
//   3. non-reading clients: 60 raw sockets that each send GET of the whole
//      million-point series (no downsample) and never read a byte.
// During each, the server's VmRSS (/proc/<pid>/status) is sampled every
// 100 ms and GET /api/experiments is timed every 200 ms on a fresh connection.
// Run: npm run build && node bench/api_heavy_reads.mjs   (ATTACK_S=15 by default)
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { appendPoints, ensureSeries, finishRun, insertRun } from "../dist/store/writes.js";
import { machine, median, ms, PROVENANCE, quantile, tempDb, writeResults } from "./api_common.mjs";

const ATTACK_S = Number(process.env.ATTACK_S ?? 15);
const BIG = 1_000_000;
const SMALL_SERIES = 200;
const SMALL = 10_000;
const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

function newRun(db, name) {
  return runImmediate(db, () =>
    insertRun(db, {
      experimentName: "heavy",
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
}

function writePoints(db, runSeq, key, count) {
  const series = runImmediate(db, () => ensureSeries(db, runSeq, key));
  for (let start = 0; start < count; start += 100_000) {
    const n = Math.min(100_000, count - start);
    const steps = Float64Array.from({ length: n }, (_, i) => start + i);
    const values = Float64Array.from(steps, (s) => 2 + 8 * (1 + s / 2000) ** -0.4 + 0.05 * Math.sin(s * 12.9898));
    const times = Float64Array.from(steps, (s) => 1_700_000_000 + s * 0.3);
    runImmediate(db, () => appendPoints(db, series, steps, values, times));
  }
}

function writeData(path) {
  const db = openDatabase(path);
  const big = newRun(db, "million");
  writePoints(db, big.seq, "train/loss", BIG);
  runImmediate(db, () => finishRun(db, big.seq, "completed", 1_700_300_000));
  const small = [];
  for (let i = 0; i < SMALL_SERIES; i++) {
    const run = newRun(db, `small-${i}`);
    writePoints(db, run.seq, "train/loss", SMALL);
    runImmediate(db, () => finishRun(db, run.seq, "completed", 1_700_003_000));
    small.push(run.id);
  }
  db.close();
  return { bigId: big.id, smallIds: small };
}

async function startServe(dbPath) {
  const child = spawn(process.execPath, [CLI, "serve", "--db", dbPath, "--port", "0"], {
    env: { ...process.env, STONKS_TOKEN: "", STONKS_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const match = /dashboard: (http:\/\/\S+?)\/$/.exec(line);
      if (match) resolve(match[1]);
    });
    child.once("exit", () => reject(new Error("stonks serve exited")));
  });
  return { child, url: new URL(url) };
}

function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** GET on a new connection (no keep-alive), so a probe never waits behind another request. */
function probe(url) {
  return new Promise((resolve) => {
    const start = performance.now();
    const req = request(
      { host: url.hostname, port: url.port, path: "/api/experiments", agent: false, timeout: 60_000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ ms: performance.now() - start, status: res.statusCode }));
      },
    );
    req.on("error", () => resolve({ ms: performance.now() - start, status: 0 }));
    req.end();
  });
}

/** Samples RSS and probes latency until stop() is called. */
function observe(server) {
  const rss = [];
  const latencies = [];
  const statuses = [];
  let running = true;
  const rssTimer = setInterval(() => rss.push(rssMiB(server.child.pid)), 100);
  const probing = (async () => {
    while (running) {
      const reply = await probe(server.url);
      latencies.push(reply.ms);
      statuses.push(reply.status);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return async () => {
    running = false;
    clearInterval(rssTimer);
    await probing;
    return { rss, latencies, statuses };
  };
}

async function postSeries(url, body) {
  const response = await fetch(`${url.origin}/api/series`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, bytes: text.length };
}

async function loopClients(count, seconds, call) {
  const deadline = Date.now() + seconds * 1000;
  const statuses = new Map();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: count }, async () => {
      while (Date.now() < deadline) {
        const reply = await call();
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        bytes += reply.bytes;
      }
    }),
  );
  return { statuses, bytes };
}

async function nonReadingClients(url, path, count, seconds) {
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(Number(url.port), url.hostname);
    socket.on("error", () => {});
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    // Never read: no 'data' listener, and paused so Node does not read for us.
    socket.pause();
    sockets.push(socket);
  }
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const open = sockets.filter((s) => !s.destroyed).length;
  for (const socket of sockets) socket.destroy();
  return { open };
}

const describeStatuses = (statuses) =>
  [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${n} × ${status}`)
    .join(", ");

const db = tempDb("api-heavy");
const written = performance.now();
const { bigId, smallIds } = writeData(db.path);
console.log(`wrote ${BIG + SMALL_SERIES * SMALL} points in ${((performance.now() - written) / 1000).toFixed(1)} s`);
const server = await startServe(db.path);
const idleRss = rssMiB(server.child.pid);

const attacks = [
  {
    label: `8 clients in a loop: POST /api/series, the 1 M-point series × 200 at downsample 100000 (20 M points)`,
    run: async () => {
      const body = {
        series: Array.from({ length: 200 }, () => ({ run_id: bigId, key: "train/loss" })),
        downsample: 100_000,
      };
      const { statuses } = await loopClients(8, ATTACK_S, () => postSeries(server.url, body));
      return describeStatuses(statuses);
    },
  },
  {
    label: `4 clients in a loop: POST /api/series, ${SMALL_SERIES} series of ${SMALL.toLocaleString("en-US")} points at downsample 100000 (2 M points, at the cap), read in full`,
    run: async () => {
      const body = { series: smallIds.map((id) => ({ run_id: id, key: "train/loss" })), downsample: 100_000 };
      const { statuses, bytes } = await loopClients(4, ATTACK_S, () => postSeries(server.url, body));
      return `${describeStatuses(statuses)}; ${(bytes / 2 ** 20).toFixed(0)} MiB read`;
    },
  },
  {
    label: "60 raw sockets: GET /api/runs/{id}/metrics of the whole 1 M-point series, never read",
    run: async () => {
      const path = `/api/runs/${bigId}/metrics?key=train%2Floss`;
      const { open } = await nonReadingClients(server.url, path, 60, ATTACK_S);
      return `${open} sockets still open at the end`;
    },
  },
];

const rows = [];
for (const attack of attacks) {
  const stop = observe(server);
  const outcome = await attack.run();
  const seen = await stop();
  // Let the server settle before the next attack.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const row = {
    label: attack.label,
    outcome,
    maxRss: Math.max(...seen.rss),
    p50: median(seen.latencies),
    p99: quantile(seen.latencies, 0.99),
    max: Math.max(...seen.latencies),
    probes: seen.latencies.length,
    failed: seen.statuses.filter((s) => s !== 200).length,
  };
  rows.push(row);
  console.log(
    `${row.label}: ${row.outcome}; RSS max ${row.maxRss.toFixed(0)} MiB; /api/experiments p50 ${ms(row.p50)} ms, max ${ms(row.max)} ms (${row.probes} probes, ${row.failed} failed)`,
  );
}
server.child.kill("SIGTERM");
db.remove();

writeResults(
  "api-heavy-reads",
  `### Heavy point reads: a bounded server (bench/api_heavy_reads.mjs)

${machine()}; a real \`stonks serve\` process on a file with one ${BIG.toLocaleString("en-US")}-point series and ${SMALL_SERIES} series of ${SMALL.toLocaleString("en-US")} points. Each attack lasts ${ATTACK_S} s; meanwhile the server's VmRSS is sampled every 100 ms and \`GET /api/experiments\` is timed every 200 ms on a new connection. Idle RSS before the attacks: ${idleRss.toFixed(0)} MiB. Goals: every probe answered within 1 s, RSS under 500 MB (477 MiB). Before the limits (issue 8): the 20 M-point batch blocked the event loop 30 s, grew to 2.1 GB and answered 500; 60 non-reading clients took RSS to 2.6 GB and the server stopped answering for 34 s.

| attack | answers | max RSS | /api/experiments p50 | p99 | max | probes (failed) |
|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.label} | ${r.outcome} | ${r.maxRss.toFixed(0)} MiB | ${ms(r.p50)} ms | ${ms(r.p99)} ms | ${ms(r.max)} ms | ${r.probes} (${r.failed}) |`).join("\n")}`,
);
