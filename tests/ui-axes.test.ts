/**
 * What the charts draw and say, read from what is drawn: the tick labels uPlot
 * paints on its canvas (recorded by the chart as it draws them), the chart
 * canvas' pixels, and the tooltip. Log axes, tick precision when zoomed in,
 * tooltips that list only runs with a point near the pointer, one tooltip on
 * the hovered chart, the nearest line highlighted with its table row, lines
 * reaching the edges of a zoomed window, and single points drawn as dots.
 * Screenshots of each view go to $STONKS_SHOTS (default: a temp folder).
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server/index.js";
import {
  launchBrowser,
  newPage,
  populate,
  query,
  serve,
  shown,
  tempDir,
  Writer,
  waitUntil,
} from "./support/ui-support.js";

const NOW = Date.now() / 1000;
const tmp = tempDir("stonks-ui-axes-");
const dbPath = `${tmp.dir}/stonks.db`;
const SHOTS = process.env.STONKS_SHOTS ?? `${tmp.dir}/shots`;
let browser: Browser;
let server: RunningServer;
const ids: Record<string, string> = {};

/** The few DOM types the in-page callbacks use (the tests compile without the DOM library). */
interface PageCanvas {
  width: number;
  getBoundingClientRect(): { width: number };
}
interface PageBox {
  offsetLeft: number;
  offsetTop: number;
  clientWidth: number;
  clientHeight: number;
}
type ComputedStyle = (el: unknown) => { backgroundColor: string; display: string };
const computedStyle = "getComputedStyle";

function chart(page: Page, key: string) {
  return page.locator(`[data-testid=chart][data-key="${key}"]`);
}

async function drawn(page: Page, key: string, runs: number): Promise<void> {
  await chart(page, key).scrollIntoViewIfNeeded();
  await waitUntil(
    async () =>
      (await chart(page, key).getAttribute("data-runs")) === String(runs) &&
      (await chart(page, key).getAttribute("data-loading")) === null,
    `${key} drawn`,
  );
}

async function ticks(page: Page, key: string, axis: "x" | "y"): Promise<string[]> {
  return JSON.parse((await chart(page, key).getAttribute(`data-${axis}-ticks`)) ?? "[]") as string[];
}

async function shot(page: Page, key: string, name: string): Promise<void> {
  await chart(page, key).screenshot({ path: `${SHOTS}/${name}.png` });
}

async function hoverAt(page: Page, key: string, fx: number, fy = 0.5): Promise<void> {
  const box = await chart(page, key).locator(".u-over").boundingBox();
  if (!box) throw new Error(`no plot for ${key}`);
  await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
}

/** A run's color as the legend shows it, as [r, g, b]. */
async function legendColor(page: Page, name: string): Promise<number[]> {
  const css = await page
    .locator(".legend-item", { hasText: name })
    .locator(".legend-line")
    .evaluate(
      (el, fn) => (globalThis as unknown as Record<string, ComputedStyle>)[fn](el).backgroundColor,
      computedStyle,
    );
  return (css.match(/\d+/g) ?? []).slice(0, 3).map(Number);
}

/**
 * How many pixels of the chart's canvas, in plot columns [fromX, toX) (fractions
 * of the plot's width), are within a small distance of a color.
 */
async function pixelsOf(
  page: Page,
  key: string,
  rgb: number[],
  fromX: number,
  toX: number,
  layer: "plot" | "highlight" = "plot",
): Promise<number> {
  return chart(page, key).evaluate(
    (card, { rgb, fromX, toX, layer }) => {
      const highlight = layer === "highlight";
      const canvas = card.querySelector(
        highlight ? "canvas.chart-highlight" : "canvas.chart-mirror",
      ) as unknown as PageCanvas;
      const over = card.querySelector(".u-over") as unknown as PageBox;
      const scale = canvas.width / canvas.getBoundingClientRect().width;
      const left = ((highlight ? 0 : over.offsetLeft) + over.clientWidth * fromX) * scale;
      const right = ((highlight ? 0 : over.offsetLeft) + over.clientWidth * toX) * scale;
      const top = (highlight ? 0 : over.offsetTop) * scale;
      const height = over.clientHeight * scale;
      const w = Math.max(1, Math.round(right - left));
      const data = shownPixels(canvas, Math.round(left), Math.round(top), w, Math.round(height));
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        const d = Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]);
        if (data[i + 3] > 200 && d < 60) n++;
      }
      return n;
    },
    { rgb, fromX, toX, layer },
  );
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const populated = populate(dbPath, [
    {
      experiment: "logs",
      name: "lr-decay",
      createdAt: NOW - 5000,
      status: "completed",
      metrics: { "train/lr": { count: 400, value: (s) => 0.1 * 10 ** (-s / 100) } },
    },
    {
      experiment: "logs",
      name: "lr-narrow",
      createdAt: NOW - 4990,
      status: "completed",
      metrics: { "train/lr": { count: 400, value: (s) => 0.02 + s * 1e-5 } },
    },
    { experiment: "fine", name: "fine", createdAt: NOW - 4000, status: "completed" },
    { experiment: "ragged", name: "short", createdAt: NOW - 3000, status: "completed" },
    { experiment: "ragged", name: "long", createdAt: NOW - 2990, status: "completed" },
    {
      experiment: "late",
      name: "early-starter",
      createdAt: NOW - 2000,
      status: "completed",
      metrics: { "train/loss": { count: 300, value: (s) => 3 - s / 100 } },
    },
    {
      experiment: "late",
      name: "late-starter",
      createdAt: NOW - 1800,
      status: "completed",
      metrics: { "train/loss": { count: 100, value: (s) => 0.1 + s / 1000 } },
    },
    { experiment: "sparse", name: "sparse", createdAt: NOW - 1000, status: "completed" },
  ]);
  for (const [i, name] of ["lr-decay", "lr-narrow", "fine", "short", "long", "early", "late", "sparse"].entries()) {
    ids[name] = populated[i].id;
  }
  const writer = new Writer(dbPath);
  // Steps in the hundreds of thousands, values that differ only in the fourth digit.
  const fineSteps = Array.from({ length: 10_001 }, (_, i) => i * 100);
  writer.append(
    ids.fine,
    "train/loss",
    fineSteps,
    fineSteps.map((s) => 4.1e-4 + 1e-7 * ((s / 100) % 13)),
  );
  writer.append(
    ids.fine,
    "train/acc",
    fineSteps,
    fineSteps.map((s) => 0.5 + s / 2e6),
  );
  // One run ends at step 5,840, the other goes on to 10,000.
  const shortSteps = Array.from({ length: 585 }, (_, i) => i * 10);
  const longSteps = Array.from({ length: 1001 }, (_, i) => i * 10);
  writer.append(
    ids.short,
    "train/loss",
    shortSteps,
    shortSteps.map((s) => 2 - s / 10_000),
  );
  writer.append(
    ids.long,
    "train/loss",
    longSteps,
    longSteps.map((s) => 3 - s / 10_000),
  );
  writer.append(
    ids.long,
    "train/acc",
    longSteps,
    longSteps.map((s) => s / 10_000),
  );
  // A point every 100 steps, and a test metric logged once.
  const sparseSteps = Array.from({ length: 11 }, (_, i) => i * 100);
  writer.append(
    ids.sparse,
    "train/loss",
    sparseSteps,
    sparseSteps.map((s) => 10 - s / 200),
  );
  writer.append(ids.sparse, "test/acc", [1000], [0.87]);
  writer.close();
  [browser, server] = await Promise.all([launchBrowser(), serve(dbPath)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

describe("chart axes", () => {
  it("labels a log axis by decades, minor ticks blank, never 0 or a cut label", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=logs&log=1`);
    await drawn(page, "train/lr", 2);
    await waitUntil(async () => (await chart(page, "train/lr").getAttribute("data-y-distr")) === "3", "log scale");
    await shot(page, "train/lr", "log-axis");
    const labels = await ticks(page, "train/lr", "y");
    const shownLabels = labels.filter((l) => l !== "");
    // 0.1 down to 1e-5: five decades, each labelled once; the 2..9 ticks between are blank.
    expect(shownLabels).toEqual(["1e-5", "1e-4", "0.001", "0.01", "0.1"]);
    expect(labels.length).toBeGreaterThan(shownLabels.length * 3);
    for (const label of shownLabels) {
      expect(Number(label)).toBeGreaterThan(0);
      expect(Math.log10(Number(label)) % 1).toBeCloseTo(0, 9);
    }
    // Only the narrow run: less than a decade, so 1, 2 and 5 (or every tick) are labelled, all distinct and positive.
    await page.goto(`${server.url}/?exp=logs&log=1&runs=${ids["lr-narrow"]}`);
    await drawn(page, "train/lr", 1);
    await waitUntil(async () => (await ticks(page, "train/lr", "y")).some((l) => l !== ""), "narrow log labels");
    await shot(page, "train/lr", "log-axis-narrow");
    const narrow = (await ticks(page, "train/lr", "y")).filter((l) => l !== "");
    expect(narrow.length).toBeGreaterThanOrEqual(2);
    expect(new Set(narrow).size).toBe(narrow.length);
    for (const label of narrow) {
      expect(label).toMatch(/^\d+(\.\d+)?(e-?\d+)?$/);
      expect(Number(label)).toBeGreaterThan(0);
    }
    await context.close();
  });

  it("keeps zoomed-in ticks distinct and as precise as the range needs, with whole steps in the link", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=fine&zoom=404000,405000`);
    await drawn(page, "train/loss", 1);
    await waitUntil(async () => (await chart(page, "train/loss").getAttribute("data-x-min")) === "404000", "zoomed");
    await waitUntil(async () => (await ticks(page, "train/loss", "y")).length > 2, "y ticks");
    await shot(page, "train/loss", "zoomed-precision");
    const x = (await ticks(page, "train/loss", "x")).filter((l) => l !== "");
    const y = (await ticks(page, "train/loss", "y")).filter((l) => l !== "");
    expect(x.length).toBeGreaterThanOrEqual(3);
    expect(new Set(x).size).toBe(x.length);
    expect(new Set(y).size).toBe(y.length);
    // Each label reads its own value: 404.2k is 404,200, and "4.105e-4" is within the range shown.
    for (const label of x) {
      const value = Number(label.replace(/k$/, "")) * (label.endsWith("k") ? 1000 : 1);
      expect(value).toBeGreaterThanOrEqual(404_000);
      expect(value).toBeLessThanOrEqual(405_000);
    }
    const yMin = Number(await chart(page, "train/loss").getAttribute("data-y-min"));
    const yMax = Number(await chart(page, "train/loss").getAttribute("data-y-max"));
    for (const label of y) {
      expect(Number(label)).toBeGreaterThanOrEqual(yMin - 1e-12);
      expect(Number(label)).toBeLessThanOrEqual(yMax + 1e-12);
    }
    // Dragging a zoom on the step axis puts whole steps in the link.
    const box = await chart(page, "train/acc").locator(".u-over").boundingBox();
    if (!box) throw new Error("no plot");
    await page.mouse.move(box.x + box.width * 0.33, box.y + 30);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.61, box.y + 40, { steps: 5 });
    await page.mouse.up();
    await waitUntil(() => query(page).get("zoom") !== "404000,405000", "new zoom");
    const [lo, hi] = (query(page).get("zoom") ?? "").split(",");
    expect(lo).toMatch(/^\d+$/);
    expect(hi).toMatch(/^\d+$/);
    await context.close();
  });

  it("draws the last x label whole when its tick sits on the plot's right edge", async () => {
    const { page, context } = await newPage(browser);
    // The run ends at step 1,000, and so does the x axis: its last tick is on the plot's right edge.
    for (const link of [`/?exp=sparse`, `/?exp=sparse&zoom=600,1000`]) {
      await page.goto(`${server.url}${link}`);
      await drawn(page, "train/loss", 1);
      await waitUntil(async () => (await ticks(page, "train/loss", "x")).at(-1) === "1000", `"1000" last (${link})`);
      expect(await chart(page, "train/loss").getAttribute("data-x-max")).toBe("1000");
      await shot(page, "train/loss", link.includes("zoom") ? "edge-label-zoomed" : "edge-label");
      // The label's ink, in the rows under the plot: it runs past the plot's right edge (centred on
      // the tick there) and stops short of the canvas' own edge, which would cut it ("1000" read "100").
      const ink = await chart(page, "train/loss").evaluate((card) => {
        const canvas = card.querySelector("canvas.chart-mirror") as unknown as PageCanvas & { height: number };
        const over = card.querySelector(".u-over") as unknown as PageBox;
        const scale = canvas.width / canvas.getBoundingClientRect().width;
        const top = Math.round((over.offsetTop + over.clientHeight + 2) * scale);
        const data = shownPixels(canvas, 0, top, canvas.width, canvas.height - top);
        let right = -1;
        for (let i = 3; i < data.length; i += 4) {
          if (data[i] > 100) right = Math.max(right, ((i - 3) / 4) % canvas.width);
        }
        return { right, width: canvas.width, plotRight: Math.round((over.offsetLeft + over.clientWidth) * scale) };
      });
      expect(ink.right).toBeGreaterThan(ink.plotRight + 3);
      expect(ink.right).toBeLessThan(ink.width - 1);
    }
    await context.close();
  });
});

describe("chart tooltips", () => {
  it("lists only runs with a point near the pointer, each with its own step", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=ragged`);
    await drawn(page, "train/loss", 2);
    const tip = chart(page, "train/loss").locator("[data-testid=chart-tooltip]");
    // Step 7,000 of 10,000: "short" ended at 5,840.
    await hoverAt(page, "train/loss", 0.7);
    await tip.waitFor();
    await shot(page, "train/loss", "tooltip-ended-run");
    let rows = (await tip.locator("[data-testid=tooltip-row]").allInnerTexts()).map((r) => r.replace(/\s+/g, " "));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/^long \S+ @(\d+)$/);
    const step = Number(/@(\d+)/.exec(rows[0])?.[1]);
    expect(Math.abs(step - 7000)).toBeLessThan(100);
    // Step 3,000: both ran there.
    await hoverAt(page, "train/loss", 0.3);
    await waitUntil(async () => (await tip.locator("[data-testid=tooltip-row]").count()) === 2, "both runs");
    rows = (await tip.locator("[data-testid=tooltip-row]").allInnerTexts()).map((r) => r.replace(/\s+/g, " "));
    expect(rows.map((r) => r.split(" ")[0]).sort()).toEqual(["long", "short"]);
    for (const row of rows) expect(row).toMatch(/@\d+$/);
    await context.close();
  });

  it("in wall time, leaves out runs that had not started, and shows each run's own step", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=late&x=wall`);
    await drawn(page, "train/loss", 2);
    await waitUntil(async () => Number(await chart(page, "train/loss").getAttribute("data-x-min")) > 1e9, "wall axis");
    const tip = chart(page, "train/loss").locator("[data-testid=chart-tooltip]");
    // The first third of the axis: only the early run had started (the late one starts 200 s in, of 300).
    await hoverAt(page, "train/loss", 0.2);
    await tip.waitFor();
    await shot(page, "train/loss", "tooltip-wall-time");
    const early = (await tip.locator("[data-testid=tooltip-row]").allInnerTexts()).map((r) => r.replace(/\s+/g, " "));
    expect(early).toHaveLength(1);
    expect(early[0]).toMatch(/^early-starter \S+ @\d+$/);
    // Near the end both ran, each at its own step (the late one is about 200 steps behind).
    await hoverAt(page, "train/loss", 0.9);
    await waitUntil(async () => (await tip.locator("[data-testid=tooltip-row]").count()) === 2, "both runs");
    const both = (await tip.locator("[data-testid=tooltip-row]").allInnerTexts()).map((r) => r.replace(/\s+/g, " "));
    const stepOf = (name: string) => Number(/@(\d+)/.exec(both.find((r) => r.startsWith(name)) ?? "")?.[1]);
    expect(stepOf("early-starter") - stepOf("late-starter")).toBeGreaterThan(150);
    await context.close();
  });

  it("shows one tooltip, on the hovered chart, and highlights the nearest line and its table row", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=ragged`);
    await drawn(page, "train/loss", 2);
    // "short" never logged train/acc: its line is empty there.
    await drawn(page, "train/acc", 2);
    const loss = chart(page, "train/loss");
    const acc = chart(page, "train/acc");
    const longColor = await legendColor(page, "long");
    // The pointer near the "long" line (loss 3 → 2): at 30% of the way, value 2.7, near the plot's top.
    const plotted = await pixelsOf(page, "train/loss", longColor, 0, 1);
    await hoverAt(page, "train/loss", 0.3, 0.1);
    await loss.locator("[data-testid=chart-tooltip]").waitFor();
    await waitUntil(async () => (await loss.getAttribute("data-highlight")) === ids.long, "long highlighted");
    await shot(page, "train/loss", "hover-highlight");
    // Drawn again, wider, over the plot: more pixels in its color than its plain line has.
    expect(await pixelsOf(page, "train/loss", longColor, 0, 1, "highlight")).toBeGreaterThan(plotted * 1.5);
    await expect.poll(() => acc.locator("[data-testid=chart-tooltip]").isVisible()).toBe(false);
    // The other chart shows the crosshair at the same place.
    const cursor = acc.locator(".u-cursor-x");
    expect(
      await cursor.evaluate(
        (el, fn) =>
          (globalThis as unknown as Record<string, ComputedStyle>)[fn](el).display !== "none" &&
          !el.classList.contains("u-off"),
        computedStyle,
      ),
    ).toBe(true);
    // The table marks the row in a frame after the chart's highlight (ui/src/lib/frame.ts onFrameAfterThis).
    const rowHovered = (id: string) =>
      waitUntil(
        async () =>
          (await page.locator(`[data-testid=run-row][data-run-id="${id}"]`).getAttribute("data-hovered")) !== null,
        `${id}'s table row marked`,
      );
    await rowHovered(ids.long);
    expect(await page.locator("[data-testid=run-row][data-hovered]").count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/hover-table-row.png` });
    // Nearer the "short" line (loss 2 → 1.4), lower down: the highlight moves.
    await hoverAt(page, "train/loss", 0.3, 0.75);
    await waitUntil(async () => (await loss.getAttribute("data-highlight")) === ids.short, "short highlighted");
    expect(await shown(loss.locator(".tip-row.active .tip-name"))).toBe("short");
    await rowHovered(ids.short);
    expect(await page.locator("[data-testid=run-row][data-hovered]").count()).toBe(1);
    await page.mouse.move(2, 2);
    await waitUntil(async () => (await page.locator("[data-testid=run-row][data-hovered]").count()) === 0, "unmarked");
    expect(await loss.getAttribute("data-highlight")).toBeNull();
    expect(await pixelsOf(page, "train/loss", longColor, 0, 1, "highlight")).toBe(0);
    await context.close();
  });
});

describe("zoomed lines", () => {
  it("run on to the edges of a zoomed window, even one holding a single point", async () => {
    const { page, context } = await newPage(browser);
    // Points every 100 steps; the window 250–349 holds only step 300.
    await page.goto(`${server.url}/?exp=sparse&zoom=250,349`);
    await drawn(page, "train/loss", 1);
    const c = chart(page, "train/loss");
    await waitUntil(async () => (await c.getAttribute("data-points")) === "3", "the point and one beyond each edge");
    await shot(page, "train/loss", "zoom-edges");
    const color = await legendColor(page, "sparse");
    expect(await pixelsOf(page, "train/loss", color, 0, 0.04)).toBeGreaterThan(0);
    expect(await pixelsOf(page, "train/loss", color, 0.96, 1)).toBeGreaterThan(0);
    // A window between two points (none inside) still has the line crossing it.
    await page.goto(`${server.url}/?exp=sparse&zoom=410,480`);
    await drawn(page, "train/loss", 1);
    await waitUntil(async () => (await c.getAttribute("data-points")) === "2", "the two points around the window");
    expect(await pixelsOf(page, "train/loss", color, 0, 0.04)).toBeGreaterThan(0);
    expect(await pixelsOf(page, "train/loss", color, 0.96, 1)).toBeGreaterThan(0);
    await context.close();
  });

  it("draws a series of one point as a dot", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=sparse`);
    await drawn(page, "test/acc", 1);
    const c = chart(page, "test/acc");
    await waitUntil(async () => (await c.getAttribute("data-dots")) === "1", "one dot");
    await shot(page, "test/acc", "single-point");
    expect(await pixelsOf(page, "test/acc", await legendColor(page, "sparse"), 0, 1)).toBeGreaterThan(12);
    await context.close();
  });
});
