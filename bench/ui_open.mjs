// Dashboard benchmark: an experiment with 200 runs and 20 metrics opens with its first charts painted.
// Run: npm run build && node bench/ui_open.mjs   (RUNS=5 repetitions; goal: first chart ≤ 1 s)
import { fmt, launch, machine, median, populateRuns, REPEATS, serve, tempDb, writeResults } from "./ui_common.mjs";

const RUNS = 200;
const KEYS = [
  ...["loss", "acc", "lr", "grad_norm", "throughput", "loss_scale", "tokens", "ppl"].map((k) => `train/${k}`),
  ...["loss", "acc", "top5", "ppl", "f1", "precision", "recall", "auc"].map((k) => `val/${k}`),
  ...["gpu_util", "gpu_mem", "cpu_util", "disk_io"].map((k) => `system/${k}`),
];
const POINTS = 1000;

const db = tempDb("ui-open");
const t0 = Date.now();
populateRuns(db.path, {
  experiment: "sweep-200",
  runs: RUNS,
  keys: KEYS,
  points: POINTS,
  value: (r, key, s) => (key.length % 3) + Math.exp(-s / (200 + r)) + 0.05 * Math.sin(s / 7 + r),
});
console.error(`seeded ${RUNS} runs × ${KEYS.length} keys × ${POINTS} points in ${Date.now() - t0} ms`);
const server = await serve(db.path);
const browser = await launch();

/** Opens the experiment in a fresh context; times from navigation start, read in the page at the next frame. */
async function open(extra) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/?exp=sweep-200&perf${extra}`, { waitUntil: "commit" });
  const first = await (
    await page.waitForFunction(
      () => {
        const charts = [...document.querySelectorAll("[data-testid=chart]")];
        return charts.some((c) => Number(c.dataset.points) > 0) ? performance.now() : false;
      },
      null,
      { polling: "raf", timeout: 30_000 },
    )
  ).jsonValue();
  const screen = await (
    await page.waitForFunction(
      () => {
        const charts = [...document.querySelectorAll("[data-testid=chart]")].filter(
          (c) => c.getBoundingClientRect().top < window.innerHeight,
        );
        return charts.length > 0 && charts.every((c) => Number(c.dataset.points) > 0) ? performance.now() : false;
      },
      null,
      { polling: "raf", timeout: 30_000 },
    )
  ).jsonValue();
  const charts = await page.locator("[data-testid=chart]").count();
  await context.close();
  return { first, screen, charts };
}

const rows = [];
for (const [label, extra] of [
  ["default view (10 newest runs charted)", ""],
  ["all 200 runs selected", "&runs=ALL"],
]) {
  const samples = [];
  let query = extra;
  if (extra === "&runs=ALL") {
    const ids = await (await fetch(`${server.url}/api/experiments/sweep-200/runs`)).json();
    query = `&runs=${ids.map((r) => r.id).join(",")}`;
  }
  await open(query); // warm the server's page cache once
  for (let i = 0; i < REPEATS; i++) samples.push(await open(query));
  const first = median(samples.map((s) => s.first));
  const screen = median(samples.map((s) => s.screen));
  rows.push(
    `| ${label} | ${fmt(first)} ms | ${fmt(screen)} ms | ${samples[0].charts} | ${samples.map((s) => fmt(s.first)).join(", ")} |`,
  );
  console.error(label, { first, screen });
}
await browser.close();
await server.close();
db.remove();

const markdown = `### Opening an experiment: 200 runs × 20 metrics (bench/ui_open.mjs)

${machine()}. ${RUNS} finished runs, ${KEYS.length} metric keys of ${POINTS} points each (${((RUNS * KEYS.length * POINTS) / 1e6).toFixed(0)} M points). A fresh browser context per repetition, so the bundle, the experiment list, the run list and the chart data all load; times from navigation start, read in the page at the next animation frame. Viewport 1440 × 1000. Medians of ${REPEATS}.

| view | first chart painted (goal ≤ 1 s) | every chart on screen painted | charts | samples (first chart) |
|---|---|---|---|---|
${rows.join("\n")}
`;
writeResults("ui-open", markdown);
console.log(markdown);
