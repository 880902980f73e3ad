/**
 * Dashboard in a real browser: navigation, the run table (statuses, columns,
 * sorting, filters, virtualisation), run detail, config comparison, the URL
 * as the view, themes, empty states and errors. Real server, real database.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExperimentJson } from "../src/contract/wire.js";
import type { RunningServer } from "../src/server/index.js";
import { openDatabase, runImmediate } from "../src/store/connection.js";
import { ensureExperiment } from "../src/store/writes.js";
import {
  apiGet,
  attrs,
  launchBrowser,
  newPage,
  populate,
  query,
  serve,
  shown,
  tempDir,
  texts,
  waitUntil,
} from "./support/ui-support.js";

const NOW = Date.now() / 1000;
const tmp = tempDir("stonks-ui-browse-");
const dbPath = `${tmp.dir}/stonks.db`;
let browser: Browser;
let server: RunningServer;
const ids: Record<string, string> = {};

function styleOf(page: Page, selector: string, prop: string): Promise<string> {
  return page.evaluate(
    `getComputedStyle(document.querySelector(${JSON.stringify(selector)})).getPropertyValue(${JSON.stringify(prop)})`,
  ) as Promise<string>;
}

async function openExperiment(page: Page, name: string): Promise<void> {
  await page.locator(`[data-testid=experiment-item][data-name="${name}"] button`).first().click();
  await page.locator("[data-testid=experiment-title]", { hasText: name }).waitFor();
  await page.locator("[data-testid=run-row]").first().waitFor();
}

beforeAll(async () => {
  const vision = populate(dbPath, [
    {
      experiment: "vision",
      name: "alpha-running",
      createdAt: NOW - 500,
      tags: ["sweep", "best"],
      group: "g1",
      config: { lr: 0.1, batch: 64, optimizer: { name: "adam", beta: 0.9 } },
      notes: "the good one",
      metrics: { "train/loss": [3, 2, 1.5], "val/acc": [0.5, 0.7] },
    },
    {
      experiment: "vision",
      name: "bravo-stale",
      createdAt: NOW - 4000,
      heartbeat: NOW - 3600,
      tags: ["sweep"],
      group: "g1",
      config: { lr: 0.01, batch: 64, optimizer: { name: "sgd", beta: 0.9 } },
      metrics: { "train/loss": [3, 2.5] },
    },
    {
      experiment: "vision",
      name: "charlie-done",
      createdAt: NOW - 5000,
      status: "completed",
      tags: ["baseline"],
      group: "g2",
      config: { lr: 0.001, batch: 128, optimizer: { name: "adam", beta: 0.9 } },
      metrics: { "train/loss": [4, 0.7, 0.9] },
    },
    {
      experiment: "vision",
      name: "delta-failed",
      createdAt: NOW - 6000,
      status: "failed",
      config: { lr: 0.3, batch: 64, optimizer: { name: "adam", beta: 0.95 } },
      metrics: { "train/loss": [9, 8] },
    },
    {
      experiment: "vision",
      name: "echo-interrupted",
      createdAt: NOW - 7000,
      status: "interrupted",
      config: { lr: 0.03, batch: 32, optimizer: { name: "sgd", beta: 0.9 } },
      metrics: { "train/loss": [5, 4.4] },
    },
  ]);
  for (const [i, name] of ["alpha", "bravo", "charlie", "delta", "echo"].entries()) ids[name] = vision[i].id;
  populate(dbPath, [
    { experiment: "nlp-bert", name: "bert-1", status: "completed", createdAt: NOW - 90_000 },
    { experiment: "nlp-bert", name: "bert-2", status: "completed", createdAt: NOW - 80_000 },
  ]);
  populate(
    dbPath,
    Array.from({ length: 3000 }, (_, i) => ({
      experiment: "big-sweep",
      name: `run-${String(i).padStart(4, "0")}`,
      createdAt: NOW - 200_000 + i,
      status: "completed" as const,
      config: { index: i },
    })),
  );
  const db = openDatabase(dbPath);
  runImmediate(db, () => ensureExperiment(db, "empty-exp", NOW - 100_000));
  db.close();
  [browser, server] = await Promise.all([launchBrowser(), serve(dbPath)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

describe("dashboard: navigate, table, detail, compare, URL, themes", () => {
  it("lists experiments with run counts in the sidebar and searches them", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/`);
    await page.locator("[data-testid=experiment-item]").first().waitFor();
    expect(await texts(page, "[data-testid=experiment-item] .experiment-name")).toEqual([
      "big-sweep",
      "empty-exp",
      "nlp-bert",
      "vision",
    ]);
    const count = (name: string) =>
      shown(page.locator(`[data-testid=experiment-item][data-name="${name}"] [data-testid=experiment-count]`));
    expect(await count("vision")).toBe("5");
    expect(await count("big-sweep")).toBe("3000");
    expect(await count("nlp-bert")).toBe("2");
    // The header names the file shown, so a run logged into another file is not a mystery.
    await page.getByTestId("db-file").waitFor();
    expect(await shown(page.getByTestId("db-file"))).toBe("stonks.db");
    expect(await page.getByTestId("db-file").getAttribute("title")).toBe(`This dashboard shows ${dbPath}`);
    await page.locator("[data-testid=experiment-search]").fill("BER");
    await waitUntil(async () => (await page.locator("[data-testid=experiment-item]").count()) === 1, "search");
    expect(await texts(page, "[data-testid=experiment-item] .experiment-name")).toEqual(["nlp-bert"]);
    await page.locator("[data-testid=experiment-search]").fill("zzz");
    await page.locator("[data-testid=no-experiments]").waitFor();
    await page.locator("[data-testid=experiment-search]").fill("");
    await openExperiment(page, "vision");
    expect(query(page).get("exp")).toBe(
      server && (await apiGet<ExperimentJson>(server, "/api/experiments/vision")).body.id,
    );
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows every status visibly distinct, with created, duration, tags and group", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=vision`);
    await page.locator("[data-testid=run-row]").nth(4).waitFor();
    const row = (name: string) => page.locator(`[data-testid=run-row][data-run-id="${ids[name]}"]`);
    const expected: Record<string, string> = {
      alpha: "running",
      bravo: "stale",
      charlie: "completed",
      delta: "failed",
      echo: "interrupted",
    };
    const backgrounds = new Set<string>();
    for (const [name, status] of Object.entries(expected)) {
      const badge = row(name).locator("[data-testid=status-badge]");
      expect(await badge.getAttribute("data-status")).toBe(status);
      expect(await shown(badge)).toBe(status);
      backgrounds.add(
        await styleOf(page, `[data-run-id="${ids[name]}"] [data-testid=status-badge]`, "background-color"),
      );
    }
    expect(backgrounds.size).toBe(5);
    expect(await shown(row("alpha").locator("[data-col=tags]"))).toContain("sweep");
    expect(await shown(row("alpha").locator("[data-col=tags]"))).toContain("best");
    expect(await shown(row("alpha").locator("[data-col=group]"))).toBe("g1");
    expect(await shown(row("charlie").locator("[data-col=duration]"))).toBe("1m 40s");
    expect(await shown(row("charlie").locator("[data-col=created]"))).toMatch(/h ago|min ago/);
    expect(await shown(row("alpha").locator("[data-col=created]"))).toMatch(/^\d+ min ago$/);
    // Newest first by default.
    expect(await texts(page, "[data-testid=run-name]")).toEqual([
      "alpha-running",
      "bravo-stale",
      "charlie-done",
      "delta-failed",
      "echo-interrupted",
    ]);
    await context.close();
  });

  it("adds config and metric columns and sorts by any column", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=vision`);
    await page.locator("[data-testid=run-row]").nth(4).waitFor();
    // Default columns: config keys that differ between runs, and the last value of a metric.
    const headers = await attrs(page.locator("[data-testid=col-header]"), "data-col");
    expect(headers).toEqual(
      expect.arrayContaining([
        "name",
        "status",
        "created",
        "duration",
        "tags",
        "group",
        "config:lr",
        "metric:train/loss:last",
      ]),
    );
    await page.locator("[data-testid=columns-button]").click();
    await page.locator("[data-testid=column-picker]").waitFor();
    await page.locator('[data-testid=col-option][data-col="metric:train/loss:min"]').check();
    await page.locator('[data-testid=col-option][data-col="metric:train/loss:max"]').check();
    await page.locator("[data-testid=column-filter]").fill("optim");
    await page.locator('[data-testid=col-option][data-col="config:optimizer.name"]').check();
    await page.keyboard.press("Escape");
    const cell = (name: string, col: string) =>
      shown(page.locator(`[data-testid=run-row][data-run-id="${ids[name]}"] [data-col="${col}"]`));
    expect(await cell("charlie", "metric:train/loss:min")).toBe("0.7");
    expect(await cell("charlie", "metric:train/loss:max")).toBe("4");
    expect(await cell("charlie", "metric:train/loss:last")).toBe("0.9");
    expect(await cell("bravo", "config:optimizer.name")).toBe("sgd");
    expect(await cell("alpha", "config:lr")).toBe("0.1");
    const names = () => texts(page, "[data-testid=run-name]");
    const sortBy = (col: string) => page.locator(`[data-testid=col-header][data-col="${col}"]`).click();

    // Numeric columns sort ascending on the first click (smallest loss first), descending on the second.
    await sortBy("metric:train/loss:min");
    expect(query(page).get("sort")).toBe("metric:train/loss:min");
    expect(query(page).get("order")).toBe("asc");
    expect(await names()).toEqual(["charlie-done", "alpha-running", "bravo-stale", "echo-interrupted", "delta-failed"]);
    await sortBy("metric:train/loss:min");
    expect(await names()).toEqual(["delta-failed", "echo-interrupted", "bravo-stale", "alpha-running", "charlie-done"]);
    await sortBy("config:lr");
    await sortBy("config:lr");
    expect(await names()).toEqual(["delta-failed", "alpha-running", "echo-interrupted", "bravo-stale", "charlie-done"]);
    await sortBy("name");
    expect(await names()).toEqual(["alpha-running", "bravo-stale", "charlie-done", "delta-failed", "echo-interrupted"]);
    await sortBy("status");
    expect((await names())[0]).toBe("alpha-running");
    expect((await names())[4]).toBe("charlie-done");
    await sortBy("duration");
    await sortBy("duration");
    // Live: now - created (500 s); stale: last heartbeat - created (400 s); finished: 100 s.
    expect((await names()).slice(0, 2)).toEqual(["alpha-running", "bravo-stale"]);
    await sortBy("config:optimizer.name");
    await sortBy("config:optimizer.name");
    expect((await names()).slice(0, 2).sort()).toEqual(["bravo-stale", "echo-interrupted"]);
    await context.close();
  });

  it("filters by status, tag and text", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=vision`);
    await page.locator("[data-testid=run-row]").nth(4).waitFor();
    const names = () => texts(page, "[data-testid=run-name]");
    await page.locator("[data-testid=status-filter]").selectOption("stale");
    await waitUntil(async () => (await names()).length === 1, "status filter");
    expect(await names()).toEqual(["bravo-stale"]);
    await page.locator("[data-testid=status-filter]").selectOption("running");
    await waitUntil(async () => (await names())[0] === "alpha-running", "running filter");
    expect(await names()).toEqual(["alpha-running"]);
    await page.locator("[data-testid=status-filter]").selectOption("");
    await page.locator("[data-testid=tag-filter]").selectOption("sweep");
    await waitUntil(async () => (await names()).length === 2, "tag filter");
    expect(await names()).toEqual(["alpha-running", "bravo-stale"]);
    await page.locator("[data-testid=tag-filter]").selectOption("");
    await page.locator("[data-testid=run-search]").fill("CHAR");
    await waitUntil(async () => (await names()).length === 1, "text filter");
    expect(await names()).toEqual(["charlie-done"]);
    expect(await shown(page.locator("[data-testid=run-count]"))).toContain("1 of 5 runs");
    await page.locator("[data-testid=run-search]").fill("no such run");
    await page.locator("[data-testid=table-empty]").waitFor();
    await page.locator("[data-testid=clear-filters]").click();
    await waitUntil(async () => (await names()).length === 5, "filters cleared");
    await context.close();
  });

  it("scrolls thousands of runs in a virtualised table", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=big-sweep`);
    await page.locator("[data-testid=run-row]").first().waitFor();
    expect(await shown(page.locator("[data-testid=run-count]"))).toContain("3000 runs");
    const rendered = await page.locator("[data-testid=run-row]").count();
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(80);
    expect((await texts(page, "[data-testid=run-name]"))[0]).toBe("run-2999");
    await page.locator("[data-testid=table-scroll]").evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.locator("[data-testid=run-name]", { hasText: "run-0000" }).waitFor();
    expect(await page.locator("[data-testid=run-row]").count()).toBeLessThan(80);
    // Selecting every run is allowed (no cap); the compare view shows the column of each.
    await page.locator("[data-testid=clear-selection]").click();
    await page.locator("[data-testid=run-search]").fill("run-00");
    await waitUntil(
      async () => (await shown(page.locator("[data-testid=run-count]"))).includes("100 of 3000"),
      "filtered",
    );
    await page.locator("[data-testid=select-all]").check();
    await waitUntil(
      async () => (await shown(page.locator("[data-testid=selected-count]"))) === "100 selected",
      "100 selected",
    );
    expect(query(page).get("runs")?.split(",").length).toBe(100);
    await context.close();
  });

  it("shows a run's config tree, provenance, notes and times", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=vision`);
    await page.locator(`[data-run-id="${ids.alpha}"] [data-testid=run-name]`).click();
    const detail = page.locator("[data-testid=run-detail]");
    await detail.waitFor();
    expect(query(page).get("run")).toBe(ids.alpha);
    expect(await detail.locator("[data-testid=detail-name]").inputValue()).toBe("alpha-running");
    expect(await detail.locator("[data-testid=status-badge]").getAttribute("data-status")).toBe("running");
    expect(await shown(detail.locator("[data-testid=detail-id]"))).toBe(ids.alpha);
    expect(await shown(detail.locator("[data-testid=prov-host]"))).toBe("gpu-box-7");
    expect(await shown(detail.locator("[data-testid=prov-command]"))).toBe("python train.py --lr 0.01");
    expect(await shown(detail.locator("[data-testid=prov-git]"))).toContain("0123456789ab");
    expect(await shown(detail.locator("[data-testid=prov-git]"))).toContain("dirty");
    expect(await shown(detail.locator("[data-testid=detail-created]"))).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(await detail.locator("[data-testid=notes-input]").inputValue()).toBe("the good one");
    const tree = detail.locator("[data-testid=config-tree]");
    expect(await shown(tree.locator('[data-testid=config-leaf][data-key="lr"]'))).toContain("0.1");
    // Nested keys sit under their parent node.
    expect(await shown(tree.locator(".tree-node", { hasText: "optimizer" }).locator('[data-key="name"]'))).toContain(
      '"adam"',
    );
    await tree.locator(".tree-toggle", { hasText: "optimizer" }).click();
    await waitUntil(async () => (await tree.locator('[data-key="name"]').count()) === 0, "collapsed node");
    expect(await shown(detail.locator("[data-testid=detail-metrics]"))).toContain("train/loss");
    await detail.locator("[data-testid=detail-close]").click();
    await detail.waitFor({ state: "detached" });
    expect(query(page).get("run")).toBeNull();
    // A link to a run alone opens its experiment.
    await page.goto(`${server.url}/?run=${ids.echo}`);
    await page.locator("[data-testid=run-detail] [data-testid=detail-name]").waitFor();
    expect(await page.locator("[data-testid=detail-name]").inputValue()).toBe("echo-interrupted");
    expect(await shown(page.locator("[data-testid=experiment-title]"))).toBe("vision");
    await context.close();
  });

  it("compares the configs of the selected runs, differing keys highlighted", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=vision&runs=${ids.alpha},${ids.charlie},${ids.bravo}&tab=compare`);
    await page.locator("[data-testid=compare-view]").waitFor();
    const rows = page.locator("[data-testid=compare-row]");
    expect(await attrs(rows, "data-key")).toEqual(["batch", "lr", "optimizer.beta", "optimizer.name"]);
    const differs = async (key: string) =>
      page.locator(`[data-testid=compare-row][data-key="${key}"]`).getAttribute("data-differs");
    expect(await differs("lr")).toBe("true");
    expect(await differs("batch")).toBe("true");
    expect(await differs("optimizer.name")).toBe("true");
    expect(await differs("optimizer.beta")).toBe("false");
    expect(await styleOf(page, '[data-key="lr"] td', "background-color")).not.toBe(
      await styleOf(page, '[data-key="optimizer.beta"] td', "background-color"),
    );
    expect(await shown(page.locator('[data-testid=compare-row][data-key="lr"]'))).toMatch(/0\.1\s+0\.01\s+0\.001/);
    await page.locator("[data-testid=only-diff]").check();
    await waitUntil(async () => (await rows.count()) === 3, "only differences");
    expect(await attrs(rows, "data-key")).toEqual(["batch", "lr", "optimizer.name"]);
    expect(await shown(page.locator("[data-testid=diff-count]"))).toContain("3 of 4 keys differ");
    await page.locator("[data-testid=only-diff]").uncheck();
    await waitUntil(async () => (await rows.count()) === 4, "all keys again");
    await context.close();
  });

  it("keeps the view in the URL: reload and a shared link restore it", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=vision`);
    await page.locator("[data-testid=run-row]").nth(4).waitFor();
    await page.locator("[data-testid=clear-selection]").click();
    await page.locator("[data-testid=empty-selection]").waitFor();
    await page.locator(`[data-run-id="${ids.alpha}"] [data-testid=run-select]`).check();
    await page.locator(`[data-run-id="${ids.charlie}"] [data-testid=run-select]`).check();
    await page.locator("[data-testid=x-rel]").click();
    await page.locator("[data-testid=smoothing]").fill("0.5");
    const chart = page.locator('[data-testid=chart][data-key="train/loss"]');
    await waitUntil(async () => (await chart.getAttribute("data-runs")) === "2", "chart drawn");
    const over = await chart.locator(".u-over").boundingBox();
    if (!over) throw new Error("no plot");
    await page.mouse.move(over.x + over.width * 0.2, over.y + 40);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.5, over.y + 60, { steps: 4 });
    await page.mouse.up();
    await waitUntil(() => query(page).get("zoom"), "zoom in URL");
    const url = page.url();
    const params = query(page);
    expect(params.get("runs")?.split(",").sort()).toEqual([ids.alpha, ids.charlie].sort());
    expect(params.get("x")).toBe("rel");
    expect(params.get("smooth")).toBe("0.5");
    const [lo, hi] = (params.get("zoom") ?? "").split(",").map(Number);

    const check = async (p: Page) => {
      await p.locator('[data-testid=chart][data-key="train/loss"]').waitFor();
      const c = p.locator('[data-testid=chart][data-key="train/loss"]');
      await waitUntil(async () => (await c.getAttribute("data-runs")) === "2", "restored chart");
      expect(await p.locator(`[data-run-id="${ids.alpha}"] [data-testid=run-select]`).isChecked()).toBe(true);
      expect(await p.locator(`[data-run-id="${ids.charlie}"] [data-testid=run-select]`).isChecked()).toBe(true);
      expect(await p.locator(`[data-run-id="${ids.bravo}"] [data-testid=run-select]`).isChecked()).toBe(false);
      expect(await p.locator("[data-testid=x-rel]").getAttribute("aria-pressed")).toBe("true");
      expect(await shown(p.locator("[data-testid=smoothing-value]"))).toBe("0.50");
      await c.locator("[data-testid=zoom-badge]").waitFor();
      expect(Number(await c.getAttribute("data-x-min"))).toBeCloseTo(lo, 6);
      expect(Number(await c.getAttribute("data-x-max"))).toBeCloseTo(hi, 6);
      expect(await c.getAttribute("data-series")).toBe("4");
    };
    await page.reload();
    await check(page);
    const shared = await newPage(browser);
    await shared.page.goto(url);
    await check(shared.page);
    await shared.context.close();
    // Back to an unzoomed view with a double-click.
    await page.locator('[data-testid=chart][data-key="train/loss"] .u-over').dblclick();
    await waitUntil(() => query(page).get("zoom") === null, "zoom reset");
    await context.close();
  });

  it("follows the system theme and switches between light and dark", async () => {
    const dark = await newPage(browser, { dark: true });
    await dark.page.goto(`${server.url}/?exp=vision`);
    await dark.page.locator("[data-testid=run-row]").first().waitFor();
    const theme = (p: Page) => p.locator("html").getAttribute("data-theme");
    expect(await theme(dark.page)).toBe("dark");
    const darkBg = await styleOf(dark.page, "body", "background-color");
    await dark.page.locator("[data-testid=theme-toggle]").click();
    expect(await theme(dark.page)).toBe("light");
    expect(await styleOf(dark.page, "body", "background-color")).not.toBe(darkBg);
    await dark.page.reload();
    await dark.page.locator("[data-testid=run-row]").first().waitFor();
    expect(await theme(dark.page)).toBe("light");
    await dark.page.locator("[data-testid=theme-system]").click();
    expect(await theme(dark.page)).toBe("dark");
    await dark.context.close();
    const light = await newPage(browser);
    await light.page.goto(`${server.url}/?exp=vision`);
    await light.page.locator("[data-testid=run-row]").first().waitFor();
    expect(await theme(light.page)).toBe("light");
    await light.page.locator("[data-testid=theme-toggle]").click();
    expect(await theme(light.page)).toBe("dark");
    await light.context.close();
  });

  it("says what to do next when there is nothing to show", async () => {
    const empty = tempDir("stonks-ui-empty-");
    const emptyServer = await serve(`${empty.dir}/empty.db`);
    try {
      const { page, context } = await newPage(browser);
      await page.goto(`${emptyServer.url}/`);
      const first = page.locator("[data-testid=empty-experiments]");
      await first.waitFor();
      const snippet = await shown(first.locator("[data-testid=snippet]"));
      expect(snippet).toContain("import stonks");
      expect(snippet).toContain('with stonks.start_run("my-experiment", config={"lr": 0.01}) as run:');
      expect(snippet).toContain('    run.log({"train/loss": loss}, step=step)');
      expect(await shown(first.locator("[data-testid=empty-db-file]"))).toBe(
        `This dashboard shows ${empty.dir}/empty.db.`,
      );
      await context.close();
    } finally {
      await emptyServer.close();
      empty.remove();
    }
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=empty-exp`);
    await page.locator("[data-testid=empty-runs] [data-testid=snippet]").waitFor();
    expect(await shown(page.locator("[data-testid=empty-runs]"))).toContain('start_run("empty-exp"');
    await page.goto(`${server.url}/?exp=nlp-bert`);
    await page.locator("[data-testid=empty-metrics] [data-testid=snippet]").waitFor();
    await page.locator("[data-testid=clear-selection]").click();
    await page.locator("[data-testid=empty-selection]").waitFor();
    await page.locator("[data-testid=tab-compare]").click();
    await page.locator("[data-testid=empty-compare]").waitFor();
    await context.close();
  });

  it("says what went wrong: unknown experiment, missing token", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=does-not-exist`);
    const error = page.locator("[data-testid=experiment-error]");
    await error.waitFor();
    expect(await shown(error)).toMatch(/does-not-exist|No experiment/i);
    await context.close();

    const guarded = await serve(dbPath, "s3cret");
    try {
      const anon = await newPage(browser);
      await anon.page.goto(`${guarded.url}/`);
      await anon.page.locator("[data-testid=load-error]").waitFor();
      expect(await shown(anon.page.locator("[data-testid=load-error]"))).toContain("?token=");
      await anon.context.close();
      const authed = await newPage(browser);
      await authed.page.goto(`${guarded.url}/?token=s3cret&exp=vision`);
      await authed.page.locator("[data-testid=run-row]").nth(4).waitFor();
      await waitUntil(
        async () => (await authed.page.locator("[data-testid=live-status]").getAttribute("data-status")) === "live",
        "live with token",
      );
      expect(query(authed.page).get("token")).toBe("s3cret");
      await authed.context.close();
    } finally {
      await guarded.close();
    }
  });
});
