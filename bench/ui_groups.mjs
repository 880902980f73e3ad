// Grouped charts benchmark: 200 runs × 100,000 points in 10 groups, grouped by the run's group, painted
// as 10 mean lines with bands; and POST /api/groups/series for one group of 50 runs × 100,000 points.
// Run: npm run build && node bench/ui_groups.mjs   (RUNS=5 repetitions; goal: grouped charts painted ≤ 1 s)
import { openDatabase } from "../dist/store/connection.js";
import { GROUPS, KEY, POINTS, RUNS, seedGroupedRuns } from "./group_seed.mjs";
import { fmt, launch, machine, median, REPEATS, serve, tempDb, writeResults } from "./ui_common.mjs";

const API_GROUP = 50;
const BUCKETS = 400;

const db = tempDb("ui-groups");
const t0 = Date.now();
const ids = await seedGroupedRuns(db.path);
console.error(`seeded ${RUNS} runs × ${POINTS} points in ${Date.now() - t0} ms`);

// The API: one group of 50 runs; "cold" on a fresh server (nothing remembered), "warm" asked again.
const body = JSON.stringify({
  groups: [{ label: "g", run_ids: ids.slice(0, API_GROUP) }],
  keys: [KEY],
  buckets: BUCKETS,
});
async function groupCall(server) {
  const start = performance.now();
  const response = await fetch(`${server.url}/api/groups/series`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(text);
  return { ms: performance.now() - start, bytes: text.length };
}

// The dashboard: every run charted, grouped by `group`.
const browser = await launch();
const query = new URLSearchParams({ exp: "grouped", newest: "0", runs: ids.join(","), gby: JSON.stringify(["group"]) });
async function open(server) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/?${query}&perf`, { waitUntil: "commit" });
  const painted = await (
    await page.waitForFunction(
      (groups) => {
        const charts = [...document.querySelectorAll("[data-testid=group-chart]")];
        const done = (c) => c.dataset.painted && JSON.parse(c.dataset.drawn ?? "[]").length === groups;
        return charts.length > 0 && charts.every(done) ? performance.now() : false;
      },
      GROUPS,
      { polling: "raf", timeout: 120_000 },
    )
  ).jsonValue();
  const rows = await page.locator("[data-testid=group-row]").count();
  // The waterfall: when the run list came in, when the aggregates were asked for and when they came in.
  const timing = await page.evaluate(() => {
    const first = (part) => performance.getEntriesByType("resource").find((e) => e.name.includes(part));
    const runs = first("/runs?");
    const groups = first("/api/groups/series");
    return {
      runsIn: runs?.responseEnd ?? -1,
      groupsSent: groups?.startTime ?? -1,
      groupsIn: groups?.responseEnd ?? -1,
    };
  });
  await context.close();
  return { painted, rows, ...timing };
}

async function measure(label) {
  const out = [];
  for (let i = 0; i <= REPEATS; i++) {
    const server = await serve(db.path);
    const sample = {
      apiCold: await groupCall(server),
      apiWarm: await groupCall(server),
      uiCold: await open(server),
      uiWarm: await open(server),
    };
    await server.close();
    // The first round warms the operating system's page cache and the browser's compiled code.
    if (i > 0) out.push(sample);
    console.error(label, i, JSON.stringify(sample));
  }
  return out;
}

const samples = await measure("rollup sums");
// The same file as one written before schema version 6 leaves it: rollup rows without sums, so every
// aggregate reads the raw points of its window (the read before the sums existed).
const plain = openDatabase(db.path);
plain.exec("UPDATE rollups SET value_sum = NULL, step_sum = NULL");
plain.close();
const withoutSums = await measure("without sums");
await browser.close();
db.remove();
const row = (label, pick, from = samples) =>
  `| ${label} | ${fmt(median(from.map(pick)))} ms | ${from.map((s) => fmt(pick(s))).join(", ")} |`;

const markdown = `### Grouped charts: 200 runs × 100,000 points in 10 groups (bench/ui_groups.mjs)

${machine()}. ${RUNS} finished runs of one ${POINTS.toLocaleString("en")}-point metric (${((RUNS * POINTS) / 1e6).toFixed(0)} M points), all charted and grouped by their group into ${GROUPS} groups of ${RUNS / GROUPS}; each group's mean line and ±std band over ${BUCKETS} step buckets come from POST /api/groups/series, which reads the sums of the rollup rows of level 6 (64 points: ${Math.ceil(POINTS / 64).toLocaleString("en")} rows per run) instead of the raw points (docs/grouping.md). "Without sums": the same file after \`UPDATE rollups SET value_sum = NULL, step_sum = NULL\`, as a file written before schema version 6 is read: every raw point of the window, which is also how every aggregate was read before. Per repetition a fresh server ("cold": no aggregate remembered; the operating system's page cache is warm) and a fresh browser context; time from navigation start to the grouped chart painted with all ${GROUPS} groups (and, from the page's resource timing, when the run list came in and when POST /api/groups/series left and came back) (and the table's ${samples[0].uiCold.rows} group rows), read in the page at the next animation frame; then the same navigation again (the server remembers the aggregates until a run logs another point). Medians of ${REPEATS}.

| measurement | median | samples |
|---|---|---|
${row(`grouped chart painted from navigation, server cold (goal ≤ 1 s)`, (s) => s.uiCold.painted)}
${row("… of which: run list in (cold)", (s) => s.uiCold.runsIn)}
${row("… aggregates asked for (cold)", (s) => s.uiCold.groupsSent)}
${row("… aggregates in (cold)", (s) => s.uiCold.groupsIn)}
${row(`grouped chart painted from navigation, aggregates remembered`, (s) => s.uiWarm.painted)}
${row("… of which: aggregates asked for (remembered)", (s) => s.uiWarm.groupsSent)}
${row(`POST /api/groups/series, 1 group of ${API_GROUP} runs × ${POINTS.toLocaleString("en")} points, ${BUCKETS} buckets, cold (answer ${(samples[0].apiCold.bytes / 1024).toFixed(1)} KiB)`, (s) => s.apiCold.ms)}
${row("the same request again (remembered)", (s) => s.apiWarm.ms)}
${row(`without sums: grouped chart painted from navigation, server cold`, (s) => s.uiCold.painted, withoutSums)}
${row(`without sums: grouped chart painted, aggregates remembered`, (s) => s.uiWarm.painted, withoutSums)}
${row(`without sums: POST /api/groups/series, ${API_GROUP} runs, cold`, (s) => s.apiCold.ms, withoutSums)}
`;
writeResults("ui-groups", markdown);
console.log(markdown);
