/**
 * The Sweep tab in Chromium, read from what is drawn: a brush dragged over
 * parallel coordinates' axes leaves exactly the runs inside it in the run
 * table, the charts and the link (and on the lines canvas); the correlation
 * table's Spearman values for a fixture with known ranks; scatter points at
 * the positions their values give, with hover and click. Screenshots of the
 * tab, light and dark, go to $STONKS_SHOTS (default: a temp folder).
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server/index.js";
import { launchBrowser, newPage, populate, query, serve, tempDir, texts, waitUntil } from "./support/ui-support.js";

const tmp = tempDir("stonks-ui-sweep-");
const dbPath = `${tmp.dir}/stonks.db`;
const SHOTS = process.env.STONKS_SHOTS ?? `${tmp.dir}/shots`;
const NOW = Date.now() / 1000;
let browser: Browser;
let server: RunningServer;

/** Eight runs: lr over three decades, the final loss rising with lr, batch unrelated, opt a category. */
const LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1];
const BATCHES = [64, 32, 128, 32, 64, 128, 32, 64];
const OPTS = ["adam", "sgd", "adam", "sgd", "adam", "sgd", "adam", "sgd"];
const finalLoss = (i: number) => 0.2 + 0.1 * i;
const name = (i: number) => `lr-${i}`;
const ids: string[] = [];

interface PageCanvas {
  width: number;
  getBoundingClientRect(): { left: number; top: number; width: number };
  getContext(
    kind: "2d",
  ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

/** Geometry of a parallel coordinates axis in page coordinates: its x and the y of each end. */
async function axisLine(page: Page, id: string): Promise<{ x: number; top: number; bottom: number }> {
  const line = page.locator(`[data-testid=pc-axis][data-axis="${id}"] line`).first();
  const box = await line.boundingBox();
  if (!box) throw new Error(`no axis ${id}`);
  return { x: box.x + box.width / 2, top: box.y, bottom: box.y + box.height };
}

/** Where a value of lr sits on its log axis (0 bottom, 1 top). */
const lrUnit = (lr: number) => (Math.log10(lr) + 4) / (Math.log10(0.3) + 4);

async function drag(page: Page, x: number, fromY: number, toY: number): Promise<void> {
  await page.mouse.move(x, fromY);
  await page.mouse.down();
  for (let i = 1; i <= 6; i++) await page.mouse.move(x, fromY + ((toY - fromY) * i) / 6);
  await page.mouse.up();
}

/** Whether the lines canvas has paint within 2 px of a page point. */
async function paintedAt(page: Page, x: number, y: number): Promise<boolean> {
  return page.locator("[data-testid=pc-lines]").evaluate(
    (el, { x, y }) => {
      const canvas = el as unknown as PageCanvas;
      const rect = canvas.getBoundingClientRect();
      const scale = canvas.width / rect.width;
      const data = canvas
        .getContext("2d")
        ?.getImageData(
          Math.round((x - rect.left - 2) * scale),
          Math.round((y - rect.top - 2) * scale),
          Math.ceil(4 * scale),
          Math.ceil(4 * scale),
        ).data;
      if (!data) return false;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
      return false;
    },
    { x, y },
  );
}

async function tableNames(page: Page): Promise<string[]> {
  return (await texts(page, "[data-testid=run-row] [data-testid=run-name]")).sort();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const populated = populate(
    dbPath,
    LRS.map((lr, i) => ({
      experiment: "sweep",
      name: name(i),
      createdAt: NOW - 1000 + i,
      status: "completed" as const,
      config: { lr, batch: BATCHES[i], opt: OPTS[i], note: `trial ${i}` },
      metrics: { "val/loss": [2, 1, finalLoss(i)], "train/acc": [0.1, 0.5, 0.9 - 0.05 * i] },
    })),
  );
  ids.push(...populated.map((p) => p.id));
  [browser, server] = await Promise.all([launchBrowser(), serve(dbPath)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

async function openSweep(page: Page, extra = "", lines = 8): Promise<void> {
  await page.goto(`${server.url}/?exp=sweep&tab=sweep${extra}`);
  await waitUntil(
    async () => (await page.locator("[data-testid=parallel-coords]").getAttribute("data-drawn")) === String(lines),
    "lines drawn",
  );
}

describe("sweep views", () => {
  it("brushing axes leaves exactly the runs inside in the table, the charts and the link; a click clears", async () => {
    const { page, context, errors } = await newPage(browser);
    await openSweep(page);
    const axes = JSON.parse((await page.locator("[data-testid=parallel-coords]").getAttribute("data-axes")) ?? "[]");
    expect(axes).toEqual(["config:batch", "config:lr", "config:note", "config:opt", "metric:val/loss:last"]);
    expect(await page.locator('[data-testid=pc-axis][data-axis="config:lr"]').getAttribute("data-scale")).toBe("log");
    expect(await page.locator('[data-testid=pc-axis][data-axis="config:opt"]').getAttribute("data-scale")).toBe(
      "category",
    );
    expect(await page.locator('[data-testid=pc-axis][data-axis="config:batch"]').getAttribute("data-scale")).toBe(
      "linear",
    );
    expect(await page.locator("[data-testid=pc-legend-min]").textContent()).toBe("0.2");
    expect(await page.locator("[data-testid=pc-legend-max]").textContent()).toBe("0.9");
    await page.locator("[data-testid=sweep-view]").screenshot({ path: `${SHOTS}/sweep-light.png` });

    // Drag over lr from 5e-4 to 5e-3: runs lr-2 (1e-3) and lr-3 (3e-3).
    const lr = await axisLine(page, "config:lr");
    const yOf = (v: number) => lr.bottom - lrUnit(v) * (lr.bottom - lr.top);
    await drag(page, lr.x, yOf(5e-4), yOf(5e-3));
    await waitUntil(
      async () => (await page.locator("[data-testid=parallel-coords]").getAttribute("data-drawn")) === "2",
      "two lines left",
    );
    const brush = JSON.parse(query(page).get("brush") ?? "{}");
    expect(Object.keys(brush)).toEqual(["config:lr"]);
    expect(brush["config:lr"][0]).toBeGreaterThan(3e-4);
    expect(brush["config:lr"][0]).toBeLessThan(1e-3);
    expect(brush["config:lr"][1]).toBeGreaterThan(3e-3);
    expect(brush["config:lr"][1]).toBeLessThan(1e-2);
    await waitUntil(async () => (await tableNames(page)).length === 2, "table narrowed");
    expect(await tableNames(page)).toEqual(["lr-2", "lr-3"]);
    expect(await page.locator("[data-testid=brush-note]").textContent()).toContain("2 of 8 runs");
    expect(await page.locator("[data-testid=sweep-brushed]").textContent()).toBe("2 of 8 runs in the brush");
    // What is drawn: paint where the kept runs cross the lr axis, none where a brushed-out run does
    // (read the axis again: the brush note above the table moved the tab down).
    const moved = await axisLine(page, "config:lr");
    const movedY = (v: number) => moved.bottom - lrUnit(v) * (moved.bottom - moved.top);
    expect(await paintedAt(page, moved.x, movedY(1e-3))).toBe(true);
    expect(await paintedAt(page, moved.x, movedY(3e-3))).toBe(true);
    expect(await paintedAt(page, moved.x, movedY(1e-1))).toBe(false);
    await page.locator("[data-testid=sweep-view]").screenshot({ path: `${SHOTS}/sweep-brushed-light.png` });

    // A second axis at once: opt = sgd keeps lr-3 alone.
    const opt = await axisLine(page, "config:opt");
    await drag(page, opt.x, opt.top - 4, opt.top + (opt.bottom - opt.top) * 0.2);
    await waitUntil(async () => (await tableNames(page)).length === 1, "two brushes");
    expect(await tableNames(page)).toEqual(["lr-3"]);
    expect(JSON.parse(query(page).get("brush") ?? "{}")["config:opt"]).toEqual(["sgd"]);
    expect(await page.locator("[data-testid=pc-brush]").count()).toBe(2);

    // The charts chart the brushed runs only.
    await page.locator("[data-testid=tab-charts]").click();
    const lossChart = page.locator('[data-testid=chart][data-key="val/loss"]');
    await waitUntil(async () => (await lossChart.getAttribute("data-runs")) === "1", "chart of the brushed run");

    // The link restores the brush; a click on the lr axis clears its brush only.
    await page.reload();
    await waitUntil(async () => (await lossChart.getAttribute("data-runs")) === "1", "chart after reload");
    await page.locator("[data-testid=tab-sweep]").click();
    await waitUntil(
      async () => (await page.locator("[data-testid=parallel-coords]").getAttribute("data-drawn")) === "1",
      "brush restored",
    );
    const lrAgain = await axisLine(page, "config:lr");
    await page.mouse.click(lrAgain.x, (lrAgain.top + lrAgain.bottom) / 2);
    await waitUntil(async () => (await tableNames(page)).length === 4, "lr brush cleared");
    expect(await tableNames(page)).toEqual(["lr-1", "lr-3", "lr-5", "lr-7"]);
    expect(Object.keys(JSON.parse(query(page).get("brush") ?? "{}"))).toEqual(["config:opt"]);
    await page.locator("[data-testid=clear-brush]").click();
    await waitUntil(async () => (await tableNames(page)).length === 8, "all runs back");
    expect(query(page).has("brush")).toBe(false);
    expect(await page.locator("[data-testid=brush-note]").count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("a brush dragged wider draws only the runs that join it; one that drops runs clears the lines first", async () => {
    const { page, context, errors } = await newPage(browser);
    await openSweep(page);
    const lines = page.getByTestId("pc-lines");
    const coords = page.getByTestId("parallel-coords");
    await waitUntil(async () => (await lines.getAttribute("data-painted")) === "8", "every line painted once");
    expect(await lines.getAttribute("data-clears")).toBe("1");

    // Up the lr axis from its bottom to between 1e-2 and 3e-2, in steps: after its first step the brush only widens.
    const lr = await axisLine(page, "config:lr");
    const yOf = (v: number) => lr.bottom - lrUnit(v) * (lr.bottom - lr.top);
    await page.mouse.move(lr.x, lr.bottom + 2);
    await page.mouse.down();
    for (let i = 1; i <= 8; i++) await page.mouse.move(lr.x, lr.bottom + 2 + ((yOf(2e-2) - lr.bottom - 2) * i) / 8);
    await waitUntil(async () => (await coords.getAttribute("data-drawn")) === "5", "five runs in the brush");
    // Each line drawn once: the eight, then the brush's five as they joined; cleared once, when the brush first dropped runs.
    expect(await lines.getAttribute("data-painted")).toBe("13");
    expect(await lines.getAttribute("data-clears")).toBe("2");
    await page.mouse.up();
    await waitUntil(async () => (await tableNames(page)).length === 5, "table narrowed");
    expect(await tableNames(page)).toEqual(["lr-0", "lr-1", "lr-2", "lr-3", "lr-4"]);
    const moved = await axisLine(page, "config:lr");
    const movedY = (v: number) => moved.bottom - lrUnit(v) * (moved.bottom - moved.top);
    for (const v of [1e-4, 1e-3, 1e-2]) expect(await paintedAt(page, moved.x, movedY(v))).toBe(true);
    expect(await paintedAt(page, moved.x, movedY(1e-1))).toBe(false);

    // Brushed again, narrower: runs leave, so the lines are cleared and those left drawn again.
    const clears = Number(await lines.getAttribute("data-clears"));
    await drag(page, moved.x, moved.bottom + 2, movedY(2e-3));
    await waitUntil(async () => (await tableNames(page)).length === 3, "narrower brush");
    expect(await coords.getAttribute("data-drawn")).toBe("3");
    expect(Number(await lines.getAttribute("data-clears"))).toBeGreaterThan(clears);
    const again = await axisLine(page, "config:lr");
    const againY = (v: number) => again.bottom - lrUnit(v) * (again.bottom - again.top);
    expect(await paintedAt(page, again.x, againY(1e-3))).toBe(true);
    expect(await paintedAt(page, again.x, againY(1e-2))).toBe(false);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows each numeric config key's Spearman rho with the metric and its run count, sortable; text keys left out", async () => {
    const { page, context } = await newPage(browser);
    await openSweep(page);
    const row = (key: string) => page.locator(`[data-testid=corr-row][data-key="${key}"]`);
    expect(await row("lr").getAttribute("data-rho")).toBe("1");
    expect(await row("lr").getAttribute("data-n")).toBe("8");
    // batch against the loss, ranked by hand: batch ranks (ties averaged) against loss ranks 1..8.
    const batchRanks = [5, 2, 7.5, 2, 5, 7.5, 2, 5];
    const mean = 4.5;
    const cov = batchRanks.reduce((s, r, i) => s + (r - mean) * (i + 1 - mean), 0);
    const sx = Math.sqrt(batchRanks.reduce((s, r) => s + (r - mean) ** 2, 0));
    const sy = Math.sqrt([1, 2, 3, 4, 5, 6, 7, 8].reduce((s, r) => s + (r - mean) ** 2, 0));
    expect(Number(await row("batch").getAttribute("data-rho"))).toBeCloseTo(cov / (sx * sy), 12);
    expect(await texts(page, "[data-testid=corr-row] .corr-key")).toEqual(["lr", "batch"]);
    expect(await page.locator("[data-testid=corr-left-out]").textContent()).toBe("Left out, not numeric: note, opt.");
    // Against train/acc (falling with lr): -1.
    await page.locator("[data-testid=corr-metric]").selectOption("metric:train/acc:last");
    await waitUntil(async () => (await row("lr").getAttribute("data-rho")) === "-1", "rho against accuracy");
    expect(JSON.parse(query(page).get("sweep") ?? "{}").metric).toBe("metric:train/acc:last");
    await page.locator("[data-testid=corr-sort-n]").click();
    expect(JSON.parse(query(page).get("sweep") ?? "{}").corrSort).toBe("n");
    await page.locator("[data-testid=correlation]").screenshot({ path: `${SHOTS}/sweep-correlation-light.png` });
    await context.close();
  });

  it("places scatter points at their values; hover names the run, a click opens it", async () => {
    const { page, context } = await newPage(browser);
    await openSweep(
      page,
      `&sweep=${encodeURIComponent(JSON.stringify({ sx: "config:batch", sy: "metric:val/loss:last" }))}`,
    );
    const canvas = page.locator("[data-testid=scatter-canvas]");
    await waitUntil(async () => (await canvas.getAttribute("data-points")) !== null, "points recorded");
    const points = JSON.parse((await canvas.getAttribute("data-points")) ?? "[]") as [string, number, number][];
    expect(points).toHaveLength(8);
    const frame = await page.locator(".scatter-frame").evaluate((el) => ({
      x: Number(el.getAttribute("x")),
      y: Number(el.getAttribute("y")),
      w: Number(el.getAttribute("width")),
      h: Number(el.getAttribute("height")),
    }));
    // Linear axes over batch 32..128 and loss 0.2..0.9, inset 4% at each end.
    for (const [id, px, py] of points) {
      const i = ids.indexOf(id);
      const ux = (BATCHES[i] - 32) / 96;
      const uy = (finalLoss(i) - 0.2) / 0.7;
      expect(px).toBeCloseTo(frame.x + (0.04 + ux * 0.92) * frame.w, 0);
      expect(py).toBeCloseTo(frame.y + (1 - (0.04 + uy * 0.92)) * frame.h, 0);
    }
    await page.locator("[data-testid=scatter]").scrollIntoViewIfNeeded();
    const box = await page.locator("[data-testid=scatter] .scatter-plot").boundingBox();
    if (!box) throw new Error("no scatter");
    const [id5, x5, y5] = points.find(([id]) => id === ids[5]) ?? ["", 0, 0];
    await page.mouse.move(box.x + x5, box.y + y5);
    const tooltip = page.locator("[data-testid=scatter-tooltip]");
    await waitUntil(async () => (await tooltip.count()) === 1, "tooltip");
    expect(await tooltip.textContent()).toContain("lr-5");
    expect(await tooltip.textContent()).toContain("batch: 128");
    await page.locator("[data-testid=scatter]").screenshot({ path: `${SHOTS}/sweep-scatter-light.png` });
    await page.mouse.click(box.x + x5, box.y + y5);
    await waitUntil(() => query(page).get("run") === id5, "run opened");
    await context.close();
  });

  it("draws the tab in the dark theme", async () => {
    const { page, context, errors } = await newPage(browser, { dark: true });
    await openSweep(page, `&brush=${encodeURIComponent(JSON.stringify({ "config:lr": [5e-4, 5e-2] }))}`, 4);
    expect(await tableNames(page)).toEqual(["lr-2", "lr-3", "lr-4", "lr-5"]);
    await page.locator("[data-testid=sweep-view]").screenshot({ path: `${SHOTS}/sweep-dark.png` });
    expect(errors).toEqual([]);
    await context.close();
  });
});
