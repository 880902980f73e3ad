/**
 * System metrics in the dashboard, from a run the real TypeScript SDK wrote with
 * startRun(..., { hardware: true }) (GPUs through an nvidia-smi placed first on PATH that
 * answers in the real tool's format): the sys group comes after every training group,
 * collapses like the others, its charts use wall time while the toolbar shows steps, and
 * their y axes name the unit, and a percent axis stays within 0–100 (the GPU here is fully busy:
 * a flat line at 100). Screenshots (light and dark) go to $STONKS_SHOTS.
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

/** The tick labels uPlot drew on a chart's y axis, as the chart records them (blanks left out). */
async function yTicks(page: Page, key: string): Promise<string[]> {
  const labels = JSON.parse((await chart(page, key).getAttribute("data-y-ticks")) ?? "[]") as string[];
  return labels.filter((l) => l !== "");
}

/**
 * Where the lines are drawn: the coloured (not grey: grid and axes are) pixels over the plot, on
 * uPlot's canvas and the chart's own layers, as values on the y scale the chart drew with; and in
 * how many of the plot's pixel columns they are.
 */
async function drawnLine(
  page: Page,
  key: string,
): Promise<{ low: number; high: number; columns: number; width: number }> {
  return chart(page, key).evaluate((card) => {
    interface Canvas {
      width: number;
      height: number;
      clientWidth: number;
      classList: { contains(c: string): boolean };
    }
    const el = card as unknown as {
      dataset: Record<string, string>;
      querySelector(s: string): { offsetLeft: number; offsetTop: number; offsetWidth: number; offsetHeight: number };
      querySelectorAll(s: string): Iterable<Canvas>;
    };
    const over = el.querySelector(".u-over");
    let top = Number.POSITIVE_INFINITY;
    let bottom = Number.NEGATIVE_INFINITY;
    const columns = new Set<number>();
    // What is shown: uPlot's canvas through its mirror (chart-mirror), the layers over and under it.
    for (const canvas of el.querySelectorAll(".uplot canvas:not(.chart-source)")) {
      const ratio = canvas.width / canvas.clientWidth;
      // uPlot's canvas (and its mirror) spans the axes too; the chart's other layers cover the plot only.
      const layer = canvas.classList.contains("chart-layer") && !canvas.classList.contains("chart-mirror");
      const left = layer ? 0 : Math.round(over.offsetLeft * ratio);
      const up = layer ? 0 : Math.round(over.offsetTop * ratio);
      const width = Math.round(over.offsetWidth * ratio);
      const height = Math.round(over.offsetHeight * ratio);
      const data = shownPixels(canvas, left, up, width, height);
      for (let i = 0; i < data.length; i += 4) {
        const spread = Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]);
        if (data[i + 3] < 64 || spread < 60) continue;
        const row = (Math.floor(i / 4 / width) + 0.5) / height;
        columns.add(Math.floor(((i / 4) % width) / ratio));
        top = Math.min(top, row);
        bottom = Math.max(bottom, row);
      }
    }
    const yMin = Number(el.dataset.yMin);
    const yMax = Number(el.dataset.yMax);
    return {
      high: yMax - top * (yMax - yMin),
      low: yMax - bottom * (yMax - yMin),
      columns: columns.size,
      width: over.offsetWidth,
    };
  });
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
  writeFileSync(`${bin}/nvidia-smi`, "#!/bin/sh\nprintf '0, 100, 61234, 81559, 67, 455.5\\n'\n");
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

  for (const dark of [false, true])
    it(`keeps a percent axis within 0–100 for a flat line at 100 (${dark ? "dark" : "light"})`, async () => {
      const { page, context, errors } = await newPage(browser, { dark });
      await page.goto(`${server.url}/?exp=sysmetrics`);
      const key = "sys/gpu0_util";
      await drawn(page, key);
      await waitUntil(async () => (await yTicks(page, key)).length >= 3, "y ticks");
      await chart(page, key).screenshot({ path: `${SHOTS}/gpu-util-flat-100-${dark ? "dark" : "light"}.png` });
      const ticks = (await yTicks(page, key)).map(Number);
      // uPlot's own fit pads a flat line at 100 to 0–200: ticks of 120 % and more.
      expect(Math.max(...ticks)).toBe(100);
      expect(Math.min(...ticks)).toBeGreaterThanOrEqual(0);
      expect(Number(await chart(page, key).getAttribute("data-y-max"))).toBe(100);
      expect(Number(await chart(page, key).getAttribute("data-y-min"))).toBeGreaterThanOrEqual(0);
      // The line is still drawn whole, at 100, along the plot's top edge.
      const line = await drawnLine(page, key);
      expect(line.columns).toBeGreaterThan(line.width * 0.8);
      expect(line.high).toBeCloseTo(100, -1);
      expect(line.low).toBeGreaterThan(95);
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
