// Screenshots of the dashboard's main views in light and dark, for the README and docs/dashboard.md.
// Run: npm run build && node scripts/screenshots.mjs   (writes docs/screenshots/*.png)
// Demo data (`stonks demo`) plus one live run, served by a real `stonks serve`, shot in headless Chromium.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch } from "../bench/ui_common.mjs";
import { startServer } from "../dist/server/index.js";
import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { appendPoints, ensureSeries, insertRun, touchHeartbeat } from "../dist/store/writes.js";

const OUT = new URL("../docs/screenshots/", import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "stonks-shots-"));
const dbPath = join(dir, "demo.db");
execFileSync(process.execPath, [new URL("../dist/cli/main.js", import.meta.url).pathname, "demo", "--db", dbPath], {
  stdio: "ignore",
});

// One run still training, so the table shows a live status next to the finished ones.
const db = openDatabase(dbPath);
const now = Date.now() / 1000;
runImmediate(db, () => {
  const run = insertRun(db, {
    experimentName: "resnet-cifar10",
    name: "adamw-lr0.003-bs128-cosine",
    config: { lr: 0.003, batch_size: 128, optimizer: "adamw", schedule: "cosine", epochs: 30 },
    tags: ["sweep", "adamw", "cosine"],
    group: "lr-bs-sweep",
    jobType: "train",
    notes: "Cosine schedule instead of step decay.",
    now: now - 1800,
    provenance: {
      host: "demo-gpu-02",
      pid: 4242,
      command: "python train.py --lr 0.003 --schedule cosine",
      cwd: "/home/ada/resnet",
      gitCommit: "9c377216de4c829d0000000000000000deadbeef",
      gitDirty: false,
      sdkLanguage: "python",
      sdkVersion: "0.1.0",
    },
  });
  const n = 9000;
  const steps = Float64Array.from({ length: n }, (_, i) => i);
  const times = Float64Array.from(steps, (s) => now - 1800 + s * 0.2);
  const noise = (s) => Math.sin(s * 12.9898) * 43758.5453 - Math.floor(Math.sin(s * 12.9898) * 43758.5453);
  const curves = {
    "train/loss": (s) => 2.3 * Math.exp(-s / 2500) + 0.12 + 0.08 * noise(s),
    "train/acc": (s) => 0.93 * (1 - Math.exp(-s / 2200)) + 0.02 * noise(s + 1),
    "train/lr": (s) => 0.0015 * (1 + Math.cos((Math.PI * s) / 23_000)),
  };
  for (const [key, f] of Object.entries(curves)) {
    appendPoints(db, ensureSeries(db, run.seq, key), steps, Float64Array.from(steps, f), times);
  }
  touchHeartbeat(db, run.seq, now);
});
db.close();

const server = await startServer({ dbPath, host: "127.0.0.1", port: 0 });
const browser = await launch();
mkdirSync(OUT, { recursive: true });

const experiments = await (await fetch(`${server.url}/api/experiments`)).json();
const resnet = experiments.find((e) => e.name === "resnet-cifar10");
const runs = await (await fetch(`${server.url}/api/experiments/${resnet.id}/runs`)).json();
const byName = (name) => runs.find((r) => r.name === name)?.id;
const chosen = runs.slice(0, 6).map((r) => r.id);
const detailRun = byName("adamw-lr0.003-bs128-cosine") ?? runs[0].id;

async function allChartsDrawn(page) {
  await page.waitForFunction(
    () => {
      const charts = [...document.querySelectorAll("[data-testid=chart]")].filter(
        (c) => c.getBoundingClientRect().top < window.innerHeight,
      );
      return charts.length > 0 && charts.every((c) => Number(c.dataset.points) > 0 && !c.querySelector(".spinner"));
    },
    null,
    { timeout: 20_000 },
  );
}

for (const theme of ["light", "dark"]) {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 960 },
    deviceScaleFactor: 1,
    colorScheme: theme,
  });
  const page = await context.newPage();

  // Overview: table, grouped charts, smoothing, a tooltip.
  await page.goto(`${server.url}/?exp=resnet-cifar10&runs=${chosen.join(",")}&smooth=0.6`);
  await page.locator("[data-testid=chart]").first().waitFor();
  await page.locator("[data-testid=tab-charts]").evaluate((el) => el.scrollIntoView({ block: "start" }));
  await allChartsDrawn(page);
  const plot = await page.locator("[data-testid=chart] .u-over").first().boundingBox();
  await page.mouse.move(plot.x + plot.width * 0.55, plot.y + plot.height * 0.45);
  await page.locator("[data-testid=chart-tooltip]").first().waitFor();
  await page.screenshot({ path: new URL(`dashboard-${theme}.png`, OUT).pathname });

  // Run table and a zoomed chart at the top of the page.
  await page.mouse.move(5, 5);
  await page.goto(`${server.url}/?exp=resnet-cifar10&runs=${chosen.join(",")}&x=rel`);
  await page.locator("[data-testid=run-row]").first().waitFor();
  await allChartsDrawn(page);
  await page.screenshot({ path: new URL(`runs-${theme}.png`, OUT).pathname });

  // Compare configs.
  await page.goto(`${server.url}/?exp=resnet-cifar10&runs=${chosen.join(",")}&tab=compare`);
  await page.locator("[data-testid=compare-row]").first().waitFor();
  await page.locator("[data-testid=main]").evaluate((el) => {
    el.scrollTop = 380;
  });
  await page.screenshot({ path: new URL(`compare-${theme}.png`, OUT).pathname });

  // Run detail drawer.
  await page.goto(`${server.url}/?exp=resnet-cifar10&runs=${chosen.join(",")}&run=${detailRun}`);
  await page.locator("[data-testid=run-detail] [data-testid=config-tree]").waitFor();
  await allChartsDrawn(page);
  await page.screenshot({ path: new URL(`run-detail-${theme}.png`, OUT).pathname });

  // The run page: every metric charted, beside the run's details.
  await page.goto(`${server.url}/?run=${detailRun}&page=run`);
  await page.locator("[data-testid=run-page] [data-testid=config-tree]").waitFor();
  await allChartsDrawn(page);
  await page.screenshot({ path: new URL(`run-page-${theme}.png`, OUT).pathname });

  // An arranged workspace: three columns, a pinned log-scale chart with its settings open.
  const charts = encodeURIComponent(
    JSON.stringify({ "train/loss": { pin: true, log: true, range: { mode: "pct", pct: 2 } } }),
  );
  await page.goto(`${server.url}/?exp=resnet-cifar10&runs=${chosen.join(",")}&ccols=3&smooth=0.6&charts=${charts}`);
  await page.locator("[data-testid=pinned-charts]").waitFor();
  await page.locator("[data-testid=tab-charts]").evaluate((el) => el.scrollIntoView({ block: "start" }));
  await allChartsDrawn(page);
  const pinned = page.locator("[data-testid=pinned-charts] [data-testid=chart-cell]").first();
  await pinned.hover();
  await pinned.locator("[data-testid=chart-settings-button]").click();
  await page.locator("[data-testid=chart-settings]").waitFor();
  await page.screenshot({ path: new URL(`workspace-${theme}.png`, OUT).pathname });
  await context.close();
}

// A first start: what an empty database shows.
const emptyServer = await startServer({ dbPath: join(dir, "empty.db"), host: "127.0.0.1", port: 0 });
const context = await browser.newContext({ viewport: { width: 1440, height: 760 }, colorScheme: "light" });
const page = await context.newPage();
await page.goto(`${emptyServer.url}/`);
await page.locator("[data-testid=empty-experiments]").waitFor();
await page.screenshot({ path: new URL("empty-light.png", OUT).pathname });
await context.close();
await emptyServer.close();

await browser.close();
await server.close();
rmSync(dir, { recursive: true, force: true });
console.log(`screenshots written to ${OUT.pathname}`);
