// Dashboard benchmark: 20 live runs each logging 10 steps per second (2 metrics each), all charted.
// Every update must stay under one frame: main-thread time per live event, per chart redraw
// (all charts that changed, batched in one animation frame) and per React render of the page.
// Run: npm run build && node bench/ui_live.mjs   (SECONDS=20 per repetition, RUNS=3 repetitions)
import { Worker } from "node:worker_threads";
import {
  fmt,
  launch,
  machine,
  median,
  populateRuns,
  quantile,
  REPEATS,
  serve,
  tempDb,
  writeResults,
} from "./ui_common.mjs";

const RUNS = 20;
const RATE = 10;
const SECONDS = Number(process.env.SECONDS ?? 20);
const KEYS = ["train/loss", "train/acc"];
const REPS = Number(process.env.RUNS ?? Math.min(REPEATS, 3));

const db = tempDb("ui-live");
const ids = populateRuns(db.path, {
  experiment: "live-20",
  runs: RUNS,
  keys: KEYS,
  points: 100,
  live: true,
  value: (r, key, s) => (key === "train/loss" ? 2 * Math.exp(-s / 300) + r / 100 : 1 - Math.exp(-s / 300)),
});
const server = await serve(db.path);
const browser = await launch();

/** A training process stand-in on its own thread: every run logs one step (both keys) every 1/RATE s. */
function startWriter(step0) {
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    (async () => {
      const { openDatabase, runImmediate } = await import(workerData.base + "dist/store/connection.js");
      const { appendPoints, ensureSeries, touchHeartbeat } = await import(workerData.base + "dist/store/writes.js");
      const { getRunRow } = await import(workerData.base + "dist/store/reads.js");
      const db = openDatabase(workerData.path);
      const seqs = workerData.ids.map((id) => getRunRow(db, id).seq);
      let step = workerData.step0;
      const timer = setInterval(() => {
        const now = Date.now() / 1000;
        for (const seq of seqs) {
          runImmediate(db, () => {
            for (const key of workerData.keys) {
              const v = key === "train/loss" ? 2 * Math.exp(-step / 300) + Math.random() * 0.05 : 1 - Math.exp(-step / 300);
              appendPoints(db, ensureSeries(db, seq, key), Float64Array.of(step), Float64Array.of(v), Float64Array.of(now));
            }
            touchHeartbeat(db, seq, now);
          });
        }
        step++;
      }, 1000 / workerData.rate);
      parentPort.on("message", () => { clearInterval(timer); db.close(); parentPort.postMessage(step); });
    })();`;
  const worker = new Worker(code, {
    eval: true,
    workerData: { base: new URL("../", import.meta.url).href, path: db.path, ids, keys: KEYS, rate: RATE, step0 },
  });
  return {
    stop: () =>
      new Promise((resolve) => {
        worker.once("message", (step) => worker.terminate().then(() => resolve(step)));
        worker.postMessage("stop");
      }),
  };
}

async function once(step0) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    const w = window;
    w.__longTasks = [];
    w.__frames = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push(e.duration);
    }).observe({ type: "longtask", buffered: true });
  });
  await page.goto(`${server.url}/?exp=live-20&runs=${ids.join(",")}&perf`);
  await page.waitForFunction(
    (n) =>
      [...document.querySelectorAll("[data-testid=chart]")].every((c) => c.dataset.runs === String(n)) &&
      document.querySelectorAll("[data-testid=chart]").length === 2 &&
      document.querySelector("[data-testid=live-status]")?.dataset.status === "live",
    RUNS,
    { timeout: 30_000 },
  );
  // Only what happens while the runs log counts.
  await page.evaluate(() => {
    const w = window;
    const perf = w.__stonksPerf;
    perf.handler.length = 0;
    perf.frame.length = 0;
    perf.render.length = 0;
    perf.events = 0;
    perf.points = 0;
    w.__longTasks.length = 0;
    let last = performance.now();
    const tick = (t) => {
      w.__frames.push(t - last);
      last = t;
      if (!w.__stopFrames) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const pointsBefore = Number(await page.locator("[data-testid=chart]").first().getAttribute("data-points"));
  const writer = startWriter(step0);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const lastStep = await writer.stop();
  await page.waitForFunction(
    ({ before, expected }) => Number(document.querySelector("[data-testid=chart]").dataset.points) >= before + expected,
    { before: pointsBefore, expected: (lastStep - step0) * 20 },
    { timeout: 10_000 },
  );
  const result = await page.evaluate(() => {
    const w = window;
    w.__stopFrames = true;
    const p = w.__stonksPerf;
    return {
      handler: p.handler,
      frame: p.frame,
      render: p.render,
      events: p.events,
      points: p.points,
      longTasks: w.__longTasks,
      frames: w.__frames,
    };
  });
  await context.close();
  return { ...result, steps: lastStep - step0 };
}

const reps = [];
let step = 100;
for (let i = 0; i < REPS; i++) {
  const r = await once(step);
  step += r.steps;
  reps.push(r);
  console.error(
    `rep ${i}: ${r.events} events, ${r.points} points; handler max ${fmt(Math.max(...r.handler))} ms, frame max ${fmt(Math.max(...r.frame))} ms, render max ${fmt(Math.max(...r.render, 0))} ms, long tasks ${r.longTasks.length}`,
  );
}
await browser.close();
await server.close();
db.remove();

const row = (label, pick) => {
  const per = reps.map(pick);
  const all = per.flat();
  return `| ${label} | ${all.length} | ${fmt(median(per.map((xs) => median(xs))))} ms | ${fmt(median(per.map((xs) => quantile(xs, 0.99))))} ms | ${fmt(Math.max(...all))} ms | ${all.filter((x) => x > 16).length} |`;
};
const frames = reps.flatMap((r) => r.frames);
const markdown = `### Live: 20 runs logging 10 steps per second (bench/ui_live.mjs)

${machine()}. ${RUNS} running runs, all selected and charted (2 charts: \`train/loss\`, \`train/acc\`, 20 lines each), run table with their last values on screen. A writer thread logs one step of both metrics for every run every ${1000 / RATE} ms (${RUNS * RATE * KEYS.length} points/s, one transaction per run and step, as separate processes would) for ${SECONDS} s per repetition; the server polls every 150 ms and streams the new points. Per repetition: ${Math.round(median(reps.map((r) => r.events)))} \`points\` events and ${Math.round(median(reps.map((r) => r.points)))} points (medians). Main-thread time measured in the page (?perf): around the live event handler, around each animation frame that redraws the changed charts, and from the start of a React render of the page to its commit (the table's last-value columns update at most every 500 ms). Medians over ${REPS} repetitions of the per-repetition median and 99th percentile; max over all.

| update | count | median | p99 | max | over 16 ms |
|---|---|---|---|---|---|
${row("live `points` event handler (append to typed arrays, no fetch)", (r) => r.handler)}
${row("chart redraw frame (setData on every changed chart)", (r) => r.frame)}
${row("React render + commit (table, summaries)", (r) => r.render)}

Long tasks (PerformanceObserver \`longtask\`, over 50 ms) while logging: ${reps.map((r) => r.longTasks.length).join(", ")} per repetition. Animation frame intervals: median ${fmt(median(frames))} ms, p99 ${fmt(quantile(frames, 0.99))} ms.
`;
writeResults("ui-live", markdown);
console.log(markdown);
