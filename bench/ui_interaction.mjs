// Dashboard benchmark: every interaction on a busy charts view (24 runs × 6 charts) must keep
// frames short: dragging the smoothing slider, hovering a chart, zooming (drag, refetch, reset),
// ticking a run in the table, and hovering the same runs' grouped charts. Measured in the page:
// animation frame intervals, long tasks (over 50 ms), and the main-thread time of our own chart
// redraw frames and React renders (?perf);
// in a Chromium trace, the main thread's whole work per frame (bench/ui_trace.mjs).
// Run: npm run build && node bench/ui_interaction.mjs   (RUNS=3 repetitions; LABEL=... names the row set,
// "after" by default; TRACE=1 prints where the frames with the most thread CPU went, TRACE=2 also
// their events in time order; ONLY=zoom,hover measures only those interactions, and writes no results;
// DUMP=file.json saves the repetitions instead of writing results, FROM=a.json,b.json writes the results
// of saved repetitions: builds measured in alternation, one repetition per process, make one block each)

import { readFileSync, writeFileSync } from "node:fs";
import { fmt, launch, machine, median, populateRuns, quantile, serve, tempDb, writeResults } from "./ui_common.mjs";
import { startTrace } from "./ui_trace.mjs";

const RUNS = 24;
const KEYS = ["train/loss", "train/acc", "train/lr", "val/loss", "val/acc", "val/grad_norm"];
const POINTS = 2000;
const REPS = Number(process.env.RUNS ?? 3);
/** A person's pointer reports about once per frame. */
const MOVE_MS = 16;
const ONLY = process.env.ONLY?.split(",");
const DUMP = process.env.DUMP;
const FROM = process.env.FROM?.split(",");
/** The whole devtools timeline (TRACE, TIMELINE=1), or only tasks and frame starts (see bench/ui_trace.mjs). */
const DETAIL = Boolean(process.env.TRACE || process.env.TIMELINE);
const wanted = (name) => !ONLY || ONLY.includes(name);

let ids;
let server;
let browser;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function collect(page, work) {
  await page.evaluate(() => {
    const w = window;
    const p = w.__stonksPerf;
    p.frame.length = 0;
    p.render.length = 0;
    w.__longTasks.length = 0;
    w.__frames.length = 0;
    w.__last = performance.now();
  });
  const stopTrace = await startTrace(page, { detail: DETAIL });
  await work();
  const trace = await stopTrace();
  const inPage = await page.evaluate(() => {
    const w = window;
    const p = w.__stonksPerf;
    return {
      frames: [...w.__frames],
      longTasks: [...w.__longTasks],
      redraw: [...p.frame],
      render: [...p.render],
    };
  });
  return { ...inPage, trace };
}

/**
 * The hover: the pointer comes in over the card's edge, as a person's does (not straight into the
 * plot), crosses the plot and back part of the way, then leaves the page's charts.
 */
async function hoverAcross(page, card, plot) {
  await page.mouse.move(card.x + 3, plot.y + plot.height / 2);
  await sleep(MOVE_MS);
  await sweep(page, plot, 0.02, 0.98, plot.y + plot.height / 2, 120);
  await sweep(page, plot, 0.98, 0.3, plot.y + plot.height / 3, 60);
  await page.mouse.move(2, 2);
  await sleep(200);
}

async function sweep(page, box, from, to, y, moves) {
  for (let i = 0; i <= moves; i++) {
    await page.mouse.move(box.x + box.width * (from + ((to - from) * i) / moves), y);
    await sleep(MOVE_MS);
  }
}

const allDrawn = (page, runs) =>
  page.waitForFunction(
    ({ runs, charts }) => {
      const list = [...document.querySelectorAll("[data-testid=chart]")];
      return (
        list.length === charts && list.every((c) => c.dataset.runs === String(runs) && c.dataset.loading === undefined)
      );
    },
    { runs, charts: KEYS.length },
    { timeout: 30_000 },
  );

async function once() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 2100 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    const w = window;
    w.__longTasks = [];
    w.__frames = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push(e.duration);
    }).observe({ type: "longtask", buffered: true });
    const tick = (t) => {
      if (w.__last !== undefined) w.__frames.push(t - w.__last);
      w.__last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.goto(`${server.url}/?exp=sweep-24&runs=${ids.join(",")}&perf`);
  await allDrawn(page, RUNS);
  const out = {};

  const slider = await page.locator("[data-testid=smoothing]").boundingBox();
  const plot = await page.locator('[data-testid=chart][data-key="train/loss"] .u-over').boundingBox();
  if (wanted("smoothing"))
    out.smoothing = await collect(page, async () => {
      const y = slider.y + slider.height / 2;
      await page.mouse.move(slider.x + 2, y);
      await page.mouse.down();
      await sweep(page, slider, 0, 1, y, 60);
      await sweep(page, slider, 1, 0.3, y, 40);
      await page.mouse.up();
      await sleep(300);
    });

  const card = await page.locator('[data-testid=chart][data-key="train/loss"]').boundingBox();
  if (wanted("hover")) out.hover = await collect(page, () => hoverAcross(page, card, plot));

  if (wanted("zoom"))
    out.zoom = await collect(page, async () => {
      for (let i = 0; i < 2; i++) {
        await page.mouse.move(plot.x + plot.width * 0.3, plot.y + 40);
        await page.mouse.down();
        await sweep(page, plot, 0.3, 0.45, plot.y + 60, 10);
        await page.mouse.up();
        await page.waitForFunction(() => new URLSearchParams(location.search).has("zoom"));
        await allDrawn(page, RUNS);
        await sleep(200);
        // A person's double click: two clicks some 100 ms apart (Playwright's dblclick sends all
        // four button events at once, in one frame).
        await page.mouse.move(plot.x + plot.width * 0.5, plot.y + 50);
        await sleep(MOVE_MS);
        await page.mouse.down();
        await page.mouse.up();
        await sleep(100);
        await page.mouse.down({ clickCount: 2 });
        await page.mouse.up({ clickCount: 2 });
        await page.waitForFunction(() => !new URLSearchParams(location.search).has("zoom"));
        await allDrawn(page, RUNS);
        await sleep(200);
      }
    });

  if (wanted("selection"))
    out.selection = await collect(page, async () => {
      for (let i = 0; i < 3; i++) {
        const box = page.locator("[data-testid=run-select]").nth(i);
        // A person's click: the button is held some 80 ms (Playwright's default presses and
        // releases it at once, in one frame).
        await box.click({ delay: 80 });
        await allDrawn(page, RUNS - 1);
        await sleep(150);
        await box.click({ delay: 80 });
        await allDrawn(page, RUNS);
        await sleep(150);
      }
    });
  if (wanted("groupedHover")) {
    // The same runs grouped by learning rate (4 groups): each chart draws each group's mean and band.
    await page.goto(
      `${server.url}/?exp=sweep-24&runs=${ids.join(",")}&perf&gby=${encodeURIComponent('["config.lr"]')}`,
    );
    await page.waitForFunction(
      (charts) => {
        const list = [...document.querySelectorAll("[data-testid=group-chart]")];
        return list.length === charts && list.every((c) => Number(c.dataset.painted ?? 0) > 0);
      },
      KEYS.length,
      { timeout: 30_000 },
    );
    await sleep(500);
    const grouped = await page.locator("[data-testid=group-chart] .u-over").first().boundingBox();
    const groupedCard = await page.locator("[data-testid=group-chart]").first().boundingBox();
    out.groupedHover = await collect(page, () => hoverAcross(page, groupedCard, grouped));
  }
  await context.close();
  return out;
}

/** Measures REPS repetitions of every wanted interaction on a fresh database, server and browser. */
async function measure() {
  const db = tempDb("ui-interaction");
  ids = populateRuns(db.path, {
    experiment: "sweep-24",
    runs: RUNS,
    keys: KEYS,
    points: POINTS,
    value: (r, key, s) => {
      const noise = Math.sin(s * 12.9898 + r * 78.233) * 0.05;
      if (key.endsWith("acc")) return 1 - Math.exp(-s / (300 + 20 * r)) + noise;
      if (key.endsWith("lr")) return 1e-3 * 0.5 ** Math.floor(s / 500);
      return 2 * Math.exp(-s / (400 + 10 * r)) + 0.1 + noise;
    },
  });
  server = await serve(db.path);
  browser = await launch();
  for (let i = 0; i < REPS; i++) {
    const r = await once();
    reps.push(r);
    for (const [name, m] of Object.entries(r)) {
      console.error(
        `rep ${i} ${name}: frames ${m.frames.length} max ${fmt(Math.max(...m.frames))} ms, long tasks ${m.longTasks.length} (max ${fmt(Math.max(0, ...m.longTasks))} ms), redraw max ${fmt(Math.max(0, ...m.redraw))} ms, render max ${fmt(Math.max(0, ...m.render))} ms; trace: main-thread work per frame p95 ${fmt(quantile(m.trace.perFrame, 0.95))} max ${fmt(Math.max(0, ...m.trace.perFrame))} ms (CPU p95 ${fmt(quantile(m.trace.cpuPerFrame, 0.95))} max ${fmt(Math.max(0, ...m.trace.cpuPerFrame))} ms, ${m.trace.cpuPerFrame.filter((x) => x > 16).length} of ${m.trace.cpuPerFrame.length} frames over 16 ms), longest task ${fmt(Math.max(0, ...m.trace.tasks))} ms`,
      );
      if (process.env.TRACE)
        console.error(
          `  self time by event: ${m.trace.byName
            .slice(0, 14)
            .map(([n, ms]) => `${n} ${fmt(ms)}`)
            .join(", ")}`,
        );
      if (process.env.TRACE)
        for (const w of m.trace.worst)
          console.error(
            `  frame of ${fmt(w.cpu)} ms CPU (canvases flushed: ${w.canvases.map(fmt).join(", ") || "none"} ms): ${w.byName.map(([n, ms]) => `${n} ${fmt(ms)}`).join(", ")}${process.env.TRACE === "2" ? `\n    ${w.timeline.join("\n    ")}` : ""}`,
          );
    }
  }
  await browser.close();
  await server.close();
  db.remove();
}

const reps = [];
if (FROM) for (const file of FROM) reps.push(...JSON.parse(readFileSync(file, "utf8")));
else await measure();
if (DUMP) writeFileSync(DUMP, JSON.stringify(reps));

const LABELS = {
  smoothing: "drag the smoothing slider (100 moves, 16 ms apart)",
  hover: "hover across a chart (180 moves)",
  zoom: "drag-zoom, refetch, double-click reset (a person's: two clicks 100 ms apart) (×2)",
  selection: "untick and tick a run in the table, each click's button held 80 ms (×3)",
  groupedHover: "hover across a grouped chart (the 24 runs in 4 groups by lr; 180 moves)",
};
const row = (name) => {
  const per = reps.map((r) => r[name]);
  const frames = per.map((m) => m.frames);
  const med = (f) => fmt(median(per.map(f)));
  return `| ${LABELS[name]} | ${fmt(median(frames.map((f) => median(f))))} ms | ${fmt(median(frames.map((f) => quantile(f, 0.95))))} ms | ${fmt(median(frames.map((f) => Math.max(...f))))} ms | ${per.map((m) => m.longTasks.length).join(", ")} | ${med((m) => quantile(m.trace.perFrame, 0.95))} / ${med((m) => Math.max(0, ...m.trace.perFrame))} ms | ${med((m) => quantile(m.trace.cpuPerFrame, 0.95))} / ${med((m) => Math.max(0, ...m.trace.cpuPerFrame))} ms | ${per.map((m) => m.trace.cpuPerFrame.filter((x) => x > 16).length).join(", ")} of ${per.map((m) => m.trace.cpuPerFrame.length).join(", ")} | ${med((m) => Math.max(0, ...m.redraw))} ms | ${med((m) => Math.max(0, ...m.render))} ms |`;
};
const label = process.env.LABEL ?? "after";
const markdown =
  ONLY || DUMP
    ? ""
    : `### Interactions: 24 runs × 6 charts (bench/ui_interaction.mjs) — ${label}

${machine()}. ${RUNS} finished runs × ${KEYS.length} metrics of ${POINTS.toLocaleString("en")} points, all charted (6 charts of 24 lines, min/max downsampled to the chart width), viewport 1440 × 2100 (every chart on screen), run table on screen; the grouped hover on the same runs grouped by config.lr (4 groups, mean and band per group). The pointer moves once every ${MOVE_MS} ms, as a person's does. Measured in the page (?perf): animation frame intervals (16.7 ms when no frame is dropped), long tasks (PerformanceObserver \`longtask\`, over 50 ms), script time of the chart redraw jobs run in one animation frame and of each React render + commit of the whole page. Measured in a Chromium trace (CDP \`Tracing\`, bench/ui_trace.mjs; ${DETAIL ? "the whole devtools timeline, which costs the page's main thread about a millisecond a frame to record" : "only the main thread's tasks (`toplevel`) and where each frame begins (`benchmark`): the whole devtools timeline costs the page's main thread about a millisecond a frame to record (TIMELINE=1 measures with it)"}): the renderer main thread's work per frame (its tasks between two animation frames: script, style, layout, paint, and the canvas rasterisation that follows a redraw without a GPU), as wall time and as thread CPU time (which leaves out time the thread waited for a core while other work shared the machine; each task's CPU time is capped at its wall time, as Chromium's trace on this VM now and then gives a task several ms more thread time than wall time). Medians over ${reps.length} repetitions of the per-repetition value (p95 and max over the frames of the interaction); long tasks and frames over 16 ms of CPU per repetition.

| interaction | frame interval median | p95 | max | long tasks | main-thread work per frame, p95 / max | thread CPU per frame, p95 / max | frames over 16 ms CPU | chart redraw script max | page render max |
|---|---|---|---|---|---|---|---|---|---|
${Object.keys(LABELS).map(row).join("\n")}
`;
if (!ONLY && !DUMP) writeResults(`ui-interaction-${label}`, markdown);
console.log(markdown);
