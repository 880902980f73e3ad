/**
 * The where language in the dashboard's search box, in a real Chromium: an
 * expression shows exactly the runs GET /api/experiments/{id}/runs?where=
 * returns for it, a mistake is shown under the box at its column, and field
 * names complete from the experiment's keys. Screenshots of the box (with
 * completion and with a mistake, light and dark) go to $STONKS_SHOTS
 * (default: a temp folder).
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExperimentJson, RunJson } from "../src/contract/wire.js";
import type { RunningServer } from "../src/server/index.js";
import { apiGet, attrs, launchBrowser, newPage, populate, serve, tempDir, waitUntil } from "./support/ui-support.js";

const NOW = Date.now() / 1000;
const tmp = tempDir("stonks-ui-where-");
const dbPath = `${tmp.dir}/stonks.db`;
const SHOTS = process.env.STONKS_SHOTS ?? `${tmp.dir}/shots`;
let browser: Browser;
let server: RunningServer;
let experimentId: string;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const models = ["resnet18", "resnet50", "vit-base", "resnet101"];
  populate(
    dbPath,
    Array.from({ length: 12 }, (_, i) => ({
      experiment: "sweep",
      name: `run-${i}`,
      config: { lr: [0.1, 0.01, 0.001][i % 3], model: models[i % 4], optimizer: { name: i % 2 ? "adam" : "sgd" } },
      tags: i % 5 === 0 ? ["baseline"] : [],
      createdAt: NOW - 1000 + i,
      status: i % 4 === 3 ? "failed" : "completed",
      metrics: { "val/acc": [0.1, 0.5 + i / 40], "train/loss": [2, 1 - i / 20] },
    })),
  );
  server = await serve(dbPath);
  const experiments = await apiGet<ExperimentJson[]>(server, "/api/experiments");
  experimentId = (experiments.body.find((e) => e.name === "sweep") as ExperimentJson).id;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

async function open(dark = false): Promise<{ page: Page; errors: string[] }> {
  const { page, errors } = await newPage(browser, { dark, width: 1300, height: 700 });
  await page.goto(`${server.url}/?exp=sweep`);
  await page.locator("[data-testid=run-row]").first().waitFor();
  return { page, errors };
}

async function apiIds(where: string): Promise<string[]> {
  const reply = await apiGet<RunJson[]>(
    server,
    `/api/experiments/${experimentId}/runs?where=${encodeURIComponent(where)}`,
  );
  expect(reply.status).toBe(200);
  return reply.body.map((r) => r.id);
}

async function shownIds(page: Page, count: number): Promise<string[]> {
  const rows = page.locator("[data-testid=run-row]");
  await waitUntil(async () => (await rows.count()) === count, `${count} rows`);
  return (await attrs(rows, "data-run-id")) as string[];
}

describe("the search box reads where expressions", () => {
  it.each([
    'config.model GLOB "resnet*" AND metric.val/acc.max > 0.7',
    "config.lr IN (0.1, 0.001) OR status = failed",
    'NOT "baseline" IN tags AND config.optimizer.name = adam',
    "metric.train/loss.last BETWEEN 0.6 AND 0.8",
  ])("shows the runs the API returns for %s", async (where) => {
    const { page, errors } = await open();
    const expected = await apiIds(where);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(12);
    await page.locator("[data-testid=run-search]").fill(where);
    expect(await shownIds(page, expected.length)).toEqual(expected);
    expect(await page.locator("[data-testid=run-search]").getAttribute("data-mode")).toBe("where");
    await expect(page.locator("[data-testid=where-error]").count()).resolves.toBe(0);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("shows a mistake under the box at its column and filters nothing until it is fixed", async () => {
    const { page, errors } = await open();
    const box = page.locator("[data-testid=run-search]");
    await box.fill("config.lr >> 0.01");
    const error = page.locator("[data-testid=where-error]");
    await error.waitFor();
    expect(await page.locator("[data-testid=where-error-message]").textContent()).toBe(
      'at column 12: expected a value after ">", not ">"',
    );
    expect(await page.locator("[data-testid=where-error-mark]").textContent()).toBe(">");
    expect(await box.getAttribute("aria-invalid")).toBe("true");
    expect(await shownIds(page, 12)).toHaveLength(12);
    await box.fill("config.lr > 0.01");
    await waitUntil(async () => (await error.count()) === 0, "the mistake to go");
    expect(await shownIds(page, 4)).toEqual(await apiIds("config.lr > 0.01"));
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("completes a config key of the experiment", async () => {
    const { page, errors } = await open();
    const box = page.locator("[data-testid=run-search]");
    await box.click();
    await box.pressSequentially("config.opt");
    const items = page.locator("[data-testid=where-completion]");
    await items.first().waitFor();
    expect(await items.allTextContents()).toEqual(["config.optimizer.name"]);
    // Half a field is not a mistake yet while the list offers the rest.
    expect(await box.getAttribute("aria-invalid")).toBe("false");
    await box.press("Enter");
    expect(await box.inputValue()).toBe("config.optimizer.name");
    await box.pressSequentially(" = sgd");
    expect(await shownIds(page, 6)).toEqual(await apiIds("config.optimizer.name = sgd"));
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("looks right with completion and with a mistake, light and dark", async () => {
    for (const dark of [false, true]) {
      const { page, errors } = await open(dark);
      const toolbar = page.locator(".table-toolbar");
      const box = page.locator("[data-testid=run-search]");
      await box.click();
      await box.pressSequentially("metric.");
      await page.locator("[data-testid=where-completion]").first().waitFor();
      await page.screenshot({
        path: `${SHOTS}/where-completion-${dark ? "dark" : "light"}.png`,
        clip: await clip(toolbar),
      });
      await box.fill('config.model GLOB "res*" AND config.lr >=');
      await page.locator("[data-testid=where-error]").waitFor();
      await page.screenshot({ path: `${SHOTS}/where-error-${dark ? "dark" : "light"}.png`, clip: await clip(toolbar) });
      expect(errors).toEqual([]);
      await page.context().close();
    }
  });
});

/** The toolbar and the space under it where the box's list or message opens. */
async function clip(toolbar: ReturnType<Page["locator"]>) {
  const box = await toolbar.boundingBox();
  if (box === null) throw new Error("the table's toolbar is not on the page");
  return { x: box.x, y: box.y, width: Math.min(box.width, 900), height: box.height + 230 };
}
