// Delay from a writer's flush to the SSE `points` event (goal ≤ 500 ms).
// Three processes, as in real use: `stonks serve` (dist/cli/main.js), a
// training script logging with the TypeScript SDK (dist/index.js), and this
// script reading /api/events. The writer logs 10 points, awaits flush() and
// prints the time; the delay is the event's arrival minus that time (one
// clock: same machine). The server polls PRAGMA data_version every 150 ms.
// Run: npm run build && node bench/api_live.mjs   (FLUSHES=40 by default)
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { machine, median, ms, quantile, tempDb, writeResults } from "./api_common.mjs";

const FLUSHES = Number(process.env.FLUSHES ?? 40);
const INTERVAL_MS = 250;
const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const SDK = new URL("../dist/index.js", import.meta.url).href;

const WRITER = `
import { startRun } from ${JSON.stringify(SDK)};
const run = startRun("live-bench", { runName: "writer" });
run.start();
await run.flush();
console.log("started " + run.id);
let step = 0;
for (let flush = 0; flush < ${FLUSHES}; flush++) {
  await new Promise((resolve) => setTimeout(resolve, ${INTERVAL_MS}));
  for (let i = 0; i < 10; i++) run.log({ "train/loss": 1 / (step + 1) }, { step: step++ });
  const called = Date.now();
  await run.flush();
  console.log("flushed " + step + " " + called + " " + Date.now());
}
await run.finish("completed");
`;

function lines(child) {
  const seen = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    seen.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    seen,
    async first(prefix) {
      for (;;) {
        const line = seen.find((l) => l.startsWith(prefix));
        if (line !== undefined) return line;
        await new Promise((resolve) => waiters.push(resolve));
      }
    },
  };
}

const db = tempDb("api-live");
const server = spawn(process.execPath, [CLI, "serve", "--db", db.path, "--port", "0"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const url = (await lines(server).first("  dashboard:")).match(/(http:\/\/[^/]+)/)[1];

// The stream starts before the writer so that it sees every flush.
const controller = new AbortController();
const response = await fetch(`${url}/api/events`, { signal: controller.signal });
const arrivals = new Map(); // last step of a points event -> arrival time
const reading = (async () => {
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for await (const chunk of response.body) {
      const now = Date.now();
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.includes("event: points")) {
          const data = JSON.parse(block.slice(block.indexOf("data: ") + 6));
          arrivals.set(data.steps[data.steps.length - 1] + 1, now);
        }
        end = buffer.indexOf("\n\n");
      }
    }
  } catch {
    // Aborted at the end.
  }
})();

const writer = spawn(process.execPath, ["--input-type=module", "-e", WRITER], {
  env: { ...process.env, STONKS_DB: db.path },
  stdio: ["ignore", "pipe", "inherit"],
});
const writerLines = lines(writer);
await new Promise((resolve) => writer.on("close", resolve));
await new Promise((resolve) => setTimeout(resolve, 1000));
controller.abort();
await reading;
server.kill("SIGTERM");
await new Promise((resolve) => server.on("close", resolve));
db.remove();

const fromReturn = [];
const fromCall = [];
let missing = 0;
for (const line of writerLines.seen.filter((l) => l.startsWith("flushed "))) {
  const [, step, called, returned] = line.split(" ").map(Number);
  const arrived = arrivals.get(step);
  if (arrived === undefined) {
    missing++;
    continue;
  }
  fromReturn.push(arrived - returned);
  fromCall.push(arrived - called);
}
const row = (label, xs) =>
  `| ${label} | ${ms(median(xs))} ms | ${ms(quantile(xs, 0.9))} ms | ${ms(Math.max(...xs))} ms | ${ms(Math.min(...xs))} ms |`;
console.log(
  `flush() returned -> event: p50 ${ms(median(fromReturn))} ms, p90 ${ms(quantile(fromReturn, 0.9))} ms, max ${ms(Math.max(...fromReturn))} ms; missing ${missing}`,
);
console.log(`flush() called -> event: p50 ${ms(median(fromCall))} ms`);

writeResults(
  "api-live",
  `### Writer flush to SSE event (bench/api_live.mjs)

${machine()}; three processes: \`stonks serve\`, a script logging with the TypeScript SDK (10 points, then \`await run.flush()\`, every ${INTERVAL_MS} ms, ${FLUSHES} flushes) and an SSE reader of /api/events. Delay = arrival of the \`points\` event that ends with the flushed step, minus the writer's clock when \`flush()\` returned (or was called). The server polls \`PRAGMA data_version\` every 150 ms, so about 75 ms of the delay is the average wait for the next poll. No baseline: the dashboard had no live updates before. Goal: ≤ 500 ms. Events missing: ${missing}.

| delay measured from | p50 | p90 | max | min |
|---|---|---|---|---|
${row("flush() returned", fromReturn)}
${row("flush() called", fromCall)}`,
);
