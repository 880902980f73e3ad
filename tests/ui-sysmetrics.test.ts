/**
 * System metrics in the dashboard, from a run the real TypeScript SDK wrote with
 * startRun(..., { hardware: true }) (GPUs through an nvidia-smi placed first on PATH that
 * answers in the real tool's format): the sys group comes after every training group,
 * collapses like the others, its charts use wall time while the toolbar shows steps, and
 * their y axes name the unit. Screenshots (light and dark) go to $STONKS_SHOTS.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { open, startRun } from "../dist/index.js";
import type { RunningServer } from "../src/server/index.js";
import { attrs, launchBrowser, newPage, serve, tempDir, waitUntil } from "./support/ui-support.js";

const tmp = tempDir("stonks-ui-sys-");
const dbPath = `${tmp.dir}/stonks.db`;
const SHOTS = process.env.STONKS_SHOTS ?? `${tmp.dir}/shots`;
const SAMPLES = 8;
let browser: Browser;
let server: RunningServer;

const UNITS: Record<string, string> = {
  "sys/cpu_percent": "%",
  "sys/ram_used_gb": "GB",
  "sys/disk_read_mb": "MB",
  "sys/gpu0_util": "%",
  "sys/gpu0_temp_c": "°C",
  "sys/gpu0_power_w": "W",
};

function chart(page: Page, key: string) {
  return page.locator(`[data-testid=chart][data-key="${key}"]`);
}

function cell(page: Page, key: string) {
  return page.locator(`[data-testid=chart-cell][data-key="${key}"]`);
}

async function drawn(page: Page, key: string): Promise<void> {
  await chart(page, key).scrollIntoViewIfNeeded();
  await waitUntil(async () => (await chart(page, key).getAttribute("data-runs")) === "1", `${key} drawn`);
}

/** The y axis title uPlot drew on the canvas, as the chart records it ("" when there is none). */
async function yLabel(page: Page, key: string): Promise<string> {
  return (await chart(page, key).getAttribute("data-y-label")) ?? "";
}

async function storedSamples(runId: string): Promise<number> {
  const reader = open(dbPath, { readonly: true });
  try {
    return reader.getMetrics(runId, "sys/gpu0_util").values.length;
  } catch {
    return 0;
  } finally {
    reader.close();
  }
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const bin = `${tmp.dir}/bin`;
  mkdirSync(bin);
  writeFileSync(`${bin}/nvidia-smi`, "#!/bin/sh\nprintf '0, 91, 61234, 81559, 67, 455.5\\n'\n");
  chmodSync(`${bin}/nvidia-smi`, 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  try {
    const run = startRun("sysmetrics", { db: dbPath, hardware: true, hardwareInterval: 0.05 }).start();
    for (let step = 0; step < 3 || (await storedSamples(run.id)) < SAMPLES; step++) {
      run.log({ "train/loss": 2 / (step + 1), "val/loss": 2.2 / (step + 1), epoch: step });
      await run.flush();
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    await run.finish();
  } finally {
    process.env.PATH = path;
  }
  [browser, server] = await Promise.all([launchBrowser(), serve(dbPath)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

describe("system metrics in the dashboard", () => {
  it("groups sys/* last, on wall time while the toolbar shows steps, with units on the y axis", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/?exp=sysmetrics`);
    await page.locator("[data-testid=chart-group]").first().waitFor();
    expect(await attrs(page.locator("[data-testid=chart-group]"), "data-group")).toEqual([
      "train",
      "val",
      "other",
      "sys",
    ]);
    for (const key of Object.keys(UNITS)) {
      await drawn(page, key);
      expect(await cell(page, key).getAttribute("data-x-axis"), key).toBe("wall");
      // Unix seconds on the x scale: the samples' wall time, not their sample index.
      expect(Number(await chart(page, key).getAttribute("data-x-min")), key).toBeGreaterThan(1e9);
      expect(await yLabel(page, key), key).toBe(UNITS[key]);
    }
    await drawn(page, "train/loss");
    expect(await cell(page, "train/loss").getAttribute("data-x-axis")).toBe("step");
    expect(Number(await chart(page, "train/loss").getAttribute("data-x-max"))).toBeLessThan(1e6);
    expect(await yLabel(page, "train/loss")).toBe("");
    await page.locator('[data-testid=group-toggle][data-group="sys"]').scrollIntoViewIfNeeded();
    await page
      .locator('[data-testid=chart-group][data-group="sys"]')
      .screenshot({ path: `${SHOTS}/sys-group-light.png` });
    await page.locator('[data-testid=group-toggle][data-group="sys"]').click();
    await waitUntil(
      async () => (await page.locator('[data-group="sys"] [data-testid=chart]').count()) === 0,
      "collapsed",
    );
    expect(await page.locator('[data-group="train"] [data-testid=chart]').count()).toBe(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("follows the toolbar when it shows time, and a chart's own axis choice wins", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=sysmetrics&x=rel`);
    await drawn(page, "sys/ram_used_gb");
    expect(await cell(page, "sys/ram_used_gb").getAttribute("data-x-axis")).toBe("rel");
    expect(Number(await chart(page, "sys/ram_used_gb").getAttribute("data-x-min"))).toBeLessThan(1e6);
    await page.goto(
      `${server.url}/?exp=sysmetrics&charts=${encodeURIComponent(JSON.stringify({ "sys/ram_used_gb": { x: "step" } }))}`,
    );
    await drawn(page, "sys/ram_used_gb");
    expect(await cell(page, "sys/ram_used_gb").getAttribute("data-x-axis")).toBe("step");
    expect(Number(await chart(page, "sys/ram_used_gb").getAttribute("data-x-max"))).toBeLessThan(1e6);
    await context.close();
  });

  it("reads in the dark theme too", async () => {
    const { page, context } = await newPage(browser, { dark: true });
    await page.goto(`${server.url}/?exp=sysmetrics`);
    for (const key of Object.keys(UNITS)) await drawn(page, key);
    await page
      .locator('[data-testid=chart-group][data-group="sys"]')
      .screenshot({ path: `${SHOTS}/sys-group-dark.png` });
    expect(await yLabel(page, "sys/gpu0_temp_c")).toBe("°C");
    await context.close();
  });
});
