/**
 * The x axis by another metric, in a real browser: the toolbar's "Metric…" choice and a chart's
 * own, `x=metric:KEY` in the link (restored on reload), ticks reading the x metric's values,
 * points placed at the x metric's value of their step, steps without an x value left out, an x
 * that is not monotonic sorted (and said so), and a zoom in x units fetching the steps it covers.
 * Screenshots go to $STONKS_SHOTS (default: a temp folder).
 */
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

const tmp = tempDir("stonks-ui-xmetric-");
const dbPath = `${tmp.dir}/stonks.db`;
const SHOTS = process.env.STONKS_SHOTS ?? `${tmp.dir}/shots`;
const POINTS = 100;
const TOKENS_PER_STEP = 512;
const WAVE = 25;
/** More points than any chart's downsampling target (at most 2000): its own chart gets epoch downsampled. */
const LONG_POINTS = 5000;
let browser: Browser;
let server: RunningServer;

const lossAt = (s: number) => POINTS - s;

function chart(page: Page, key: string) {
  return page.locator(`[data-testid=chart][data-key="${key}"]`);
}

function cell(page: Page, key: string) {
  return page.locator(`[data-testid=chart-cell][data-key="${key}"]`);
}

async function attr(page: Page, key: string, name: string): Promise<string | null> {
  return chart(page, key).getAttribute(name);
}

/** Waits for the chart to draw its one run with its x scale ending at xMax. */
async function drawnTo(page: Page, key: string, xMax: number): Promise<void> {
  await chart(page, key).scrollIntoViewIfNeeded();
  await waitUntil(
    async () => (await attr(page, key, "data-runs")) === "1" && Number(await attr(page, key, "data-x-max")) === xMax,
    `${key} drawn up to x = ${xMax}`,
  );
}

/** Moves the pointer over the plot to where x has this value (the scale's bounds as the chart records them). */
async function hoverAtX(page: Page, key: string, x: number): Promise<void> {
  const box = await chart(page, key).locator(".u-over").boundingBox();
  if (!box) throw new Error(`no plot for ${key}`);
  const lo = Number(await attr(page, key, "data-x-min"));
  const hi = Number(await attr(page, key, "data-x-max"));
  await page.mouse.move(box.x + (box.width * (x - lo)) / (hi - lo), box.y + box.height / 2);
}

async function tipHead(page: Page, key: string): Promise<string> {
  // Shown a frame after the pointer enters; hidden, it still holds the last hover's text.
  await chart(page, key).locator("[data-testid=chart-tooltip]").waitFor();
  const head = chart(page, key).locator("[data-testid=chart-tooltip] .tip-head");
  await waitUntil(async () => (await head.count()) > 0 && (await shown(head)).length > 0, `${key} tooltip`);
  return shown(head);
}

async function tipRow(page: Page, key: string): Promise<string> {
  const row = chart(page, key).locator("[data-testid=tooltip-row]").first();
  return (await shown(row)).replace(/\s+/g, " ").trim();
}

function xTicks(text: string | null): number[] {
  return (JSON.parse(text ?? "[]") as string[]).filter((t) => t !== "").map(Number);
}

beforeAll(async () => {
  const [{ id }] = populate(dbPath, [
    {
      experiment: "xm",
      name: "epochs-run",
      status: "completed",
      metrics: {
        loss: { count: POINTS, value: lossAt },
        epoch: { count: POINTS, value: (s) => Math.floor(s / 10) },
        tokens: { count: POINTS, value: (s) => s * TOKENS_PER_STEP },
        wave: { count: POINTS, value: (s) => s % WAVE },
      },
    },
  ]);
  populate(dbPath, [
    {
      experiment: "xm-long",
      name: "long-run",
      status: "completed",
      metrics: {
        epoch: { count: LONG_POINTS, value: (s) => Math.floor(s / 10) },
        loss: { count: LONG_POINTS, value: lossAt },
      },
    },
  ]);
  // Logged at every second step only: the loss at the odd steps has no x value there.
  const writer = new Writer(dbPath);
  const evenSteps = Array.from({ length: POINTS / 2 }, (_, i) => 2 * i);
  writer.append(id, "evens", evenSteps, evenSteps);
  writer.close();
  [browser, server] = await Promise.all([launchBrowser(), serve(dbPath)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

describe("x axis by a metric", () => {
  it("puts epoch on every chart's x axis from the toolbar, in the link, and back on reload", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/?exp=xm`);
    await drawnTo(page, "loss", POINTS - 1);
    await page.locator("[data-testid=x-metric]").click();
    // epoch is a progress counter: it is the one offered first.
    await waitUntil(() => query(page).get("x") === "metric:epoch", "x=metric:epoch in the link");
    await drawnTo(page, "loss", 9);
    expect(Number(await attr(page, "loss", "data-x-min"))).toBe(0);
    expect(await attr(page, "loss", "data-points")).toBe(String(POINTS));
    expect(await attr(page, "loss", "data-x-sorted")).toBe("false");
    // The ticks read epochs (0 to 9), not steps (0 to 99).
    const ticks = xTicks(await attr(page, "loss", "data-x-ticks"));
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    for (const t of ticks) {
      expect(Number.isInteger(t)).toBe(true);
      expect(t).toBeGreaterThanOrEqual(0);
      expect(t).toBeLessThanOrEqual(9);
    }
    expect(await cell(page, "loss").getAttribute("data-x-axis")).toBe("metric:epoch");
    expect(await page.locator("[data-testid=x-metric]").getAttribute("aria-pressed")).toBe("true");
    expect(await page.locator("[data-testid=x-metric-key]").inputValue()).toBe("metric:epoch");
    // Epoch 5 holds steps 50 to 59: the point under the pointer is one of them, with its own loss.
    await hoverAtX(page, "loss", 5);
    expect(await tipHead(page, "loss")).toBe("loss · epoch 5");
    const [, value, step] = /^epochs-run (\d+) @(\d+)$/.exec(await tipRow(page, "loss")) ?? [];
    expect(Number(step)).toBeGreaterThanOrEqual(50);
    expect(Number(step)).toBeLessThanOrEqual(59);
    expect(Number(value)).toBe(lossAt(Number(step)));

    await page.reload();
    await drawnTo(page, "loss", 9);
    expect(query(page).get("x")).toBe("metric:epoch");
    expect(await page.locator("[data-testid=x-metric-key]").inputValue()).toBe("metric:epoch");

    // Another metric from the toolbar's list.
    await page.locator("[data-testid=x-metric-key]").selectOption("metric:tokens");
    await drawnTo(page, "loss", (POINTS - 1) * TOKENS_PER_STEP);
    expect(query(page).get("x")).toBe("metric:tokens");
    // And back to steps: an old kind of link again.
    await page.locator("[data-testid=x-step]").click();
    await drawnTo(page, "loss", POINTS - 1);
    expect(query(page).has("x")).toBe(false);
    expect(await page.locator("[data-testid=x-metric-key]").count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("gives one chart its own x metric, beside the toolbar's, and places each point at its x", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/?exp=xm&x=metric:epoch`);
    await drawnTo(page, "loss", 9);
    await chart(page, "loss").hover();
    await cell(page, "loss").locator("[data-testid=chart-settings-button]").click();
    await page.locator("[data-testid=chart-x]").selectOption("metric:tokens");
    await drawnTo(page, "loss", (POINTS - 1) * TOKENS_PER_STEP);
    expect(JSON.parse(query(page).get("charts") ?? "{}")).toEqual({ loss: { x: "metric:tokens" } });
    expect(query(page).get("x")).toBe("metric:epoch");
    expect(await cell(page, "loss").getAttribute("data-x-axis")).toBe("metric:tokens");
    expect(await cell(page, "wave").getAttribute("data-x-axis")).toBe("metric:epoch");
    await drawnTo(page, "wave", 9);
    await page.keyboard.press("Escape");
    // Tokens are distinct per step: the point at 40 × 512 tokens is step 40's loss.
    await hoverAtX(page, "loss", 40 * TOKENS_PER_STEP);
    expect(await tipHead(page, "loss")).toBe(`loss · tokens ${40 * TOKENS_PER_STEP}`);
    expect(await tipRow(page, "loss")).toBe(`epochs-run ${lossAt(40)} @40`);
    // Ticks of a value axis: "10k", "20k"... read as thousands of tokens.
    const labels = JSON.parse((await attr(page, "loss", "data-x-ticks")) ?? "[]") as string[];
    expect(labels.filter((l) => l !== "").every((l) => /^\d+(\.\d+)?k$/.test(l) || l === "0")).toBe(true);

    await page.reload();
    await drawnTo(page, "loss", (POINTS - 1) * TOKENS_PER_STEP);
    expect(await cell(page, "loss").getAttribute("data-x-axis")).toBe("metric:tokens");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("leaves out steps without an x value, and sorts an x that is not monotonic", async () => {
    const { page, context, errors } = await newPage(browser);
    const charts = encodeURIComponent(JSON.stringify({ loss: { x: "metric:evens" }, tokens: { x: "metric:wave" } }));
    await page.goto(`${server.url}/?exp=xm&charts=${charts}`);
    await drawnTo(page, "loss", POINTS - 2);
    expect(await attr(page, "loss", "data-points")).toBe(String(POINTS / 2));
    await hoverAtX(page, "loss", 30);
    expect(await tipRow(page, "loss")).toBe(`epochs-run ${lossAt(30)} @30`);

    await drawnTo(page, "tokens", WAVE - 1);
    expect(await attr(page, "tokens", "data-points")).toBe(String(POINTS));
    expect(await attr(page, "tokens", "data-x-sorted")).toBe("true");
    await hoverAtX(page, "tokens", 10);
    expect(await tipHead(page, "tokens")).toBe("tokens · wave 10 · x not monotonic");
    // wave = 10 at steps 10, 35, 60 and 85: whichever is listed has its own tokens.
    const [, value, step] = /^epochs-run (\d+) @(\d+)$/.exec(await tipRow(page, "tokens")) ?? [];
    expect(Number(step) % WAVE).toBe(10);
    expect(Number(value)).toBe(Number(step) * TOKENS_PER_STEP);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("zooms in x units and fetches the steps the window covers", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/?exp=xm&x=metric:tokens`);
    await drawnTo(page, "loss", (POINTS - 1) * TOKENS_PER_STEP);
    const zoomed = page.waitForRequest((r) => {
      if (!r.url().endsWith("/api/series")) return false;
      const body = JSON.parse(r.postData() ?? "{}") as { min_step?: number; series: { key: string }[] };
      return body.min_step !== undefined && body.series.some((s) => s.key === "tokens");
    });
    const box = await chart(page, "loss").locator(".u-over").boundingBox();
    if (!box) throw new Error("no plot");
    await page.mouse.move(box.x + box.width * 0.25, box.y + 30);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + 50, { steps: 5 });
    await page.mouse.up();
    const request = await zoomed;
    const zoom = (query(page).get("zoom") ?? "").split(",").map(Number);
    expect(zoom.length).toBe(2);
    expect(zoom[0]).toBeGreaterThan(20 * TOKENS_PER_STEP);
    expect(zoom[1]).toBeLessThan(55 * TOKENS_PER_STEP);
    // The window in tokens is a step range: the steps whose tokens fall inside, and one on each side.
    const body = JSON.parse(request.postData() ?? "{}") as { min_step: number; max_step: number };
    expect(body.min_step).toBe(Math.ceil(zoom[0] / TOKENS_PER_STEP) - 1);
    expect(body.max_step).toBe(Math.floor(zoom[1] / TOKENS_PER_STEP) + 1);
    await waitUntil(
      async () => Math.abs(Number(await attr(page, "loss", "data-x-min")) - zoom[0]) < 1e-6,
      "the chart shows the window",
    );
    await waitUntil(
      // The steps of the range, and the nearest point beyond each end that /api/series adds.
      async () => Number(await attr(page, "loss", "data-points")) === body.max_step - body.min_step + 3,
      "the window's points",
    );
    expect(errors).toEqual([]);
    await context.close();
  });

  it("reads the x metric at every point although its own chart on a time axis holds it downsampled", async () => {
    const { page, context, errors } = await newPage(browser);
    const asked: { key: string; downsample: number; times: boolean }[] = [];
    page.on("request", (r) => {
      if (!r.url().endsWith("/api/series")) return;
      const body = JSON.parse(r.postData() ?? "{}") as {
        downsample: number;
        fields?: string[];
        series: { key: string }[];
      };
      for (const s of body.series) asked.push({ key: s.key, downsample: body.downsample, times: !body.fields });
    });
    const charts = encodeURIComponent(JSON.stringify({ epoch: { x: "wall" } }));
    await page.goto(`${server.url}/?exp=xm-long&x=metric:epoch&charts=${charts}`);
    await drawnTo(page, "loss", Math.floor((LONG_POINTS - 1) / 10));
    await chart(page, "epoch").scrollIntoViewIfNeeded();
    // The epoch chart on wall time draws (its copy has times), and the loss chart's x is every epoch point.
    await waitUntil(
      async () =>
        (await attr(page, "epoch", "data-runs")) === "1" && Number(await attr(page, "epoch", "data-x-min")) > 1e9,
      "epoch drawn on wall time",
    );
    await waitUntil(
      () => asked.some((a) => a.key === "epoch" && a.downsample === 100_000),
      "epoch fetched with every point",
    );
    const last = asked.filter((a) => a.key === "epoch").at(-1);
    expect(last).toEqual({ key: "epoch", downsample: 100_000, times: true });
    // Every epoch point held: hovered anywhere, the x read is a whole epoch, never one interpolated between buckets.
    await chart(page, "loss").scrollIntoViewIfNeeded();
    for (const epoch of [37, 123, 250, 411]) {
      await hoverAtX(page, "loss", epoch + 0.3);
      const head = await tipHead(page, "loss");
      expect(head).toMatch(/^loss · epoch \d+$/);
      const [, value, step] = /^long-run (-?\d+) @(\d+)$/.exec(await tipRow(page, "loss")) ?? [];
      expect(Math.floor(Number(step) / 10)).toBe(Number(/epoch (\d+)/.exec(head)?.[1]));
      expect(Number(value)).toBe(lossAt(Number(step)));
    }
    expect(errors).toEqual([]);
    await context.close();
  });

  it("looks right in light and dark", async () => {
    for (const dark of [false, true]) {
      const { page, context, errors } = await newPage(browser, { dark, width: 1200, height: 800 });
      await page.goto(
        `${server.url}/?exp=xm&x=metric:epoch&charts=${encodeURIComponent('{"tokens":{"x":"metric:wave"},"wave":{"hide":true}}')}`,
      );
      await drawnTo(page, "loss", 9);
      await drawnTo(page, "tokens", WAVE - 1);
      await page.locator("[data-testid=charts-view]").scrollIntoViewIfNeeded();
      await hoverAtX(page, "tokens", 12);
      await tipHead(page, "tokens");
      const name = `xmetric-${dark ? "dark" : "light"}`;
      await page.locator("[data-testid=charts-view]").screenshot({ path: `${SHOTS}/${name}.png` });
      expect(errors).toEqual([]);
      await context.close();
    }
  });
});
