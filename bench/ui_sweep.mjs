// Dashboard benchmark: brushing parallel coordinates over a 10,000-run sweep (the Sweep tab).
// A pointer drags along the lr axis and then along a second axis (one move per frame, as a
// person's pointer reports), and the main thread's whole work per frame is read from a Chromium
// trace (bench/ui_trace.mjs: thread CPU, so waiting for a shared core does not count), next to the
// page's own animation frame intervals. Releasing the pointer commits the brush to the view (the
// run table and the charts follow): that one task is measured apart.
// Run: npm run build && node bench/ui_sweep.mjs   (RUNS=3 repetitions)

import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { appendPoints, ensureSeries, finishRun, insertRun } from "../dist/store/writes.js";
import { fmt, launch, machine, median, quantile, serve, tempDb, writeResults } from "./ui_common.mjs";
import { startTrace } from "./ui_trace.mjs";

const RUNS = 10_000;
const REPS = Number(process.env.RUNS ?? 3);
const MOVES = 60;
const MOVE_MS = 16;
const OPTS = ["adam", "adamw", "sgd", "lion"];

function seed(path) {
  const db = openDatabase(path);
  const now = Date.now() / 1000;
  const steps = Float64Array.from([0, 1, 2]);
  runImmediate(db, () => {
    for (let r = 0; r < RUNS; r++) {
      // Deterministic spread: lr over four decades, a few batch sizes, dropout, depth, an optimizer.
      const u = (Math.sin(r * 12.9898) * 43758.5453) % 1;
      const lr = 10 ** (-5 + 4 * Math.abs(u));
      const created = now - 86_400 + r;
      const run = insertRun(db, {
        experimentName: "sweep-10k",
        name: `trial-${r}`,
        config: { lr, batch: 16 << (r % 6), dropout: (r % 11) / 20, layers: 2 + (r % 7), opt: OPTS[r % 4] },
        tags: [],
        group: null,
        jobType: "train",
        notes: null,
        now: created,
        provenance: {
          host: "bench",
          pid: 1,
          command: "bench",
          cwd: "/",
          gitCommit: null,
          gitDirty: null,
          sdkLanguage: "node",
          sdkVersion: "0",
        },
      });
      const final = 0.2 + Math.abs(Math.log10(lr) + 3) * 0.3 + (r % 13) / 40;
      appendPoints(
        db,
        ensureSeries(db, run.seq, "val/loss"),
        steps,
        Float64Array.from([2, 1, final]),
        Float64Array.from([created, created + 1, created + 2]),
      );
      finishRun(db, run.seq, "completed", created + 3);
    }
  });
  db.close();
}

const db = tempDb("ui-sweep");
seed(db.path);
const server = await serve(db.path);
const browser = await launch();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function axis(page, id) {
  const box = await page.locator(`[data-testid=pc-axis][data-axis="${id}"] line`).first().boundingBox();
  return { x: box.x + box.width / 2, top: box.y, bottom: box.y + box.height };
}

/** Drags along an axis: pressed at `anchor`, then MOVES moves from `from` to `to` (each one after the first narrows the brush when `to` lies between anchor and from). */
async function dragFrames(page, a, from, to, anchor = from) {
  await page.evaluate(() => {
    window.__frames = [];
    window.__last = performance.now();
  });
  const stopTrace = await startTrace(page);
  const y = (u) => a.bottom - u * (a.bottom - a.top);
  await page.mouse.move(a.x, y(anchor));
  await page.mouse.down();
  for (let i = 1; i <= MOVES; i++) {
    await page.mouse.move(a.x, y(from + ((to - from) * i) / MOVES));
    await sleep(MOVE_MS);
  }
  const trace = await stopTrace();
  if (process.env.TRACE) console.log(JSON.stringify(trace.worst, null, 1));
  const frames = await page.evaluate(() => window.__frames);
  // The release: the brush reaches the view, the table and the charts.
  const stopRelease = await startTrace(page);
  await page.mouse.up();
  await sleep(400);
  const release = await stopRelease();
  return { cpu: trace.cpuPerFrame, frames, release: Math.max(0, ...release.cpuTasks) };
}

async function once() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1400 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    const tick = (t) => {
      if (window.__last !== undefined) window.__frames?.push(t - window.__last);
      window.__last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const opened = performance.now();
  await page.goto(`${server.url}/?exp=sweep-10k&tab=sweep`);
  await page.waitForFunction(
    (n) => document.querySelector("[data-testid=parallel-coords]")?.getAttribute("data-drawn") === String(n),
    RUNS,
    { timeout: 120_000 },
  );
  const openMs = performance.now() - opened;
  await page.locator("[data-testid=parallel-coords]").scrollIntoViewIfNeeded();
  // A wide brush (most lines stay drawn), then a second axis over the first.
  const first = await dragFrames(page, await axis(page, "config:lr"), 0.95, 0.1);
  const second = await dragFrames(page, await axis(page, "config:dropout"), 0.9, 0.4);
  const kept = Number(await page.locator("[data-testid=parallel-coords]").getAttribute("data-drawn"));
  // Brushing lr again, narrowing: pressed at its top, the brush opens down to 10 % and every later move drops runs.
  const third = await dragFrames(page, await axis(page, "config:lr"), 0.1, 0.6, 0.95);
  await context.close();
  return {
    openMs,
    cpu: [...first.cpu, ...second.cpu],
    narrowing: third.cpu,
    frames: [...first.frames, ...second.frames, ...third.frames],
    release: [first.release, second.release, third.release],
    kept,
  };
}

const results = [];
for (let i = 0; i < REPS; i++) results.push(await once());
await browser.close();
await server.close();
db.remove();

const cpu = results.flatMap((r) => r.cpu);
const narrowing = results.flatMap((r) => r.narrowing);
const brushing = [...cpu, ...narrowing];
const frames = results.flatMap((r) => r.frames);
const release = results.flatMap((r) => r.release);
const row = (name, xs) =>
  `| ${name} | ${xs.length} | ${fmt(median(xs))} | ${fmt(quantile(xs, 0.95))} | ${fmt(Math.max(...xs))} |`;
const markdown = `### Brushing parallel coordinates over 10,000 runs (bench/ui_sweep.mjs)

The Sweep tab of a 10,000-run experiment (5 config axes and the metric axis; lines drawn on canvas
at most 600 per animation frame, one path per colour step; a brush that only adds runs draws just
those over the layer, one that drops runs clears it and draws again). A pointer drags along the lr axis (from 95 % to 10 % of its height) and
then along the dropout axis, ${MOVES} moves each, one every ${MOVE_MS} ms (brushes that widen); then along the lr axis again,
pressed at its top, opened to 10 % and narrowed to 60 % (every move drops runs); ${REPS} repetitions. Main-thread work per frame is
the thread CPU from a Chromium trace (script, style, layout, paint and canvas rasterisation);
frame interval is what the page's requestAnimationFrame saw. Target: every brushing frame under 16 ms.

| while brushing | frames | median ms | p95 ms | max ms |
|---|---|---|---|---|
${row("main-thread CPU per frame, widening brushes", cpu)}
${row("main-thread CPU per frame, narrowing brush", narrowing)}
${row("animation frame interval", frames)}
${row("release: brush into the view (longest task)", release)}

Brushing frames over 16 ms of main-thread CPU: ${((100 * brushing.filter((ms) => ms > 16).length) / brushing.length).toFixed(1)} % (all three drags).
Opening the tab until all ${RUNS} lines were drawn: ${fmt(median(results.map((r) => r.openMs)))} ms (median, from navigation).
Lines left after the two widening brushes: ${results[0].kept}.

Machine: ${machine()}.`;
console.log(markdown);
writeResults("ui-sweep", markdown);
