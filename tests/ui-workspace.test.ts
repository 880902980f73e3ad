/**
 * The dashboard's workspace in a real browser: stable run colours, a run table
 * that keeps its bearings (sticky columns, unclipped popovers, full tags),
 * per-chart settings and layout in the URL, saved workspaces, the run page,
 * the live sidebar and the "newest runs" selection mode. Each test looks at
 * what is shown: bounding boxes, computed colours, drawn scales.
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src/server/index.js";
import { PALETTE } from "../ui/src/lib/colors.js";
import {
  apiGet,
  launchBrowser,
  newPage,
  populate,
  query,
  serve,
  shown,
  tempDir,
  waitUntil,
} from "./support/ui-support.js";

// The page functions below run in Chromium; the tests compile without the DOM library.
declare const document: {
  elementFromPoint(
    x: number,
    y: number,
  ): { closest(selector: string): { getAttribute(name: string): string | null } | null } | null;
};
declare function getComputedStyle(element: unknown): { backgroundColor: string };

const NOW = Date.now() / 1000;
const tmp = tempDir("stonks-ui-workspace-");
const dbPath = `${tmp.dir}/stonks.db`;
/** Screenshots for a person to look at, when STONKS_SHOTS names a folder. */
const SHOTS = process.env.STONKS_SHOTS;
let browser: Browser;
let server: RunningServer;
const sweep: { id: string; seq: number }[] = [];
const wide: { id: string; seq: number }[] = [];

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

const chart = (page: Page, key: string) => page.locator(`[data-testid=chart][data-key="${key}"]`);
const cell = (page: Page, key: string) => page.locator(`[data-testid=chart-cell][data-key="${key}"]`);
const row = (page: Page, id: string) => page.locator(`[data-testid=run-row][data-run-id="${id}"]`);

async function drawnRuns(page: Page, key: string, runs: number): Promise<void> {
  await chart(page, key).scrollIntoViewIfNeeded();
  await waitUntil(async () => (await chart(page, key).getAttribute("data-runs")) === String(runs), `${key} drawn`);
}

beforeAll(async () => {
  // 12 runs of a sweep, one of which diverged to 57.9 (it flattens every other curve on a fitted y axis).
  sweep.push(
    ...populate(
      dbPath,
      Array.from({ length: 12 }, (_, i) => ({
        experiment: "sweep",
        name: `run-${String(i).padStart(2, "0")}`,
        createdAt: NOW - 5000 + i * 10,
        status: "completed" as const,
        config: { lr: 0.001 * (i + 1), seed: i },
        metrics: {
          "train/loss": {
            count: 40,
            value: (step: number) => (i === 11 && step >= 38 ? 57.9 : 1.2 - step * 0.01 - i * 0.01),
          },
          "train/acc": [0.1, 0.4, 0.6, 0.7 + i * 0.01],
          "val/loss": [1.1, 0.9, 0.85, 0.8],
        },
      })),
    ),
  );
  const config: Record<string, number> = {};
  for (let k = 0; k < 14; k++) config[`hyper_parameter_${k}`] = k;
  wide.push(
    ...populate(
      dbPath,
      Array.from({ length: 3 }, (_, i) => ({
        experiment: "wide",
        name: `wide-run-with-a-long-name-${i}`,
        createdAt: NOW - 3000 + i,
        status: "completed" as const,
        tags: ["a-very-long-tag-name-that-does-not-fit", "baseline", "ablation-without-dropout"],
        config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v + i])),
        metrics: { "train/loss": [1, 0.5] },
      })),
    ),
  );
  [browser, server] = await Promise.all([launchBrowser(), serve(dbPath)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

describe("dashboard: stable colours", () => {
  it("keeps a run's colour when older runs are deleted (the colour follows the run, not its position)", async () => {
    // Created after other experiments' runs: by database number (seq mod 14) these would not start at the palette's first colour.
    const runs = populate(
      dbPath,
      ["c0", "c1", "c2", "c3"].map((name, i) => ({
        experiment: "colours",
        name,
        createdAt: NOW - 900 + i,
        status: "completed" as const,
        metrics: { loss: [1, 0.5] },
      })),
    );
    const { page, context } = await newPage(browser);
    const swatchColor = (id: string) =>
      row(page, id)
        .locator("[data-testid=color-swatch]")
        .evaluate((el) => getComputedStyle(el).backgroundColor);
    const legendColors = () =>
      page
        .locator("[data-testid=chart-legend] .legend-line")
        .evaluateAll((els) => els.map((e) => getComputedStyle(e).backgroundColor));
    const rgb = (hex: string) => {
      const n = Number.parseInt(hex.slice(1), 16);
      return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
    };
    await page.goto(`${server.url}/?exp=colours`);
    await row(page, runs[3].id).waitFor();
    const before = await swatchColor(runs[3].id);
    // Each run got the lowest palette index its experiment's newer runs did not use, stored at creation.
    const indexes = await Promise.all(
      runs.map(async (run) => (await apiGet<{ color_index: number }>(server, `/api/runs/${run.id}`)).body.color_index),
    );
    expect(indexes).toEqual([0, 1, 2, 3]);
    expect(before).toBe(rgb(PALETTE[3]));
    expect(await legendColors()).toEqual([3, 2, 1, 0].map((i) => rgb(PALETTE[i])));
    // Delete the two oldest runs: by creation order every newer run would be recoloured.
    for (const run of runs.slice(0, 2)) {
      expect((await fetch(`${server.url}/api/runs/${run.id}`, { method: "DELETE" })).status).toBe(200);
    }
    await waitUntil(async () => (await page.locator("[data-testid=run-row]").count()) === 2, "rows gone");
    expect(await swatchColor(runs[3].id)).toBe(before);
    await page.reload();
    await row(page, runs[3].id).waitFor();
    expect(await swatchColor(runs[3].id)).toBe(before);
    expect(await legendColors()).toEqual([rgb(PALETTE[3]), rgb(PALETTE[2])]);
    await context.close();
  });
});

describe("dashboard: a table that keeps its bearings", () => {
  it("keeps the check box and name in view while scrolling sideways, and shows tags in full on hover", async () => {
    const { page, context } = await newPage(browser, { width: 1024, height: 800 });
    await page.goto(
      `${server.url}/?exp=wide&cols=${Array.from({ length: 14 }, (_, k) => `config:hyper_parameter_${k}`).join(",")}`,
    );
    await row(page, wide[0].id).waitFor();
    const scroller = page.locator("[data-testid=table-scroll]");
    const box = await scroller.boundingBox();
    if (!box) throw new Error("no table");
    const overflow = await scroller.evaluate((el) => el.scrollWidth - el.clientWidth);
    expect(overflow).toBeGreaterThan(500);
    await scroller.evaluate((el) => {
      el.scrollLeft = el.scrollWidth;
    });
    await waitUntil(async () => (await scroller.evaluate((el) => el.scrollLeft)) > 500, "scrolled");
    const check = await row(page, wide[0].id).locator("[data-testid=run-select]").boundingBox();
    const name = await row(page, wide[0].id).locator("[data-testid=run-name]").boundingBox();
    expect(check && check.x >= box.x && check.x + check.width <= box.x + 40).toBe(true);
    expect(name && name.x >= box.x + 70 && name.x < box.x + 120).toBe(true);
    // What is drawn at the name's spot is the name, not a config cell scrolled under it.
    const hit = await page.evaluate(
      ([x, y]) => document.elementFromPoint(x, y)?.closest("[data-col]")?.getAttribute("data-col"),
      [(name?.x ?? 0) + 5, (name?.y ?? 0) + (name?.height ?? 0) / 2],
    );
    expect(hit).toBe("name");
    await shot(page, "table-scrolled-1024");
    await scroller.evaluate((el) => {
      el.scrollLeft = 0;
    });
    const tags = row(page, wide[0].id).locator("[data-testid=run-tags]");
    expect(await tags.getAttribute("title")).toBe(
      "a-very-long-tag-name-that-does-not-fit, baseline, ablation-without-dropout",
    );
    // No run has a group: its empty column is left out; tags are shown.
    const cols = await page
      .locator("[data-testid=col-header]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-col")));
    expect(cols).not.toContain("group");
    expect(cols).toContain("tags");
    await context.close();
  });

  it("opens the column picker whole inside a 1024 px window", async () => {
    const { page, context } = await newPage(browser, { width: 1024, height: 700 });
    await page.goto(`${server.url}/?exp=wide`);
    await row(page, wide[0].id).waitFor();
    await page.locator("[data-testid=columns-button]").click();
    const picker = page.locator("[data-testid=column-picker]");
    await picker.waitFor();
    const box = await picker.boundingBox();
    expect(box).not.toBeNull();
    if (!box) return;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(1024);
    expect(box.y + box.height).toBeLessThanOrEqual(700);
    // Its far corner is the picker itself, not whatever is behind it.
    const top = await page.evaluate(
      ([x, y]) => Boolean(document.elementFromPoint(x, y)?.closest("[data-testid=column-picker]")),
      [box.x + box.width - 6, box.y + box.height - 6],
    );
    expect(top).toBe(true);
    await shot(page, "column-picker-1024");
    await context.close();
  });

  it("is as tall as its rows up to a limit, and sorts numbers ascending on the first click", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=wide`);
    await row(page, wide[0].id).waitFor();
    const three = (await page.locator("[data-testid=table-scroll]").boundingBox())?.height ?? 0;
    expect(three).toBeLessThan(36 * 5 + 20);
    await page.goto(`${server.url}/?exp=sweep`);
    await row(page, sweep[0].id).waitFor();
    const twelve = (await page.locator("[data-testid=table-scroll]").boundingBox())?.height ?? 0;
    expect(twelve).toBeGreaterThan(three + 36 * 8);
    await page.locator('[data-testid=col-header][data-col="config:lr"]').click();
    expect(query(page).get("order")).toBe("asc");
    const names = await page.locator("[data-testid=run-name]").allInnerTexts();
    expect(names.slice(0, 2)).toEqual(["run-00", "run-01"]);
    await context.close();
  });

  it("keeps the chart toolbar and legend in view while the charts scroll", async () => {
    const { page, context } = await newPage(browser, { height: 700 });
    await page.goto(`${server.url}/?exp=sweep`);
    await drawnRuns(page, "train/loss", 10);
    await page.locator("[data-testid=main]").evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    const main = await page.locator("[data-testid=main]").boundingBox();
    const toolbar = await page.locator("[data-testid=charts-sticky]").boundingBox();
    const legend = await page.locator("[data-testid=chart-legend]").boundingBox();
    expect(main && toolbar && legend).toBeTruthy();
    if (!main || !toolbar || !legend) return;
    expect(toolbar.y).toBeGreaterThanOrEqual(main.y - 1);
    expect(legend.y + legend.height).toBeLessThan(main.y + 200);
    const hit = await page.evaluate(
      ([x, y]) => Boolean(document.elementFromPoint(x, y)?.closest("[data-testid=charts-sticky]")),
      [legend.x + 20, legend.y + legend.height / 2],
    );
    expect(hit).toBe(true);
    await shot(page, "charts-scrolled");
    await context.close();
  });
});

describe("dashboard: selection", () => {
  it("charts the newest runs as a mode, adds ticked runs to it, and comes back to it after Clear", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=sweep`);
    await drawnRuns(page, "val/loss", 10);
    const toggle = page.locator("[data-testid=newest-toggle]");
    expect(await toggle.getAttribute("aria-pressed")).toBe("true");
    // Ticking an older run adds it: the newest ten stay.
    await row(page, sweep[0].id).locator("[data-testid=run-select]").check();
    await drawnRuns(page, "val/loss", 11);
    expect(await shown(page.locator("[data-testid=selected-count]"))).toBe("11 selected");
    // Unticking one of the newest drops just that one.
    await row(page, sweep[11].id).locator("[data-testid=run-select]").uncheck();
    await drawnRuns(page, "val/loss", 10);
    expect(await row(page, sweep[10].id).getAttribute("aria-selected")).toBe("true");
    // A reload keeps all of it.
    await page.reload();
    await drawnRuns(page, "val/loss", 10);
    expect(await row(page, sweep[0].id).getAttribute("aria-selected")).toBe("true");
    expect(await row(page, sweep[11].id).getAttribute("aria-selected")).toBe("false");
    await page.locator("[data-testid=clear-selection]").click();
    await page.locator("[data-testid=empty-selection]").waitFor();
    expect(await toggle.getAttribute("aria-pressed")).toBe("false");
    await toggle.click();
    await drawnRuns(page, "val/loss", 10);
    expect(await row(page, sweep[11].id).getAttribute("aria-selected")).toBe("true");
    await context.close();
  });
});

describe("dashboard: per-chart settings and workspaces", () => {
  it("gives one chart its own y scale and an outlier-proof range, kept in the URL", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=sweep&newest=1&runs=${sweep[11].id}`);
    await drawnRuns(page, "train/loss", 10);
    await waitUntil(async () => Number(await chart(page, "train/loss").getAttribute("data-y-max")) >= 57.9, "fit");
    await cell(page, "train/loss").hover();
    await cell(page, "train/loss").locator("[data-testid=chart-settings-button]").click();
    const settings = page.locator("[data-testid=chart-settings]");
    await settings.locator("[data-testid=chart-range-mode]").selectOption("pct");
    // The diverged run no longer sets the range: the sweep's curves (0.7 to 1.2) fill the chart.
    await waitUntil(async () => Number(await chart(page, "train/loss").getAttribute("data-y-max")) < 10, "pct range");
    await settings.locator("[data-testid=chart-y-log]").click();
    await waitUntil(async () => (await chart(page, "train/loss").getAttribute("data-y-distr")) === "3", "log");
    expect(await chart(page, "train/acc").getAttribute("data-y-distr")).toBe("1");
    await shot(page, "chart-settings");
    const charts = JSON.parse(query(page).get("charts") ?? "{}");
    expect(charts["train/loss"]).toEqual({ range: { mode: "pct", pct: 5 }, log: true });
    await page.reload();
    await drawnRuns(page, "train/loss", 10);
    await waitUntil(async () => (await chart(page, "train/loss").getAttribute("data-y-distr")) === "3", "log kept");
    expect(Number(await chart(page, "train/loss").getAttribute("data-y-max"))).toBeLessThan(10);
    // A manual range: the top is where the person put it.
    await cell(page, "train/loss").hover();
    await cell(page, "train/loss").locator("[data-testid=chart-settings-button]").click();
    await settings.locator("[data-testid=chart-y-linear]").click();
    await settings.locator("[data-testid=chart-range-mode]").selectOption("manual");
    await settings.locator("[data-testid=chart-range-max]").fill("3");
    await waitUntil(async () => Number(await chart(page, "train/loss").getAttribute("data-y-max")) === 3, "manual max");
    expect(JSON.parse(query(page).get("charts") ?? "{}")["train/loss"]).toEqual({
      range: { mode: "manual", min: null, max: 3 },
    });
    await context.close();
  });

  it("lays charts out in columns, hides, pins and resizes them, and saves the workspace under a name", async () => {
    const { page, context } = await newPage(browser);
    page.on("dialog", (dialog) => void dialog.accept(dialog.type() === "prompt" ? "one column" : undefined));
    await page.goto(`${server.url}/?exp=sweep`);
    await drawnRuns(page, "val/loss", 10);
    await page.locator("[data-testid=chart-cols-1]").click();
    const grid = await page.locator("[data-testid=chart-grid]").first().boundingBox();
    const one = await cell(page, "train/acc").boundingBox();
    expect(grid && one && one.width > grid.width - 2).toBe(true);
    // Pin val/loss: it moves above the groups.
    await cell(page, "val/loss").hover();
    await cell(page, "val/loss").locator("[data-testid=chart-pin]").click();
    const pinned = page.locator("[data-testid=pinned-charts] [data-testid=chart-cell]");
    await waitUntil(async () => (await pinned.count()) === 1, "pinned");
    const pinnedBox = await pinned.boundingBox();
    const trainBox = await cell(page, "train/acc").boundingBox();
    expect(pinnedBox && trainBox && pinnedBox.y < trainBox.y).toBe(true);
    // Hide train/acc.
    await cell(page, "train/acc").hover();
    await cell(page, "train/acc").locator("[data-testid=chart-hide]").click();
    await waitUntil(async () => (await cell(page, "train/acc").count()) === 0, "hidden");
    expect(await page.locator("[data-testid=hidden-charts] option").first().textContent()).toBe("1 hidden");
    // Drag train/loss's bottom edge 100 px down.
    const before = (await chart(page, "train/loss").boundingBox())?.height ?? 0;
    const handle = await cell(page, "train/loss").locator("[data-testid=chart-resize]").boundingBox();
    if (!handle) throw new Error("no resize handle");
    await page.mouse.move(handle.x + 50, handle.y + 4);
    await page.mouse.down();
    await page.mouse.move(handle.x + 50, handle.y + 104, { steps: 5 });
    await page.mouse.up();
    await waitUntil(async () => ((await chart(page, "train/loss").boundingBox())?.height ?? 0) > before + 80, "taller");
    await shot(page, "workspace-arranged");
    // Save it, for everyone who opens this experiment.
    await page.locator("[data-testid=workspace-save]").click();
    await waitUntil(() => query(page).get("ws") === "one column", "saved");
    const saved = await apiGet<{ name: string; state: { chartCols: number } }[]>(
      server,
      "/api/experiments/sweep/workspaces",
    );
    expect(saved.body.map((w) => [w.name, w.state.chartCols])).toEqual([["one column", 1]]);
    // Someone else opens the experiment and switches to the saved workspace.
    const other = await newPage(browser);
    await other.page.goto(`${server.url}/?exp=sweep`);
    await drawnRuns(other.page, "train/acc", 10);
    await other.page.locator("[data-testid=workspace-select]").selectOption("one column");
    await waitUntil(async () => (await cell(other.page, "train/acc").count()) === 0, "applied");
    expect(
      await other.page.locator("[data-testid=pinned-charts] [data-testid=chart-cell]").getAttribute("data-key"),
    ).toBe("val/loss");
    expect(query(other.page).get("ccols")).toBe("1");
    await other.context.close();
    await context.close();
  });
});

describe("dashboard: run page", () => {
  it("shows every metric charted, the config tree, provenance, notes, tags and times, by link", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?run=${sweep[3].id}&page=run`);
    const runPage = page.locator("[data-testid=run-page]");
    await runPage.waitFor();
    for (const key of ["train/acc", "train/loss", "val/loss"]) await drawnRuns(page, key, 1);
    expect(await shown(page.locator("[data-testid=run-page-info] [data-testid=prov-host]"))).toBe("gpu-box-7");
    expect(await shown(page.locator("[data-testid=run-page-info]"))).toContain("lr");
    expect(await page.locator("[data-testid=notes-input]").count()).toBe(1);
    expect(await page.locator("[data-testid=detail-created]").count()).toBe(1);
    expect(await page.locator("[data-testid=run-detail]").count()).toBe(0);
    await shot(page, "run-page");
    // From the drawer, "Open page" goes there; back goes to all runs.
    await page.locator("[data-testid=run-page-back]").click();
    await row(page, sweep[3].id).locator("[data-testid=run-name]").click();
    await page.locator("[data-testid=open-run-page]").click();
    await runPage.waitFor();
    expect(query(page).get("page")).toBe("run");
    await context.close();
  });
});

describe("dashboard: live sidebar", () => {
  it("shows a new experiment without a reload, and opens a link to one before it exists once it does", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=future-experiment`);
    await page.locator("[data-testid=waiting-for-experiment]").waitFor();
    const other = await newPage(browser);
    await other.page.goto(`${server.url}/?exp=sweep`);
    await other.page.locator("[data-testid=run-row]").first().waitFor();
    const created = populate(dbPath, [
      { experiment: "future-experiment", name: "first", status: "completed", metrics: { loss: [1, 0.5] } },
    ]);
    // Far sooner than any poll: the live stream announces it.
    for (const p of [page, other.page]) {
      await waitUntil(
        async () => (await p.locator('[data-testid=experiment-item][data-name="future-experiment"]').count()) === 1,
        "sidebar entry",
        3000,
      );
    }
    await row(page, created[0].id).waitFor({ timeout: 3000 });
    await other.context.close();
    await context.close();
  });

  it("shows an experiment made after the sidebar was read but before the live stream opened", async () => {
    const { page, context } = await newPage(browser);
    // The stream opens late (a busy machine); the experiment list was read before it.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route("**/api/events**", async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${server.url}/?exp=sweep`);
    await page.locator("[data-testid=run-row]").first().waitFor();
    await page.locator('[data-testid=experiment-item][data-name="sweep"]').waitFor();
    populate(dbPath, [{ experiment: "made-in-the-gap", name: "gap", status: "completed", metrics: { loss: [1] } }]);
    release();
    // Far sooner than the slow poll (a minute): the stream's opening reads the list again.
    await waitUntil(
      async () => (await page.locator('[data-testid=experiment-item][data-name="made-in-the-gap"]').count()) === 1,
      "sidebar entry",
      3000,
    );
    await context.close();
  });

  it("reads the experiment list again when its stream comes back after the server restarted", async () => {
    // A server of its own, restarted on the same port while the page stays open.
    const first = await serve(dbPath);
    const port = Number(new URL(first.url).port);
    let own: RunningServer | null = first;
    const { page, context } = await newPage(browser);
    try {
      await page.goto(`${first.url}/?exp=sweep`);
      await page.locator("[data-testid=run-row]").first().waitFor();
      await waitUntil(
        async () => (await page.getByTestId("live-status").getAttribute("data-status")) === "live",
        "live",
      );
      own = null;
      await first.close();
      populate(dbPath, [{ experiment: "made-while-down", name: "down", status: "completed", metrics: { loss: [1] } }]);
      own = await startServer({ dbPath, host: "127.0.0.1", port, token: null, pollIntervalMs: 50 });
      // Far sooner than the slow poll (a minute): the stream's return reads the list again.
      await waitUntil(
        async () => (await page.locator('[data-testid=experiment-item][data-name="made-while-down"]').count()) === 1,
        "sidebar entry",
        6000,
      );
    } finally {
      await context.close();
      await own?.close();
    }
  });
});
