/**
 * Grouping in a real browser: runs grouped by a config key draw one mean line
 * per group over a band (std, stderr or min–max) at the values of a fixture with
 * known mean and std (3 seeds at v-1, v, v+1: mean v, std 1), read from the
 * canvas pixels and from what the chart records it drew; the run table's group
 * rows with mean ± std; the tooltip; the legend (one entry per group, its values
 * under the pointer); the grouping in the URL; and a group's line growing while a
 * real training process (the Python SDK) logs its runs' points, its aggregates
 * asked for at most once a second per chart, one request at a time.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server/index.js";
import { ROOT } from "./support/helpers.js";
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
  waitUntil,
} from "./support/ui-support.js";

// The page functions below run in Chromium; the tests compile without the DOM library.
declare function requestAnimationFrame(callback: () => void): number;
declare function getComputedStyle(element: unknown): { backgroundColor: string };
declare const document: {
  querySelector(selector: string): {
    querySelector(selector: string): { width: number; height: number } | null;
  } | null;
};

const NOW = Date.now() / 1000;
const tmp = tempDir("stonks-ui-groups-");
const dbPath = `${tmp.dir}/stonks.db`;
/** Screenshots for a person to look at, when STONKS_SHOTS names a folder. */
const SHOTS = process.env.STONKS_SHOTS;
let browser: Browser;
let server: RunningServer;
/** The fixture's centre line of each group: lr 0.1 around 10 + step / 10, lr 0.01 around 20 + step / 10. */
const centre = (lr: number, step: number) => (lr === 0.1 ? 10 : 20) + step / 10;

interface DrawnGroup {
  label: string;
  color: string;
  steps: number[];
  mean: number[];
  low: number[];
  high: number[];
  count: number[];
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

/**
 * In one column of a grouped chart's plot canvas (at 60% of its width), the rows drawn in each colour:
 * the canvas is transparent over the card, so a line is opaque and its band the colour at 20% alpha.
 */
async function columnPixels(page: Page, key: string, lineColors: string[]) {
  return page.evaluate(
    ([metricKey, colours]) => {
      const canvas = document
        .querySelector(`[data-testid=group-chart][data-key="${metricKey}"]`)
        ?.querySelector("canvas.chart-mirror");
      if (!canvas) return null;
      const x = Math.round(canvas.width * 0.6);
      const pixels = shownPixels(canvas, x, 0, 1, canvas.height);
      const rgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
      const sameColour = (y: number, c: number[]) =>
        Math.abs(pixels[y * 4] - c[0]) + Math.abs(pixels[y * 4 + 1] - c[1]) + Math.abs(pixels[y * 4 + 2] - c[2]) <= 40;
      return colours.map((hex) => {
        const colour = rgb(hex);
        const lineRows: number[] = [];
        const bandRows: number[] = [];
        for (let y = 0; y < canvas.height; y++) {
          if (!sameColour(y, colour)) continue;
          const alpha = pixels[y * 4 + 3];
          if (alpha >= 200) lineRows.push(y);
          else if (alpha >= 20) bandRows.push(y);
        }
        return { lineRows, bandRows, height: canvas.height };
      });
    },
    [key, lineColors] as const,
  );
}

const groupChart = (page: Page, key: string) => page.locator(`[data-testid=group-chart][data-key="${key}"]`);

async function drawnGroups(page: Page, key: string, band: string): Promise<DrawnGroup[]> {
  const chart = groupChart(page, key);
  await chart.scrollIntoViewIfNeeded();
  const text = await waitUntil(async () => {
    if ((await chart.getAttribute("data-band")) !== band || !(await chart.getAttribute("data-painted"))) return null;
    return chart.getAttribute("data-drawn");
  }, `${key} drawn with ${band}`);
  return JSON.parse(text ?? "[]") as DrawnGroup[];
}

beforeAll(async () => {
  populate(
    dbPath,
    [0.1, 0.01].flatMap((lr, g) =>
      [0, 1, 2].map((seed) => ({
        experiment: "groups",
        name: `lr${lr}-seed${seed}`,
        createdAt: NOW - 5000 + g * 10 + seed,
        status: "completed" as const,
        config: { lr, seed },
        metrics: {
          loss: { count: 100, value: (step: number) => centre(lr, step) + seed - 1 },
          acc: {
            count: 100,
            value: (step: number) => (lr === 0.1 ? 0.9 : 0.7) - 0.3 * Math.exp(-step / 30) + seed * 0.01,
          },
        },
      })),
    ),
  );
  // Small values: mean 0.5 ± 1 has a lower edge below 0. More steps than a chart has buckets: a
  // bucket spans several steps.
  populate(
    dbPath,
    [0, 1, 2].map((seed) => ({
      experiment: "small",
      name: `small-${seed}`,
      createdAt: NOW - 4000 + seed,
      status: "completed" as const,
      config: { lr: 0.1, seed },
      metrics: { loss: { count: 1000, value: () => 0.5 + seed - 1 } },
    })),
  );
  // Learning rates computed in floating point: 0.1 * 0.2 is 0.020000000000000004, 0.1 + 0.2 is
  // 0.30000000000000004 (and a group of 0.3 beside it).
  populate(
    dbPath,
    [0.1 * 0.2, 0.1 * 0.2, 0.1 + 0.2, 0.3].map((lr, i) => ({
      experiment: "floats",
      name: `floats-${i}`,
      createdAt: NOW - 3000 + i,
      status: "completed" as const,
      config: { lr, seed: i },
      metrics: { loss: { count: 50, value: (step: number) => 1 + i + step / 100 } },
    })),
  );
  [browser, server] = await Promise.all([launchBrowser(), serve(dbPath)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

/** A Python training script run as its own process (real SDK, real file), its output collected. */
function pythonWriter(
  script: string,
  args: string[],
): { writer: ChildProcessWithoutNullStreams; output: () => string; exited: Promise<number | null> } {
  const writer = spawn("python3", ["-c", script, ...args], {
    env: { ...process.env, PYTHONPATH: join(ROOT, "python") },
  });
  let out = "";
  writer.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  writer.stderr.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => writer.on("exit", resolve));
  return { writer, output: () => out, exited };
}
describe("grouping runs", () => {
  it("groups by a config key: table rows with mean ± std, a mean line with a ±1 std band per group, in the URL", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/?exp=groups&cols=metric:loss:last`);
    await waitUntil(async () => (await page.locator("[data-testid=run-row]").count()) === 6, "six runs listed");
    await page.getByTestId("group-by-button").click();
    await page.locator('[data-testid=group-by-option][data-field="config.lr"]').check();
    await page.keyboard.press("Escape");

    // The table: one row per group, with its run count and the mean ± std of the summary column.
    const groupRows = page.getByTestId("group-row");
    await waitUntil(async () => (await groupRows.count()) === 2, "two group rows");
    expect(await page.getByTestId("run-row").count()).toBe(0);
    expect(await groupRows.getByTestId("group-label").allInnerTexts()).toEqual(["lr=0.01", "lr=0.1"]);
    expect(await groupRows.getByTestId("group-count").allInnerTexts()).toEqual(["3 runs", "3 runs"]);
    const stat = page.locator('[data-group="lr=0.1"] [data-testid=group-stat][data-col="metric:loss:last"]');
    expect(Number(await stat.getAttribute("data-mean"))).toBeCloseTo(centre(0.1, 99), 12);
    expect(Number(await stat.getAttribute("data-std"))).toBeCloseTo(1, 12);
    expect(await shown(stat)).toBe("19.9 ± 1");
    // The numbers again on hover, whole where the cell cuts them.
    expect(await stat.getAttribute("title")).toBe("19.9 ± 1: mean ± std over 3 runs");
    expect(JSON.parse(query(page).get("gby") ?? "null")).toEqual(["config.lr"]);

    // Opening a group lists its runs under it.
    await page.locator('[data-group="lr=0.1"] [data-testid=group-toggle]').click();
    await waitUntil(async () => (await page.getByTestId("run-row").count()) === 3, "the group's three runs");
    expect(await page.getByTestId("run-row").getByTestId("run-name").allInnerTexts()).toEqual(
      expect.arrayContaining(["lr0.1-seed0", "lr0.1-seed1", "lr0.1-seed2"]),
    );
    expect(JSON.parse(query(page).get("gopen") ?? "null")).toEqual(["lr=0.1"]);

    // The chart: what it drew, a mean at v and a band from v-1 to v+1 in every bucket.
    const drawn = await drawnGroups(page, "loss", "std");
    expect(drawn.map((g) => g.label)).toEqual(["lr=0.01", "lr=0.1"]);
    for (const g of drawn) {
      const lr = g.label === "lr=0.1" ? 0.1 : 0.01;
      expect(g.steps).toEqual(Array.from({ length: 100 }, (_, i) => i));
      for (const [i, step] of g.steps.entries()) {
        expect(g.mean[i]).toBeCloseTo(centre(lr, step), 9);
        expect(g.low[i]).toBeCloseTo(centre(lr, step) - 1, 9);
        expect(g.high[i]).toBeCloseTo(centre(lr, step) + 1, 9);
        expect(g.count[i]).toBe(3);
      }
    }
    expect(drawn[0].color).not.toBe(drawn[1].color);

    await shot(page, "groups-light");
    // The pixels: in one column of the plot, each group's band spans 2 units around its line,
    // with the scale read off the canvas itself (the two lines are 10 units apart).
    const colors = drawn.map((g) => g.color);
    const column = await columnPixels(page, "loss", colors);
    expect(column).not.toBeNull();
    const measured = (column ?? []).map(({ lineRows, bandRows }) => {
      const all = [...lineRows, ...bandRows];
      return {
        line: (Math.min(...lineRows) + Math.max(...lineRows)) / 2,
        top: Math.min(...all),
        bottom: Math.max(...all),
        bandPixels: bandRows.length,
      };
    });
    const pixelsPerUnit = Math.abs(measured[0].line - measured[1].line) / 10;
    expect(pixelsPerUnit).toBeGreaterThan(3);
    for (const m of measured) {
      expect(m.bandPixels).toBeGreaterThan(4);
      // Band height: 2 units (std 1 each side), within a pixel of antialiasing at each edge.
      expect(Math.abs(m.bottom - m.top + 1 - 2 * pixelsPerUnit)).toBeLessThanOrEqual(2);
      // The line at the middle of its band.
      expect(Math.abs(m.line - (m.top + m.bottom) / 2)).toBeLessThanOrEqual(1.5);
    }
    // The lower loss (lr 0.1, around 10) is drawn below the higher one (around 20).
    expect(measured[1].line).toBeGreaterThan(measured[0].line);

    // The tooltip lists each group with mean ± band and its run count.
    const box = await groupChart(page, "loss").locator("canvas").first().boundingBox();
    if (!box) throw new Error("no plot");
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    const tipRows = page.getByTestId("group-tip-row");
    await waitUntil(async () => (await tipRows.count()) === 2, "two tooltip rows");
    const tipTexts = await tipRows.allInnerTexts();
    expect(tipTexts[0]).toMatch(/lr=0\.01/);
    for (const text of tipTexts) expect(text).toMatch(/± 1\s+n=3$/);
    // The crosshair is shared with the other charts; the tooltip shows on the hovered one only.
    expect(await page.locator("[data-testid=group-tooltip]:visible").count()).toBe(1);
    expect(await groupChart(page, "acc").getByTestId("group-tooltip").isHidden()).toBe(true);
    expect(await groupChart(page, "acc").locator(".u-cursor-x").getAttribute("class")).not.toMatch(/u-off/);
    // Its vertical line only: the hovered chart's level means nothing on another metric's chart, so
    // the other chart's horizontal line stays off and does not follow the pointer's height.
    const level = async (key: string) => {
      const line = groupChart(page, key).locator(".u-cursor-y");
      return `${await line.getAttribute("class")} ${(await line.boundingBox())?.y}`;
    };
    const accLevel = await level("acc");
    expect(accLevel).toMatch(/u-off/);
    const lossLevel = await level("loss");
    expect(lossLevel).not.toMatch(/u-off/);
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.8);
    await waitUntil(async () => (await level("loss")) !== lossLevel, "the hovered chart's line follows the pointer");
    expect(await level("acc")).toBe(accLevel);

    // Renaming a run refreshes the run list but changes no group: the charts do not read the points again.
    let groupReads = 0;
    page.on("request", (r) => {
      if (r.url().endsWith("/api/groups/series")) groupReads++;
    });
    const runs = await apiGet<{ id: string; name: string }[]>(server, "/api/experiments/groups/runs");
    const seed0 = runs.body.find((r) => r.name === "lr0.1-seed0");
    await fetch(`${server.url}/api/runs/${seed0?.id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "lr0.1-renamed" }),
    });
    await waitUntil(
      async () => (await page.getByTestId("run-name").allInnerTexts()).includes("lr0.1-renamed"),
      "the new name in the table",
    );
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))));
    expect(groupReads).toBe(0);

    expect(errors).toEqual([]);
    await context.close();
  });

  it("switches the band to stderr and min–max, draws the runs faintly underneath, and saves it in a workspace", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/?exp=groups&gby=${encodeURIComponent('["config.lr"]')}`);
    await drawnGroups(page, "loss", "std");
    await page.getByTestId("group-by-button").click();
    await page.locator('[data-testid=band-kind][data-band="stderr"]').click();
    const stderr = await drawnGroups(page, "loss", "stderr");
    for (const g of stderr) {
      for (const [i, mean] of g.mean.entries()) {
        expect(g.high[i] - mean).toBeCloseTo(1 / Math.sqrt(3), 9);
        expect(mean - g.low[i]).toBeCloseTo(1 / Math.sqrt(3), 9);
      }
    }
    await page.locator('[data-testid=band-kind][data-band="minmax"]').click();
    const minmax = await drawnGroups(page, "loss", "minmax");
    expect(minmax[1].low[50]).toBeCloseTo(centre(0.1, 50) - 1, 9);
    expect(minmax[1].high[50]).toBeCloseTo(centre(0.1, 50) + 1, 9);
    expect(query(page).get("band")).toBe("minmax");

    await page.getByTestId("group-show-runs").check();
    await waitUntil(async () => (await groupChart(page, "loss").getAttribute("data-faint-runs")) === "6", "runs drawn");
    expect(query(page).get("gruns")).toBe("1");
    await page.keyboard.press("Escape");

    // With a min–max band the values are long ("0.6123 [0.6023, 0.6223]"): the range goes in the
    // row's muted detail, so each group's name still shows whole.
    await groupChart(page, "acc").scrollIntoViewIfNeeded();
    const accPlot = await groupChart(page, "acc").locator(".u-over").boundingBox();
    if (!accPlot) throw new Error("no plot");
    await page.mouse.move(accPlot.x + accPlot.width * 0.5, accPlot.y + accPlot.height * 0.5);
    const accRows = groupChart(page, "acc").getByTestId("group-tip-row");
    await waitUntil(async () => (await accRows.count()) === 2, "two tooltip rows");
    const accTexts = await accRows.allInnerTexts();
    expect(accTexts.map((t) => t.trim().split(/\s+/)[0]).sort()).toEqual(["lr=0.01", "lr=0.1"]);
    for (const text of accTexts) expect(text).toMatch(/^lr=0\.0?1\s+\d\.\d+\s+\[\d\.\d+, \d\.\d+\] n=3$/);
    await page.mouse.move(5, 5);

    // A saved workspace holds the grouping; applying it elsewhere groups the same way.
    page.on("dialog", (dialog) => void dialog.accept(dialog.type() === "prompt" ? "by lr" : undefined));
    await page.getByTestId("workspace-save").click();
    await waitUntil(() => query(page).get("ws") === "by lr", "saved");
    const saved = await apiGet<{ name: string; state: Record<string, unknown> }[]>(
      server,
      "/api/experiments/groups/workspaces",
    );
    expect(saved.body[0].state).toMatchObject({ groupBy: ["config.lr"], band: "minmax", groupRuns: true });
    const other = await newPage(browser);
    await other.page.goto(`${server.url}/?exp=groups`);
    await waitUntil(async () => (await other.page.getByTestId("run-row").count()) === 6, "ungrouped");
    await other.page.getByTestId("workspace-select").selectOption("by lr");
    await waitUntil(async () => (await other.page.getByTestId("group-row").count()) === 2, "grouped by the workspace");
    expect(await drawnGroups(other.page, "loss", "minmax")).toHaveLength(2);
    expect(other.errors).toEqual([]);
    await other.context.close();
    expect(errors).toEqual([]);
    await context.close();
  });

  it("on a log scale, a band whose lower edge is at or below 0 runs to the bottom of the plot, and the axes read as a plain chart's", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/?exp=small&log=1&gby=${encodeURIComponent('["config.lr"]')}`);
    const [g] = await drawnGroups(page, "loss", "std");
    expect(g.low.every((v) => v < 0)).toBe(true);
    const [column] = (await columnPixels(page, "loss", [g.color])) ?? [];
    expect(column.lineRows.length).toBeGreaterThan(0);
    expect(column.bandRows.length).toBeGreaterThan(4);
    // Below the line, the band reaches the plot's bottom edge (the x axis sits under it).
    const lowest = Math.max(...column.bandRows);
    expect(lowest).toBeGreaterThan(Math.max(...column.lineRows));
    expect(column.height - lowest).toBeLessThan(60);
    // Its axes read as a plain chart's: the log axis labelled by decades (never "0"), whole steps on x.
    const card = page.locator('[data-testid=group-chart][data-key="loss"]');
    const y = JSON.parse((await card.getAttribute("data-y-ticks")) ?? "[]") as string[];
    const decades = y.filter((l) => l !== "");
    expect(decades.length).toBeGreaterThanOrEqual(2);
    expect(y.length).toBeGreaterThan(decades.length);
    for (const label of decades) expect(Math.log10(Number(label)) % 1).toBeCloseTo(0, 9);
    const x = (JSON.parse((await card.getAttribute("data-x-ticks")) ?? "[]") as string[]).filter((l) => l !== "");
    expect(x.length).toBeGreaterThanOrEqual(2);
    for (const label of x) expect(label).toMatch(/^\d+$/);
    // The x axis spans the runs' steps from where they begin (0), as a plain chart's does, though
    // the first point is a bucket's mean step after it.
    expect(x[0]).toBe("0");
    expect(g.steps[0]).toBeGreaterThan(0);
    // A point stands for a bucket of steps, at its runs' mean step (not one any run logged): the
    // tooltip and the legend give it rounded, marked "≈".
    const plot = await card.locator(".u-over").boundingBox();
    if (!plot) throw new Error("no plot");
    await page.mouse.move(plot.x + plot.width * 0.5, plot.y + plot.height * 0.5);
    const cursor = page.getByTestId("legend-cursor");
    await waitUntil(async () => (await cursor.getAttribute("data-key")) === "loss", "legend follows the pointer");
    const step = Number(await cursor.getAttribute("data-step"));
    expect(Number.isInteger(step)).toBe(false);
    expect(await shown(cursor)).toBe(`loss · step ≈${Math.round(step)}`);
    const head = card.getByTestId("group-tooltip").locator(".tip-head");
    expect(await shown(head)).toMatch(new RegExp(`^step ≈${Math.round(step)} · `));
    expect(errors).toEqual([]);
    await context.close();
  });

  it("names groups of computed values at a readable precision, never two under one name", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/?exp=floats&gby=${encodeURIComponent('["config.lr"]')}`);
    const exact = ["lr=0.020000000000000004", "lr=0.30000000000000004", "lr=0.3"];
    const names = ["lr=0.02", "lr=0.30000000000000004", "lr=0.3"];
    // The table's group rows: the readable name, the exact value on hover; the group is still the exact one.
    const rows = page.getByTestId("group-row");
    await waitUntil(async () => (await rows.count()) === 3, "three groups");
    // Newest group first; the title only where the name rounds the value.
    const byNewest = [2, 1, 0];
    expect(await rows.evaluateAll((els) => els.map((el) => el.getAttribute("data-group")))).toEqual(
      byNewest.map((i) => exact[i]),
    );
    const labels = rows.getByTestId("group-label");
    expect(await labels.allInnerTexts()).toEqual(byNewest.map((i) => names[i]));
    expect(await labels.evaluateAll((els) => els.map((el) => el.getAttribute("title")))).toEqual([
      null,
      null,
      exact[0],
    ]);
    // The lr column reads each value as the names do, the exact value on hover where it is rounded.
    const lrCells = rows.locator('.cell[data-col="config:lr"]').getByTestId("config-value");
    const values = byNewest.map((i) => names[i].slice("lr=".length));
    expect(await lrCells.allInnerTexts()).toEqual(values);
    expect(await lrCells.evaluateAll((els) => els.map((el) => el.getAttribute("title")))).toEqual([
      null,
      exact[1].slice("lr=".length),
      exact[0].slice("lr=".length),
    ]);
    // So do the runs' rows (the group of 0.02 opened): the same text in every row of the column.
    await rows.nth(2).getByTestId("group-toggle").click();
    const runCells = page.getByTestId("run-row").locator('.cell[data-col="config:lr"]');
    await waitUntil(async () => (await runCells.count()) === 2, "the group's two runs");
    expect(await runCells.allInnerTexts()).toEqual(["0.02", "0.02"]);
    expect(await runCells.getByTestId("config-value").first().getAttribute("title")).toBe("0.020000000000000004");
    // The legend and the grouped chart's tooltip read the same.
    const legend = page.getByTestId("legend-group-label");
    await waitUntil(async () => (await legend.count()) === 3, "three legend entries");
    expect((await legend.allInnerTexts()).sort()).toEqual([...names].sort());
    const card = groupChart(page, "loss");
    await card.scrollIntoViewIfNeeded();
    await waitUntil(async () => (await drawnGroups(page, "loss", "std")).length === 3, "three groups drawn");
    const plot = await card.locator(".u-over").boundingBox();
    if (!plot) throw new Error("no plot");
    await page.mouse.move(plot.x + plot.width * 0.5, plot.y + plot.height * 0.5);
    const tipNames = card.getByTestId("group-tip-row").locator(".tip-name");
    await waitUntil(async () => (await tipNames.count()) === 3, "three tooltip rows");
    // Each row's name, cut with "…" where the row's figures leave it too little room.
    const tipTexts = await tipNames.allInnerTexts();
    expect(tipTexts).toContain("lr=0.02");
    expect(tipTexts).toContain("lr=0.3");
    for (const text of tipTexts)
      expect(names.some((n) => n === text || (text.endsWith("…") && n.startsWith(text.slice(0, -1))))).toBe(true);
    await shot(page, "group-names");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("restores the grouping from a link (keys, band, runs shown, open groups), in the dark theme too", async () => {
    const { page, context, errors } = await newPage(browser, { dark: true });
    const link = new URLSearchParams({
      exp: "groups",
      cols: "config:seed,metric:loss:last",
      gby: JSON.stringify(["config.lr"]),
      band: "stderr",
      gruns: "1",
      gopen: JSON.stringify(["lr=0.01"]),
    });
    await page.goto(`${server.url}/?${link}`);
    await waitUntil(async () => (await page.getByTestId("group-row").count()) === 2, "group rows");
    await waitUntil(async () => (await page.getByTestId("run-row").count()) === 3, "the open group's runs");
    const names = await page.getByTestId("run-row").getByTestId("run-name").allInnerTexts();
    expect(names.every((n) => n.startsWith("lr0.01-"))).toBe(true);
    // Seeds differ inside a group: the config column says how many values there are.
    expect(await shown(page.locator('[data-group="lr=0.01"] .cell[data-col="config:seed"]'))).toBe("3 values");
    const drawn = await drawnGroups(page, "loss", "stderr");
    expect(drawn).toHaveLength(2);
    expect(await groupChart(page, "loss").getAttribute("data-faint-runs")).toBe("6");
    await shot(page, "groups-dark");
    // A zoomed window: the aggregates are computed over it (steps 20 to 40: one bucket per step).
    await page.goto(`${server.url}/?${link}&zoom=20,40`);
    const zoomed = await drawnGroups(page, "loss", "stderr");
    expect(zoomed[0].steps).toEqual(Array.from({ length: 21 }, (_, i) => 20 + i));
    expect(zoomed[0].mean[0]).toBeCloseTo(centre(0.01, 20), 9);
    // Turning grouping off brings back one line per run.
    await page.getByTestId("group-by-button").click();
    await page.getByTestId("group-by-clear").click();
    await waitUntil(async () => (await page.getByTestId("group-row").count()) === 0, "no group rows");
    expect(query(page).get("gby")).toBeNull();
    await waitUntil(
      async () => (await page.locator('[data-testid=chart][data-key="loss"]').count()) === 1,
      "run chart",
    );
    expect(errors).toEqual([]);
    await context.close();
  });

  it("starts the first reads before the bundle runs and asks for each grouped chart's aggregate before the table renders, once", async () => {
    const { page, context, errors } = await newPage(browser);
    // Every fetch of the page, as it is called: its path, its body, how far the document had got, what was drawn.
    await context.addInitScript({
      content: `window.__fetches = [];
        const original = window.fetch.bind(window);
        window.fetch = (input, init) => {
          window.__fetches.push({
            path: String(input),
            body: typeof init?.body === "string" ? init.body : null,
            readyState: document.readyState,
            groupRows: document.querySelectorAll("[data-testid=group-row]").length,
          });
          return original(input, init);
        };
        // Where the live stream said it was ready, among the fetches.
        const Source = window.EventSource;
        window.EventSource = class extends Source {
          constructor(...args) {
            super(...args);
            this.addEventListener("ready", () => window.__fetches.push({ path: "(stream ready)" }));
          }
        };`,
    });
    const link = new URLSearchParams({ exp: "groups", gby: JSON.stringify(["config.lr"]) });
    await page.goto(`${server.url}/?${link}`);
    expect((await drawnGroups(page, "loss", "std")).map((g) => g.label)).toEqual(["lr=0.01", "lr=0.1"]);
    expect((await drawnGroups(page, "acc", "std")).map((g) => g.label)).toEqual(["lr=0.01", "lr=0.1"]);
    const calls = (await page.evaluate("window.__fetches")) as {
      path: string;
      body: string | null;
      readyState: string;
      groupRows: number;
    }[];
    const of = (path: string) => calls.filter((c) => c.path === path);
    // The run list and the experiment list leave while the document is still being read (before the bundle runs),
    // and the page takes those answers: no second request for the run list. The experiment list is read once
    // more when the live stream opens (an experiment made between the two would be missed), and only then.
    expect(of("/api/experiments/groups/runs?limit=5000&offset=0").map((c) => c.readyState)).toEqual(["loading"]);
    const ready = calls.findIndex((c) => c.path === "(stream ready)");
    expect(ready).toBeGreaterThan(0);
    // (A loaded machine may see the stream open twice, the browser reconnecting: a read per opening.)
    const openings = calls.filter((c) => c.path === "(stream ready)").length;
    for (const path of ["/api/experiments", "/api/projects"]) {
      expect(of(path)[0].readyState).toBe("loading");
      const later = calls.flatMap((c, i) => (c.path === path && c !== of(path)[0] ? [i] : []));
      expect(later.length, `${path} read again: ${JSON.stringify(calls.map((c) => c.path))}`).toBeLessThanOrEqual(
        openings,
      );
      for (const i of later) expect(i).toBeGreaterThan(ready);
    }
    // One aggregate request per chart, sent before the table showed its group rows; the charts drew those answers.
    const aggregates = of("/api/groups/series");
    expect(aggregates.map((c) => (JSON.parse(c.body ?? "{}") as { keys: string[] }).keys).sort()).toEqual([
      ["acc"],
      ["loss"],
    ]);
    expect(aggregates.map((c) => c.groupRows)).toEqual([0, 0]);
    expect(await page.getByTestId("group-row").count()).toBe(2);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("keeps each legend entry's width while the pointer crosses a chart and its values change", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=groups&gby=${encodeURIComponent('["config.lr"]')}`);
    await drawnGroups(page, "acc", "std");
    await groupChart(page, "acc").scrollIntoViewIfNeeded();
    const plot = await groupChart(page, "acc").locator(".u-over").boundingBox();
    if (!plot) throw new Error("no plot");
    const entries = page.getByTestId("chart-legend").getByTestId("legend-group");
    const cursor = page.getByTestId("legend-cursor");
    const widths: number[][] = [];
    const texts = new Set<string>();
    for (let i = 0; i <= 14; i++) {
      await page.mouse.move(plot.x + plot.width * (0.05 + i * 0.065), plot.y + plot.height * 0.5);
      await waitUntil(async () => (await cursor.getAttribute("data-key")) === "acc", "legend follows the pointer");
      const values = await entries.getByTestId("legend-group-value").allInnerTexts();
      for (const v of values) texts.add(v);
      widths.push(
        await entries.evaluateAll((els) => els.map((el) => (el as unknown as { offsetWidth: number }).offsetWidth)),
      );
    }
    // The values did change (in length too: "0.6 ± 0.01", "0.6123 ± 0.01")…
    expect(new Set([...texts].map((t) => t.length)).size).toBeGreaterThan(1);
    // …and no entry changed its width (a changing width laid the page out and relayered it per move).
    for (let e = 0; e < widths[0].length; e++) expect(new Set(widths.map((w) => w[e])).size).toBe(1);
    await context.close();
  });

  it("lists one legend entry per group (colour, run count, mean and band under the pointer), runs only when shown", async () => {
    for (const dark of [false, true]) {
      const theme = dark ? "dark" : "light";
      const { page, context, errors } = await newPage(browser, { dark });
      await page.goto(`${server.url}/?exp=groups&gby=${encodeURIComponent('["config.lr"]')}`);
      const drawn = await drawnGroups(page, "loss", "std");
      const legend = page.getByTestId("chart-legend");
      const entries = legend.getByTestId("legend-group");
      await waitUntil(async () => (await entries.count()) === 2, "two legend entries");
      expect(await attrs(entries, "data-group")).toEqual(["lr=0.01", "lr=0.1"]);
      expect(await entries.getByTestId("legend-group-label").allInnerTexts()).toEqual(["lr=0.01", "lr=0.1"]);
      expect(await attrs(entries, "data-color")).toEqual(drawn.map((g) => g.color));
      expect(await entries.getByTestId("legend-group-count").allInnerTexts()).toEqual(["3 runs", "3 runs"]);
      // The swatch's line is in the group's colour, as on the chart.
      const swatches = await entries
        .locator(".legend-swatch .legend-line")
        .evaluateAll((els) => els.map((el) => getComputedStyle(el).backgroundColor));
      const rgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join(", ")})`;
      expect(swatches).toEqual(drawn.map((g) => rgb(g.color)));
      // No run is listed while the runs are not drawn.
      expect(await legend.getByTestId("legend-run").count()).toBe(0);
      expect(await shown(legend)).not.toMatch(/seed|renamed/);
      expect(await entries.getByTestId("legend-group-value").allInnerTexts()).toEqual(["", ""]);

      // Over the loss chart: each group's mean and ±1 std band at the step under the pointer.
      const plot = await groupChart(page, "loss").locator("canvas").first().boundingBox();
      if (!plot) throw new Error("no plot");
      await page.mouse.move(plot.x + plot.width * 0.5, plot.y + plot.height * 0.5);
      const cursor = page.getByTestId("legend-cursor");
      await waitUntil(async () => (await cursor.getAttribute("data-key")) === "loss", "legend follows the pointer");
      const step = Number(await cursor.getAttribute("data-step"));
      expect(step).toBeGreaterThan(20);
      expect(step).toBeLessThan(80);
      expect(await shown(cursor)).toBe(`loss · step ${step}`);
      const values = entries.getByTestId("legend-group-value");
      for (const [i, lr] of [0.01, 0.1].entries()) {
        const value = values.nth(i);
        expect(Number(await value.getAttribute("data-mean"))).toBeCloseTo(centre(lr, step), 9);
        expect(Number(await value.getAttribute("data-low"))).toBeCloseTo(centre(lr, step) - 1, 9);
        expect(Number(await value.getAttribute("data-high"))).toBeCloseTo(centre(lr, step) + 1, 9);
        expect(await value.getAttribute("data-count")).toBe("3");
        expect(await shown(value)).toMatch(/^\d+(\.\d+)? ± 1$/);
      }
      await shot(page, `groups-legend-${theme}`);
      // The pointer leaves the charts: the values go.
      await page.mouse.move(5, 5);
      await waitUntil(async () => (await cursor.getAttribute("data-key")) === null, "legend values cleared");
      expect(await values.allInnerTexts()).toEqual(["", ""]);

      // Runs shown under the lines: each group lists its own runs after it.
      await page.getByTestId("group-by-button").click();
      await page.getByTestId("group-show-runs").check();
      await page.keyboard.press("Escape");
      await waitUntil(async () => (await legend.getByTestId("legend-run").count()) === 6, "runs in the legend");
      for (const [i, prefix] of ["lr0.01-", "lr0.1-"].entries()) {
        const names = await entries.nth(i).getByTestId("legend-run").allInnerTexts();
        expect(names).toHaveLength(3);
        for (const name of names) expect(name.startsWith(prefix)).toBe(true);
      }
      await shot(page, `groups-legend-runs-${theme}`);
      expect(errors).toEqual([]);
      await context.close();
    }
  });

  it("grows a group's mean line and band as a training process logs its runs' points, in the same plot", async () => {
    // Three seeds of one lr, logged by the Python SDK in a child process, a batch of steps per line it reads.
    const script = `
import sys
import stonks
runs = [stonks.start_run("live-groups", config={"lr": 0.1, "seed": s}, db=sys.argv[1], run_name=f"live-{s}").start() for s in range(3)]
step = 0
for line in sys.stdin:
    for _ in range(int(line)):
        for s, run in enumerate(runs):
            run.log({"loss": 10 + step / 10 + s - 1}, step=step)
        step += 1
    for run in runs:
        run.flush()
    print("logged", step, flush=True)
for run in runs:
    run.finish()
`;
    const { writer, output, exited } = pythonWriter(script, [dbPath]);
    const logged = (step: number) =>
      waitUntil(() => output().includes(`logged ${step}\n`), `the writer at step ${step}`);
    try {
      writer.stdin.write("10\n");
      await logged(10);
      const { page, context, errors } = await newPage(browser);
      await page.goto(`${server.url}/?exp=live-groups&gby=${encodeURIComponent('["config.lr"]')}`);
      const chart = groupChart(page, "loss");
      const lastStep = async () => {
        const drawn = JSON.parse((await chart.getAttribute("data-drawn")) ?? "[]") as DrawnGroup[];
        return drawn[0]?.steps.at(-1);
      };
      await waitUntil(async () => (await lastStep()) === 9, "the first ten steps drawn");
      await waitUntil(
        async () => (await page.getByTestId("live-status").getAttribute("data-status")) === "live",
        "live stream",
      );
      // The plot's canvas is marked: new points must go into it, not into a plot built anew (a blank frame).
      await chart
        .locator("canvas")
        .first()
        .evaluate((canvas) => canvas.setAttribute("data-first-plot", ""));

      writer.stdin.write("15\n");
      await logged(25);
      await waitUntil(async () => (await lastStep()) === 24, "the line grew to step 24");
      writer.stdin.write("5\n");
      await logged(30);
      await waitUntil(async () => (await lastStep()) === 29, "and again to step 29");
      const [g] = await drawnGroups(page, "loss", "std");
      expect(g.steps).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(g.mean[29]).toBeCloseTo(10 + 29 / 10, 9);
      expect(g.high[29]).toBeCloseTo(10 + 29 / 10 + 1, 9);
      expect(g.count[29]).toBe(3);
      expect(await chart.locator("canvas[data-first-plot]").count()).toBe(1);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      writer.stdin.end();
      expect(await exited).toBe(0);
    }
  });

  it("asks for a live chart's aggregates at most once a second, one request at a time, while its runs log every 50 ms", async () => {
    // Two groups of two seeds, logged by the Python SDK in a child process: ten steps, then on "go" a step of
    // both keys in every run every 50 ms, flushed each time, for LIVE_STEPS steps.
    const LIVE_STEPS = 60;
    const script = `
import sys
import time
import stonks
runs = [
    stonks.start_run("live-throttle", config={"lr": lr, "seed": s}, db=sys.argv[1], run_name=f"t-{lr}-{s}").start()
    for lr in (0.1, 0.01)
    for s in range(2)
]
def log(step):
    for i, run in enumerate(runs):
        run.log({"loss": 10 + step / 10 + i, "acc": step / 1000 + i}, step=step)
    for run in runs:
        run.flush()
for step in range(10):
    log(step)
print("ready", flush=True)
sys.stdin.readline()
for step in range(10, 10 + int(sys.argv[2])):
    log(step)
    time.sleep(0.05)
print("done", flush=True)
sys.stdin.readline()
for run in runs:
    run.finish()
`;
    const lastLogged = 10 + LIVE_STEPS - 1;
    const { writer, output, exited } = pythonWriter(script, [dbPath, String(LIVE_STEPS)]);
    try {
      await waitUntil(() => output().includes("ready\n"), "the writer's first ten steps", 30_000);
      const { page, context, errors } = await newPage(browser);
      // Per chart (the key it asks for): aggregate requests while counting, and the most in flight at once.
      const keys = ["acc", "loss"];
      const sent = new Map(keys.map((k) => [k, 0]));
      const inFlight = new Map(keys.map((k) => [k, 0]));
      const mostOpen = new Map(keys.map((k) => [k, 0]));
      const chartOf = new Map<Request, string>();
      let counting = false;
      page.on("request", (r) => {
        if (!r.url().endsWith("/api/groups/series")) return;
        const [key] = (r.postDataJSON() as { keys: string[] }).keys;
        chartOf.set(r, key);
        inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
        mostOpen.set(key, Math.max(mostOpen.get(key) ?? 0, inFlight.get(key) ?? 0));
        if (counting) sent.set(key, (sent.get(key) ?? 0) + 1);
      });
      const settled = (r: Request) => {
        const key = chartOf.get(r);
        if (key !== undefined) inFlight.set(key, (inFlight.get(key) ?? 0) - 1);
      };
      page.on("requestfinished", settled);
      page.on("requestfailed", settled);

      await page.goto(`${server.url}/?exp=live-throttle&gby=${encodeURIComponent('["config.lr"]')}`);
      const lastSteps = async () =>
        Promise.all(
          keys.map(async (key) => {
            const drawn = JSON.parse((await groupChart(page, key).getAttribute("data-drawn")) ?? "[]") as DrawnGroup[];
            return drawn.length === 2 ? Math.min(...drawn.map((g) => g.steps.at(-1) ?? -1)) : -1;
          }),
        );
      await waitUntil(async () => (await lastSteps()).every((s) => s === 9), "both charts drew the first ten steps");
      await waitUntil(
        async () => (await page.getByTestId("live-status").getAttribute("data-status")) === "live",
        "live stream",
      );

      counting = true;
      const started = Date.now();
      writer.stdin.write("go\n");
      await waitUntil(() => output().includes("done\n"), "the writer's live steps", 60_000);
      await waitUntil(
        async () => (await lastSteps()).every((s) => s === lastLogged),
        `both charts drew step ${lastLogged}`,
      );
      const elapsed = Date.now() - started;
      counting = false;

      for (const key of keys) {
        const requests = sent.get(key) ?? 0;
        expect(requests, `${key}: requests in ${elapsed} ms`).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
        expect(requests, `${key}: requests in ${elapsed} ms`).toBeGreaterThanOrEqual(2);
        expect(mostOpen.get(key), `${key}: requests in flight at once`).toBe(1);
      }
      const g = (await drawnGroups(page, "loss", "std")).find((d) => d.label === "lr=0.1");
      expect(g?.steps).toEqual(Array.from({ length: lastLogged + 1 }, (_, i) => i));
      expect(g?.mean[lastLogged]).toBeCloseTo(10 + lastLogged / 10 + 0.5, 9);
      expect(g?.count[lastLogged]).toBe(2);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      writer.stdin.write("finish\n");
      writer.stdin.end();
      expect(await exited, output()).toBe(0);
    }
  });
});
