// Dashboard benchmark: selecting 50 runs of 100,000 points each renders their chart.
// Run: npm run build && node bench/ui_select.mjs   (RUNS=5 repetitions; goal ≤ 1.5 s)
// Baseline, same browser and server: fetching every point of those series (no downsampling), before any drawing.
import { fmt, launch, machine, median, populateRuns, REPEATS, serve, tempDb, writeResults } from "./ui_common.mjs";

const RUNS = 50;
const POINTS = 100_000;
const KEY = "train/loss";

const db = tempDb("ui-select");
const t0 = Date.now();
const ids = populateRuns(db.path, {
  experiment: "big-runs",
  runs: RUNS,
  keys: [KEY],
  points: POINTS,
  value: (r, _key, s) => Math.exp(-s / (20_000 + 500 * r)) + 0.05 * Math.sin(s / 50 + r) + (s % 9973 === 0 ? 0.5 : 0),
});
console.error(`seeded ${RUNS} runs × ${POINTS} points in ${Date.now() - t0} ms`);
const server = await serve(db.path);
const browser = await launch();

async function once() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  // Nothing selected yet; the table is on screen.
  await page.goto(`${server.url}/?exp=big-runs&runs=`);
  await page.locator("[data-testid=empty-selection]").waitFor();
  const ms = await page.evaluate(
    ({ runs }) =>
      new Promise((resolve) => {
        const start = performance.now();
        document.querySelector("[data-testid=select-all]").click();
        const check = () => {
          const chart = document.querySelector("[data-testid=chart]");
          if (chart && chart.dataset.runs === String(runs) && Number(chart.dataset.points) > 0) {
            resolve({ total: performance.now() - start, points: Number(chart.dataset.points) });
          } else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      }),
    { runs: RUNS },
  );
  const baseline = await page.evaluate(async (runIds) => {
    const start = performance.now();
    const all = await Promise.all(
      runIds.map((id) => fetch(`/api/runs/${id}/metrics?key=train%2Floss`).then((r) => r.json())),
    );
    return { total: performance.now() - start, points: all.reduce((n, s) => n + s.values.length, 0) };
  }, ids);
  await context.close();
  return { ms, baseline };
}

await once();
const samples = [];
for (let i = 0; i < REPEATS; i++) samples.push(await once());
await browser.close();
await server.close();
db.remove();

const dash = median(samples.map((s) => s.ms.total));
const base = median(samples.map((s) => s.baseline.total));
console.error({ dash, base, samples: samples.map((s) => [s.ms.total, s.baseline.total]) });
const markdown = `### Selecting 50 runs of 100,000 points (bench/ui_select.mjs)

${machine()}. ${RUNS} runs with one metric of ${POINTS.toLocaleString("en")} points each (${((RUNS * POINTS) / 1e6).toFixed(0)} M points). From the click on "select all" to the chart painted with all ${RUNS} lines (read in the page at the next animation frame); the chart asks for about its width in points per series (${samples[0].ms.points.toLocaleString("en")} points drawn in all, min/max envelopes kept). Baseline in the same page: only fetching and parsing every point of the same series (GET /api/runs/{id}/metrics, no downsampling), nothing drawn. Medians of ${REPEATS}.

| measure | median | samples | ratio to baseline |
|---|---|---|---|
| select 50 runs → chart painted (goal ≤ 1.5 s) | ${fmt(dash)} ms | ${samples.map((s) => fmt(s.ms.total)).join(", ")} | ${(dash / base).toFixed(3)} |
| baseline: fetch every point (${(samples[0].baseline.points / 1e6).toFixed(0)} M) | ${fmt(base)} ms | ${samples.map((s) => fmt(s.baseline.total)).join(", ")} | 1 |
`;
writeResults("ui-select", markdown);
console.log(markdown);
