/**
 * Dashboard charts and live updates in a real browser: charts per metric key
 * grouped by prefix, any number of runs, synced crosshair and tooltip, drag to
 * zoom with a full-detail refetch, double-click reset, x axis modes, log
 * scale, smoothing, min/max envelopes, and live points/runs/statuses.
 */
import type { Browser, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server/index.js";
import {
  attrs,
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
const tmp = tempDir("stonks-ui-charts-");
const dbPath = `${tmp.dir}/stonks.db`;
let browser: Browser;
let server: RunningServer;
let curveIds: string[] = [];
let longId = "";
const RUNS = 12;
const POINTS = 200;
const LONG_POINTS = 5000;
const SPIKE_STEP = 3137;
const LONG_NAME = "WWW-adamw-lr0.0003-bs512-weight-decay0.1-cosine-warmup2000-seed7";
const LONG_KEY = "train/a-metric-key-far-too-long-for-any-tooltip-head/per-token";

/** Distinct, exact values: run k at step s. */
const loss = (k: number, s: number) => 1000 - s + k;
const acc = (k: number, s: number) => k * 100 + s;
/** A rising series whose min/max buckets span 6: its envelope is a band, at any zoom. */
const bandValue = (s: number) => (s % 7) + s / 500;

function chart(page: Page, key: string) {
  return page.locator(`[data-testid=chart][data-key="${key}"]`);
}

/** What these checks use of the page's elements (the tests are typed without the DOM library). */
interface Animated {
  getAnimations(): {
    playState: string;
    effect: { composite: string } | null;
  }[];
}

/**
 * In the page: whether the element is held (HeldTransform): paused animations place it, seeked to
 * its place, and nothing composites onto its inline transform.
 */
const held = (el: unknown): boolean => {
  const list = (el as Animated).getAnimations();
  return list.length > 0 && list.every((a) => a.playState === "paused" && a.effect?.composite === "replace");
};

/** In the page: how many animations the element has. */
const animations = (el: unknown): number => (el as Animated).getAnimations().length;
const opacityOf = (el: unknown): string =>
  (globalThis as unknown as { getComputedStyle(e: unknown): { opacity: string } }).getComputedStyle(el).opacity;

async function drawn(page: Page, key: string, runs: number): Promise<void> {
  await chart(page, key).scrollIntoViewIfNeeded();
  await waitUntil(async () => (await chart(page, key).getAttribute("data-runs")) === String(runs), `${key} drawn`);
}

async function hover(page: Page, key: string, fraction: number): Promise<void> {
  const box = await chart(page, key).locator(".u-over").boundingBox();
  if (!box) throw new Error(`no plot for ${key}`);
  await page.mouse.move(box.x + box.width * fraction, box.y + box.height / 2);
}

/**
 * Records in the page what `key`'s chart shows at the end of each pointer move's dispatch (this
 * listener runs after the chart's): its highlighted run and whether its tooltip is up; when each
 * move happened, when the tooltip's display first became `display`, and when each frame began.
 */
async function watchTooltip(page: Page, key: string, display: "block" | "none"): Promise<void> {
  await page.evaluate(
    ([key, display]) => {
      interface El {
        dataset: Record<string, string>;
        style: { display: string };
      }
      const w = globalThis as unknown as {
        __watch: { atMove: string[]; moves: number[]; changed: number[]; frames: number[] };
        addEventListener(type: string, listener: () => void): void;
        requestAnimationFrame(callback: (t: number) => void): void;
        performance: { now(): number };
        MutationObserver: new (callback: () => void) => { observe(el: El, options: object): void };
        document: { querySelector(s: string): El | null };
      };
      const seen: { atMove: string[]; moves: number[]; changed: number[]; frames: number[] } = {
        atMove: [],
        moves: [],
        changed: [],
        frames: [],
      };
      w.__watch = seen;
      const card = w.document.querySelector(`[data-testid=chart][data-key="${key}"]`);
      const tip = w.document.querySelector(`[data-testid=chart][data-key="${key}"] [data-testid=chart-tooltip]`);
      if (!tip) throw new Error("no tooltip");
      const frame = (t: number) => {
        seen.frames.push(t);
        w.requestAnimationFrame(frame);
      };
      w.requestAnimationFrame(frame);
      new w.MutationObserver(() => {
        if (tip.style.display === display && seen.changed.length === 0) seen.changed.push(w.performance.now());
      }).observe(tip, { attributes: true });
      w.addEventListener("mousemove", () => {
        seen.moves.push(w.performance.now());
        seen.atMove.push(`${card?.dataset.highlight ?? "-"} ${tip.style.display === "block" ? "tooltip" : "-"}`);
      });
    },
    [key, display],
  );
}

function watched(page: Page): Promise<{ atMove: string[]; moves: number[]; changed: number[]; frames: number[] }> {
  return page.evaluate(
    () =>
      (
        globalThis as unknown as {
          __watch: { atMove: string[]; moves: number[]; changed: number[]; frames: number[] };
        }
      ).__watch,
  );
}

/**
 * The names of the trace events (blink, devtools.timeline) while the pointer makes 21 moves across
 * `over` at height `y`, from `from` of its width in steps of 0.02, each given two frames.
 */
async function traceMoves(page: Page, over: { x: number; width: number }, y: number, from: number): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  const names: string[] = [];
  cdp.on("Tracing.dataCollected", (e) => {
    for (const event of e.value) names.push(event.name);
  });
  await cdp.send("Tracing.start", { categories: "blink,devtools.timeline", transferMode: "ReportEvents" });
  for (let i = 0; i <= 20; i++) {
    await page.mouse.move(over.x + over.width * (from + i * 0.02), y);
    await page.evaluate(
      () =>
        new Promise((r) => {
          const raf = (globalThis as unknown as { requestAnimationFrame(f: () => void): void }).requestAnimationFrame;
          raf(() => raf(() => r(null)));
        }),
    );
  }
  const complete = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
  await cdp.send("Tracing.end");
  await complete;
  await cdp.detach();
  return names;
}

/**
 * Two synced charts of three runs (train/loss and train/lr) drawn, the pointer over train/loss's
 * plot at 0.2 of its width and half its height; gives that plot and the height.
 */
async function pointerOnSyncedCharts(page: Page): Promise<{ over: { x: number; width: number }; y: number }> {
  await page.goto(`${server.url}/?exp=curves&runs=${curveIds.slice(0, 3).join(",")}`);
  await drawn(page, "train/loss", 3);
  await drawn(page, "train/lr", 3);
  const over = await chart(page, "train/loss").locator(".u-over").boundingBox();
  if (!over) throw new Error("no plot");
  const y = over.y + over.height * 0.5;
  await page.mouse.move(over.x + over.width * 0.2, y);
  return { over, y };
}

/**
 * Frames were made while traceMoves ran (a layerization step each), but the page was layerized
 * again in few of them, not on every move (21). A pause of over 400 ms on a loaded machine lets
 * held elements rest, and holding them again costs one or two.
 */
function expectFewRelayerings(names: string[]): void {
  expect(names.filter((n) => n === "Layerize").length).toBeGreaterThanOrEqual(20);
  expect(names.filter((n) => n === "PaintArtifactCompositor::Update").length).toBeLessThanOrEqual(8);
}

async function drag(page: Page, key: string, from: number, to: number): Promise<void> {
  const box = await chart(page, key).locator(".u-over").boundingBox();
  if (!box) throw new Error(`no plot for ${key}`);
  await page.mouse.move(box.x + box.width * from, box.y + 30);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * to, box.y + 50, { steps: 5 });
  await page.mouse.up();
}

function seriesRequests(page: Page): Request[] {
  const seen: Request[] = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/api/series")) seen.push(r);
  });
  return seen;
}

beforeAll(async () => {
  const curves = populate(
    dbPath,
    Array.from({ length: RUNS }, (_, k) => ({
      experiment: "curves",
      name: `run-${String(k).padStart(2, "0")}`,
      createdAt: NOW - 10_000 + k * 10,
      status: "completed" as const,
      config: { k },
      metrics: {
        "train/loss": { count: POINTS, value: (s: number) => loss(k, s) },
        "train/lr": { count: POINTS, value: () => 0.1 },
        "val/acc": { count: POINTS, value: (s: number) => acc(k, s) },
        // Below train/loss, on ranges that overlap (a synced crosshair's level would land on both).
        "val/loss": { count: POINTS, value: (s: number) => loss(k, s) - 100 },
      },
    })),
  );
  curveIds = curves.map((r) => r.id);
  [{ id: longId }] = populate(dbPath, [
    {
      experiment: "long",
      name: "long-run",
      createdAt: NOW - 20_000,
      status: "completed",
      metrics: {
        "train/noisy": { count: LONG_POINTS, value: (s: number) => (s === SPIKE_STEP ? 5000 : 1 + (s % 7) / 10) },
      },
    },
  ]);
  populate(dbPath, [
    {
      experiment: "names",
      name: LONG_NAME,
      createdAt: NOW - 20_000,
      status: "completed",
      metrics: { [LONG_KEY]: { count: POINTS, value: (s: number) => -12345.678 - s } },
    },
  ]);
  populate(dbPath, [
    {
      experiment: "bands",
      name: "band-run",
      createdAt: NOW - 20_000,
      status: "completed",
      metrics: { "train/band": { count: LONG_POINTS, value: bandValue } },
    },
  ]);
  [browser, server] = await Promise.all([launchBrowser(), serve(dbPath)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

describe("dashboard charts", () => {
  it("draws a chart per metric key, grouped by prefix, in collapsible groups", async () => {
    const { page, context, errors } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves`);
    await page.locator("[data-testid=chart-group]").first().waitFor();
    expect(await attrs(page.locator("[data-testid=chart-group]"), "data-group")).toEqual(["train", "val"]);
    expect(await attrs(page.locator('[data-group="train"] [data-testid=chart]'), "data-key")).toEqual([
      "train/loss",
      "train/lr",
    ]);
    expect(await attrs(page.locator('[data-group="val"] [data-testid=chart]'), "data-key")).toEqual([
      "val/acc",
      "val/loss",
    ]);
    // Nothing chosen yet: the newest runs are charted.
    await drawn(page, "train/loss", 10);
    await page.locator('[data-testid=group-toggle][data-group="train"]').click();
    await waitUntil(
      async () => (await page.locator('[data-group="train"] [data-testid=chart]').count()) === 0,
      "collapsed",
    );
    expect(await page.locator('[data-group="val"] [data-testid=chart]').count()).toBe(2);
    await page.locator('[data-testid=group-toggle][data-group="train"]').click();
    await drawn(page, "train/loss", 10);
    await page.locator("[data-testid=metric-filter]").fill("acc");
    await waitUntil(async () => (await page.locator("[data-testid=chart]").count()) === 1, "metric filter");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("draws one line per selected run, any number of them, in the run's color", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves`);
    await page.locator("[data-testid=run-row]").first().waitFor();
    await page.locator("[data-testid=clear-selection]").click();
    await page.locator("[data-testid=select-all]").check();
    for (const key of ["train/loss", "train/lr", "val/acc", "val/loss"]) {
      await chart(page, key).scrollIntoViewIfNeeded();
      await drawn(page, key, RUNS);
      expect(await chart(page, key).getAttribute("data-points")).toBe(String(RUNS * POINTS));
    }
    expect(await page.locator("[data-testid=chart-legend] .legend-item").count()).toBe(RUNS);
    const legendColors = await page
      .locator("[data-testid=chart-legend] .legend-line")
      .evaluateAll((els) => els.map((e) => (e as unknown as { style: { background: string } }).style.background));
    const swatchColors = await attrs(page.locator("[data-testid=run-row] [data-testid=color-swatch]"), "data-color");
    expect(new Set(swatchColors).size).toBe(RUNS);
    expect(legendColors.length).toBe(RUNS);
    expect(new Set(legendColors).size).toBe(RUNS);
    await context.close();
  });

  it("lists only the runs still charted once runs are unticked (the tooltip drops every extra row)", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds.slice(0, 12).join(",")}`);
    await drawn(page, "train/loss", 12);
    const own = chart(page, "train/loss").locator("[data-testid=chart-tooltip]");
    const rows = own.locator("[data-testid=tooltip-row]");
    await hover(page, "train/loss", 0.5);
    await waitUntil(async () => (await rows.count()) === 12, "twelve tooltip rows");
    await page.mouse.move(2, 2);
    // Nine of the twelve runs unticked: the same tooltip now has three rows to show.
    for (const id of curveIds.slice(3, 12))
      await page.locator(`[data-testid=run-row][data-run-id="${id}"] [data-testid=run-select]`).click();
    await drawn(page, "train/loss", 3);
    await hover(page, "train/loss", 0.45);
    await waitUntil(async () => (await own.isVisible()) && (await rows.count()) === 3, "three tooltip rows");
    const names = (await rows.allInnerTexts()).map((r) => r.trim().split(/\s+/)[0]).sort();
    expect(names).toEqual(["run-00", "run-01", "run-02"]);
    // Its height follows its lines: the head and three rows, not the twelve it had.
    const height = await own.evaluate((el) => (el as unknown as { offsetHeight: number }).offsetHeight);
    expect(height).toBe(38 + 3 * 18);
    await context.close();
  });

  it("syncs the crosshair across charts, with a tooltip of each run's value on the hovered one", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds.slice(0, 3).join(",")}`);
    await drawn(page, "train/loss", 3);
    await drawn(page, "train/lr", 3);
    await hover(page, "train/loss", 0.5);
    const other = chart(page, "train/lr").locator("[data-testid=chart-tooltip]");
    const own = chart(page, "train/loss").locator("[data-testid=chart-tooltip]");
    await own.waitFor();
    // The other chart shows the crosshair's vertical line only (a line off is transparent,
    // styles.css): a level of the hovered metric means nothing on another metric's chart.
    expect(await other.isVisible()).toBe(false);
    const lineOn = (key: string, line: string) =>
      chart(page, key)
        .locator(line)
        .evaluate((el) => !el.classList.contains("u-off"));
    expect(await lineOn("train/lr", ".u-cursor-x")).toBe(true);
    expect(await lineOn("train/loss", ".u-cursor-y")).toBe(true);
    // A level low on train/loss is inside val/loss's range too, and val/loss still shows no line there.
    await drawn(page, "val/loss", 3);
    const plot = await chart(page, "train/loss").locator(".u-over").boundingBox();
    if (!plot) throw new Error("no plot");
    await page.mouse.move(plot.x + plot.width * 0.55, plot.y + plot.height * 0.8);
    await waitUntil(async () => lineOn("val/loss", ".u-cursor-x"), "val/loss's vertical line");
    expect(await lineOn("val/loss", ".u-cursor-y")).toBe(false);
    await hover(page, "train/loss", 0.5);
    const head = await shown(own.locator(".tip-head"));
    const step = Number(/step (\d+)/.exec(head)?.[1]);
    expect(step).toBeGreaterThan(80);
    expect(step).toBeLessThan(120);
    const rows = await own.locator("[data-testid=tooltip-row]").allInnerTexts();
    expect(rows.length).toBe(3);
    // Sorted by value: run-02 has the highest loss.
    expect(rows.map((r) => r.replace(/\s+/g, " ").trim())).toEqual(
      [2, 1, 0].map((k) => `run-0${k} ${loss(k, step)} @${step}`),
    );
    // The rows are updated in place as the pointer moves, not made again for every move.
    await own
      .locator("[data-testid=tooltip-row]")
      .first()
      .evaluate((el) => el.setAttribute("data-seen", "1"));
    await hover(page, "train/loss", 0.6);
    await waitUntil(
      async () => Number(/step (\d+)/.exec(await shown(own.locator(".tip-head")))?.[1]) > step,
      "the tooltip follows the pointer",
    );
    expect(await own.locator("[data-testid=tooltip-row]").first().getAttribute("data-seen")).toBe("1");
    expect(await own.locator("[data-testid=tooltip-row]").count()).toBe(3);
    // The val charts (further down) follow the same cursor.
    await chart(page, "val/acc").scrollIntoViewIfNeeded();
    await drawn(page, "val/acc", 3);
    await hover(page, "val/acc", 0.25);
    const accTip = chart(page, "val/acc").locator("[data-testid=chart-tooltip]");
    await accTip.waitFor();
    const accStep = Number(/step (\d+)/.exec(await shown(accTip.locator(".tip-head")))?.[1]);
    expect((await accTip.locator("[data-testid=tooltip-row]").allInnerTexts())[0].replace(/\s+/g, " ").trim()).toBe(
      `run-02 ${acc(2, accStep)} @${accStep}`,
    );
    await page.mouse.move(5, 5);
    await own.waitFor({ state: "hidden" });
    await context.close();
  });

  it("shows downsampled series with their min/max envelope, zooms by dragging at full detail, resets on double-click", async () => {
    const { page, context } = await newPage(browser);
    const requests = seriesRequests(page);
    await page.goto(`${server.url}/?exp=long`);
    const c = chart(page, "train/noisy");
    await drawn(page, "train/noisy", 1);
    expect(await c.getAttribute("data-downsampled")).toBe("true");
    expect(await c.getAttribute("data-envelopes")).toBe("1");
    await c.locator("[data-testid=downsampled-badge]").waitFor();
    expect(Number(await c.getAttribute("data-points"))).toBeLessThan(LONG_POINTS / 2);
    // The one-point spike survives downsampling: the y axis reaches it.
    await waitUntil(async () => Number(await c.getAttribute("data-y-max")) >= 5000, "spike kept");
    const plotLeft = () =>
      c.locator(".u-over").evaluate((el) => (el as unknown as { style: { left: string } }).style.left);
    const overviewLeft = await plotLeft();
    const first = requests[0];
    const body = JSON.parse(first.postData() ?? "{}") as { series: unknown[]; downsample: number; fields?: string[] };
    expect(body.series).toEqual([{ run_id: longId, key: "train/noisy" }]);
    // The step axis needs no wall-clock times.
    expect(body.fields).toEqual(["steps", "values"]);
    expect(body.downsample).toBeGreaterThanOrEqual(200);
    const zoomed = page.waitForRequest(
      (r) => r.url().endsWith("/api/series") && (r.postData() ?? "").includes("min_step"),
    );
    await drag(page, "train/noisy", 0.2, 0.24);
    const request = await zoomed;
    const { min_step, max_step } = JSON.parse(request.postData() ?? "{}") as { min_step: number; max_step: number };
    const [lo, hi] = (query(page).get("zoom") ?? "").split(",").map(Number);
    expect(min_step).toBe(Math.floor(lo));
    expect(max_step).toBe(Math.ceil(hi));
    expect(hi - lo).toBeGreaterThan(50);
    expect(hi - lo).toBeLessThan(400);
    // Every point of the range, not min/max buckets.
    await waitUntil(async () => (await c.getAttribute("data-downsampled")) === "false", "full detail");
    await waitUntil(async () => Number(await c.getAttribute("data-y-max")) < 5, "y range of the zoomed window");
    expect(await plotLeft()).toBe(overviewLeft);
    expect(Number(await c.getAttribute("data-x-min"))).toBeCloseTo(lo, 6);
    // Every point of the range and the nearest one beyond each edge.
    const points = Number(await c.getAttribute("data-points"));
    expect(points).toBeGreaterThanOrEqual(max_step - min_step + 2);
    expect(points).toBeLessThanOrEqual(max_step - min_step + 3);
    await c.locator("[data-testid=zoom-badge]").waitFor();
    await c.locator(".u-over").dblclick();
    await waitUntil(() => query(page).get("zoom") === null, "zoom reset");
    await waitUntil(async () => (await c.getAttribute("data-downsampled")) === "true", "back to the overview");
    expect(Number(await c.getAttribute("data-x-max"))).toBeGreaterThan(LONG_POINTS - 40);
    expect(Number(await c.getAttribute("data-y-max"))).toBeGreaterThanOrEqual(5000);
    // The y axis kept its width through the zoom (narrower labels would resize the whole canvas).
    expect(await plotLeft()).toBe(overviewLeft);
    await context.close();
  });

  it("switches the x axis between step, wall time and relative time, and the y axis to log", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[0]},${curveIds[5]}`);
    await drawn(page, "train/loss", 2);
    const c = chart(page, "train/loss");
    // The tooltip shows a frame after the pointer enters the plot; hidden, it still holds its last text.
    expect(Number(await c.getAttribute("data-x-min"))).toBe(0);
    expect(Number(await c.getAttribute("data-x-max"))).toBe(POINTS - 1);
    const withTimes = page.waitForRequest(
      (r) => r.url().endsWith("/api/series") && !(r.postData() ?? "").includes('"fields"'),
    );
    await page.locator("[data-testid=x-wall]").click();
    await withTimes;
    await waitUntil(async () => Number(await c.getAttribute("data-x-min")) > 1e9, "wall time axis");
    expect(query(page).get("x")).toBe("wall");
    // Runs start at their own times: run 0 at NOW - 10000, run 5 at NOW - 9950.
    expect(Number(await c.getAttribute("data-x-min"))).toBeCloseTo(NOW - 10_000, 0);
    expect(Number(await c.getAttribute("data-x-max"))).toBeCloseTo(NOW - 9950 + POINTS - 1, 0);
    await hover(page, "train/loss", 0.5);
    // The tooltip shows in the frame after the pointer enters the plot (Chart.tsx).
    await waitUntil(
      async () => /\d{1,2}:\d\d/.test(await shown(c.locator(".tip-head"))),
      "a clock time in the tooltip",
    );
    await page.locator("[data-testid=x-rel]").click();
    await waitUntil(async () => Number(await c.getAttribute("data-x-max")) === POINTS - 1, "relative axis");
    expect(Number(await c.getAttribute("data-x-min"))).toBe(0);
    await hover(page, "train/loss", 0.6);
    await waitUntil(
      async () => /\d+m\d\ds|\d+s/.test(await shown(c.locator(".tip-head"))),
      "a duration in the tooltip",
    );
    await page.locator("[data-testid=x-step]").click();
    expect(await c.getAttribute("data-y-distr")).toBe("1");
    await page.locator("[data-testid=y-log]").click();
    await waitUntil(async () => (await c.getAttribute("data-y-distr")) === "3", "log scale");
    expect(query(page).get("log")).toBe("1");
    await page.locator("[data-testid=y-linear]").click();
    await waitUntil(async () => (await c.getAttribute("data-y-distr")) === "1", "linear scale");
    await context.close();
  });

  it("smooths with an exponential moving average and keeps the raw line", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[3]}`);
    await drawn(page, "val/acc", 1);
    const c = chart(page, "val/acc");
    expect(await c.getAttribute("data-series")).toBe("1");
    await page.locator("[data-testid=smoothing]").fill("0.9");
    await waitUntil(async () => (await c.getAttribute("data-series")) === "2", "raw and smoothed lines");
    // The link takes the value once the slider rests.
    await waitUntil(() => query(page).get("smooth") === "0.9", "smoothing in the link");
    await hover(page, "val/acc", 0.5);
    const tip = c.locator("[data-testid=chart-tooltip]");
    await tip.waitFor();
    const step = Number(/step (\d+)/.exec(await shown(tip.locator(".tip-head")))?.[1]);
    let last = 0;
    let norm = 0;
    for (let s = 0; s <= step; s++) {
      last = last * 0.9 + 0.1 * acc(3, s);
      norm = norm * 0.9 + 0.1;
    }
    const displayed = Number((await shown(tip.locator(".tip-value"))).trim());
    expect(displayed).toBeCloseTo(last / norm, 0);
    expect(displayed).not.toBe(acc(3, step));
    await context.close();
  });

  it("draws on plain 2D canvases where the browser has no OffscreenCanvas: lines, smoothed lines and the highlight", async () => {
    const { page, context, errors } = await newPage(browser);
    // As in a browser without OffscreenCanvas (Safari before 16.4): BitmapLayer's fallback.
    await context.addInitScript(() => {
      delete (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas;
    });
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[3]}`);
    await drawn(page, "val/acc", 1);
    const c = chart(page, "val/acc");
    // Pixels of a saturated colour (a run's line; the grid and the axes are grey) on a canvas of the chart.
    const coloured = (selector: string) =>
      c.evaluate((card, sel) => {
        const canvas = (
          card as unknown as { querySelector(s: string): { width: number; height: number } | null }
        ).querySelector(sel);
        if (!canvas) return -1;
        const data = shownPixels(canvas, 0, 0, canvas.width, canvas.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
          if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
        }
        return n;
      }, selector);
    // No mirror: uPlot's own canvas shows the axes and the raw line; the layers draw on their own contexts.
    expect(await c.locator("canvas.chart-mirror").count()).toBe(0);
    expect(await c.locator("canvas.chart-source").count()).toBe(0);
    await waitUntil(
      async () => (await coloured(".u-wrap > canvas:not(.chart-layer)")) > 100,
      "the raw line on uPlot's canvas",
    );
    expect(await coloured("canvas.chart-smooth")).toBe(0);
    await page.locator("[data-testid=smoothing]").fill("0.9");
    await waitUntil(async () => (await c.getAttribute("data-series")) === "2", "raw and smoothed lines");
    await waitUntil(async () => (await coloured("canvas.chart-smooth")) > 100, "the smoothed line on its layer");
    expect(await coloured("canvas.chart-highlight")).toBe(0);
    await hover(page, "val/acc", 0.5);
    await waitUntil(async () => (await coloured("canvas.chart-highlight")) > 100, "the highlighted line");
    // Moving the pointer away clears the highlight layer again.
    await page.mouse.move(2, 2);
    await waitUntil(async () => (await coloured("canvas.chart-highlight")) === 0, "the highlight cleared");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("paints the min/max envelope on its own layer under the lines, at the new scales once a zoom or its reset settles", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=bands`);
    const c = chart(page, "train/band");
    await drawn(page, "train/band", 1);
    // The shaded rows of the envelope layer, as values on the plot's y scale (linear here).
    const band = () =>
      c.evaluate((card) => {
        const el = card as unknown as {
          dataset: Record<string, string>;
          querySelector(s: string): { width: number; height: number } | null;
        };
        const layer = el.querySelector(".u-under canvas.chart-envelope");
        if (!layer) return null;
        const data = shownPixels(layer, 0, 0, layer.width, layer.height);
        let top = Number.POSITIVE_INFINITY;
        let bottom = Number.NEGATIVE_INFINITY;
        const columns = new Set<number>();
        for (let i = 3; i < data.length; i += 4) {
          if (data[i] === 0) continue;
          const row = Math.floor((i - 3) / 4 / layer.width);
          columns.add(((i - 3) / 4) % layer.width);
          top = Math.min(top, row);
          bottom = Math.max(bottom, row);
        }
        const yMin = Number(el.dataset.yMin);
        const yMax = Number(el.dataset.yMax);
        const value = (row: number) => yMax - ((row + 0.5) / layer.height) * (yMax - yMin);
        return {
          columns: columns.size,
          width: layer.width,
          high: value(top),
          low: value(bottom),
          scale: `${el.dataset.xMin}:${el.dataset.xMax}:${yMin}:${yMax}`,
        };
      });
    // Shaded across the plot (in every pixel column, though about one point per column is
    // fetched), from the series' lowest to its highest value in the window.
    const covers = async (lo: number, hi: number) => {
      const b = await band();
      return (
        b !== null &&
        b.columns > b.width * 0.9 &&
        Math.abs(b.low - lo / 500) < 0.8 &&
        Math.abs(b.high - (6 + hi / 500)) < 0.8 &&
        b
      );
    };
    await waitUntil(() => covers(0, LONG_POINTS - 1), "the overview's envelope");
    const overview = await band();
    // A zoom wide enough to stay downsampled: the envelope is repainted at the window's scales.
    await drag(page, "train/band", 0.3, 0.7);
    await waitUntil(() => query(page).get("zoom") !== null, "zoomed");
    const [lo, hi] = (query(page).get("zoom") ?? "").split(",").map(Number);
    await waitUntil(async () => (await c.getAttribute("data-points")) !== null, "drawn");
    await waitUntil(() => covers(lo, hi), "the zoomed window's envelope");
    expect(await c.getAttribute("data-downsampled")).toBe("true");
    // Reset: the overview's envelope again, at the overview's scales.
    await c.locator(".u-over").dblclick();
    await waitUntil(() => query(page).get("zoom") === null, "zoom reset");
    await waitUntil(() => covers(0, LONG_POINTS - 1), "the overview's envelope again");
    expect((await band())?.scale).toBe(overview?.scale);
    await context.close();
  });

  it("resets a zoom on double-click without redrawing every synced chart inside the event", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds.slice(0, 4).join(",")}`);
    for (const key of ["train/loss", "train/lr", "val/acc", "val/loss"]) await drawn(page, key, 4);
    await drag(page, "train/loss", 0.2, 0.6);
    await waitUntil(() => query(page).get("zoom") !== null, "zoomed");
    const c = chart(page, "val/acc");
    await waitUntil(async () => Number(await c.getAttribute("data-x-max")) < POINTS * 0.7, "val/acc zoomed");
    // Canvas drawing calls made while the double-click event is dispatched (uPlot's listener runs
    // on the plot, before this one on the document).
    await page.evaluate(() => {
      const w = globalThis as unknown as {
        __drawsInDblclick: number;
        __counting: boolean;
        CanvasRenderingContext2D: { prototype: Record<string, (...a: unknown[]) => unknown> };
        addEventListener(type: string, listener: () => void, capture: boolean): void;
        document: { addEventListener(type: string, listener: () => void): void };
      };
      w.__drawsInDblclick = 0;
      w.__counting = false;
      for (const name of ["clearRect", "stroke", "fillText"]) {
        const draw = w.CanvasRenderingContext2D.prototype[name];
        w.CanvasRenderingContext2D.prototype[name] = function (this: unknown, ...a: unknown[]) {
          if (w.__counting) w.__drawsInDblclick++;
          return draw.apply(this, a);
        };
      }
      w.addEventListener("dblclick", () => (w.__counting = true), true);
      w.document.addEventListener("dblclick", () => (w.__counting = false));
    });
    await chart(page, "train/loss").locator(".u-over").dblclick();
    await waitUntil(() => query(page).get("zoom") === null, "zoom reset");
    await waitUntil(async () => Number(await c.getAttribute("data-x-max")) >= POINTS - 1, "val/acc reset");
    expect(await page.evaluate(() => (globalThis as unknown as { __drawsInDblclick: number }).__drawsInDblclick)).toBe(
      0,
    );
    await context.close();
  });

  it("cuts a long run name and metric key to fit the tooltip, which keeps its width", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=names`);
    await drawn(page, LONG_KEY, 1);
    await hover(page, LONG_KEY, 0.5);
    const tip = chart(page, LONG_KEY).locator("[data-testid=chart-tooltip]");
    await tip.waitFor();
    const row = tip.locator("[data-testid=tooltip-row]").first();
    const name = await shown(row.locator(".tip-name"));
    expect(name.endsWith("…")).toBe(true);
    expect(LONG_NAME.startsWith(name.slice(0, -1))).toBe(true);
    expect(name.length).toBeGreaterThan(8);
    const head = await shown(tip.locator(".tip-head"));
    expect(head).toMatch(/^train\/a-metric-key.*… · step \d+$/);
    // Every text lies within the tooltip's box: nothing is clipped, nothing spills over.
    const box = await tip.boundingBox();
    if (!box) throw new Error("no tooltip");
    expect(box.width).toBe(270);
    for (const part of [row, row.locator(".tip-value"), row.locator(".tip-step"), tip.locator(".tip-head")]) {
      const b = await part.boundingBox();
      expect(b && b.x + b.width <= box.x + box.width - 9 + 0.5).toBe(true);
    }
    expect(await row.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    await context.close();
  });

  it("draws a zoom drag's band on every synced chart without layerizing the page again on every move", async () => {
    const { page, context } = await newPage(browser);
    const { over, y } = await pointerOnSyncedCharts(page);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.22, y, { steps: 2 });
    // uPlot's own band, sized by its left and width, relayered the page on every move (21).
    expectFewRelayerings(await traceMoves(page, over, y, 0.22));
    // The band spans the selection (0.2 to 0.62 of the plot) on the dragged chart and on the synced one.
    for (const key of ["train/loss", "train/lr"]) {
      const plot = await chart(page, key).locator(".u-over").boundingBox();
      const band = await chart(page, key).locator(".chart-select").boundingBox();
      if (!plot || !band) throw new Error(`no band on ${key}`);
      expect(Math.abs(band.x - (plot.x + plot.width * 0.2))).toBeLessThanOrEqual(2);
      expect(Math.abs(band.width - plot.width * 0.42)).toBeLessThanOrEqual(2);
      expect(Math.abs(band.height - plot.height)).toBeLessThanOrEqual(1);
      // Scaled to the selection, not sized: its own width stays one pixel (a new size relayers the page).
      expect(
        await chart(page, key)
          .locator(".chart-select")
          .evaluate((el) => (el as unknown as { offsetWidth: number }).offsetWidth),
      ).toBe(1);
      expect(await chart(page, key).locator(".u-select").isVisible()).toBe(false);
    }
    expect(await chart(page, "train/lr").locator(".chart-select").evaluate(opacityOf)).toBe("1");
    await page.mouse.up();
    await waitUntil(async () => query(page).has("zoom"), "the zoom in the link");
    // Released: the band is gone from every chart.
    for (const key of ["train/loss", "train/lr"])
      await waitUntil(
        async () => (await chart(page, key).locator(".chart-select").evaluate(opacityOf)) === "0",
        `${key}'s band hidden`,
      );
    await context.close();
  });

  it("moves the crosshair and the tooltip without layerizing the page again on every move", async () => {
    const { page, context } = await newPage(browser);
    const { over, y } = await pointerOnSyncedCharts(page);
    await chart(page, "train/loss").locator("[data-testid=chart-tooltip]").waitFor();
    // The other chart's crosshair line is held too, and follows the pointer's x.
    const otherLine = chart(page, "train/lr").locator(".u-cursor-x");
    let nudge = 0;
    await waitUntil(async () => {
      // Held while the pointer moves (they rest when it stops).
      await page.mouse.move(over.x + over.width * 0.2 + (nudge++ % 2), y);
      return otherLine.evaluate(held);
    }, "the other chart's crosshair held");
    // The lines and the tooltip moved by their inline transforms relayered the page on every move (21).
    expectFewRelayerings(await traceMoves(page, over, y, 0.2));
    expect(await otherLine.evaluate(held)).toBe(true);
    // The hovered chart's horizontal line is held too; the synced chart's stays off and is not
    // (a held element is a composited layer for nothing).
    expect(await chart(page, "train/loss").locator(".u-cursor-y").evaluate(held)).toBe(true);
    expect(await chart(page, "train/lr").locator(".u-cursor-y").evaluate(animations)).toBe(0);
    // Placed where the pointer is (traceMoves ends at 0.6 of the plot): on the hovered chart at the
    // pointer, on the synced one (the same steps on its x axis) at the same fraction of its plot.
    const ownLine = await chart(page, "train/loss").locator(".u-cursor-x").boundingBox();
    expect(ownLine && Math.abs(ownLine.x - (over.x + over.width * 0.6))).toBeLessThanOrEqual(1);
    const lineBox = await otherLine.boundingBox();
    const lrOver = await chart(page, "train/lr").locator(".u-over").boundingBox();
    expect(lineBox && lrOver && Math.abs(lineBox.x - (lrOver.x + lrOver.width * 0.6))).toBeLessThanOrEqual(2);
    // The pointer resting on the chart: the animations stop (each keeps a composited layer for
    // every frame's commit to walk), the line and the tooltip stay where they are.
    const tip = chart(page, "train/loss").locator("[data-testid=chart-tooltip]");
    const tipBox = await tip.boundingBox();
    await waitUntil(
      async () => (await otherLine.evaluate(animations)) === 0 && (await tip.evaluate(animations)) === 0,
      "held elements at rest while the pointer rests",
    );
    expect(await otherLine.boundingBox()).toEqual(lineBox);
    expect(await tip.boundingBox()).toEqual(tipBox);
    expect(await tip.isVisible()).toBe(true);
    // Moving again holds them again.
    await waitUntil(async () => {
      await page.mouse.move(over.x + over.width * 0.5 + (nudge++ % 2), y);
      return otherLine.evaluate(held);
    }, "held again when the pointer moves");
    // At rest (the pointer gone), no animation runs.
    await page.mouse.move(2, 2);
    await waitUntil(async () => (await otherLine.evaluate(animations)) === 0, "crosshair at rest");
    await context.close();
  });

  it("writes a zoom to the link without the page decoding its icon again (a PNG, not an SVG document)", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds.slice(0, 2).join(",")}`);
    await drawn(page, "train/loss", 2);
    // The browser fetches the icon again after each change of the link; an SVG icon is decoded as
    // an SVG document on the page's main thread, a PNG is not.
    const cdp = await context.newCDPSession(page);
    const names: string[] = [];
    cdp.on("Tracing.dataCollected", (e) => {
      for (const event of e.value) names.push(event.name);
    });
    await cdp.send("Tracing.start", { categories: "blink,devtools.timeline", transferMode: "ReportEvents" });
    for (const [from, to] of [
      [0.2, 0.6],
      [0.3, 0.5],
    ]) {
      await drag(page, "train/loss", from, to);
      await waitUntil(() => query(page).get("zoom") !== null, "zoomed");
      await chart(page, "train/loss").locator(".u-over").dblclick();
      await waitUntil(() => query(page).get("zoom") === null, "zoom reset");
    }
    const complete = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
    await cdp.send("Tracing.end");
    await complete;
    expect(names.filter((n) => n.startsWith("FrameLoader::updateForSameDocumentNavigation")).length).toBeGreaterThan(0);
    expect(names.filter((n) => n.startsWith("IsolatedSVGDocumentHost"))).toEqual([]);
    await context.close();
  });

  it("places the tooltip beside the pointer, on its left near the chart's right edge, inside the chart", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds.slice(0, 6).join(",")}`);
    await drawn(page, "val/acc", 6);
    const c = chart(page, "val/acc");
    const tip = c.locator("[data-testid=chart-tooltip]");
    const plot = await c.locator(".chart-plot").boundingBox();
    const over = await c.locator(".u-over").boundingBox();
    if (!plot || !over) throw new Error("no plot");
    for (const fraction of [0.1, 0.95]) {
      const x = over.x + over.width * fraction;
      const y = over.y + over.height * 0.9;
      await page.mouse.move(x, y);
      await tip.waitFor();
      // Placed from the tooltip's laid-out size, once it is known.
      await waitUntil(async () => {
        const box = await tip.boundingBox();
        if (!box || box.width === 0) return false;
        const beside = fraction < 0.5 ? box.x >= x + 10 : box.x + box.width <= x - 10;
        return (
          beside && box.x + box.width <= plot.x + plot.width + 0.5 && box.y + box.height <= plot.y + plot.height + 0.5
        );
      }, `the tooltip beside the pointer at ${fraction}, inside the chart`);
    }
    // While it follows the pointer, paused animations hold its place (HeldTransform): the
    // compositor moves it without Chromium layerizing the page again.
    let nudge = 0;
    await waitUntil(async () => {
      await page.mouse.move(over.x + over.width * 0.95 - (nudge++ % 2), over.y + over.height * 0.9);
      return tip.evaluate(held);
    }, "the tooltip held where it is placed");
    await page.mouse.move(2, 2);
    await tip.waitFor({ state: "hidden" });
    expect(await tip.evaluate(animations)).toBe(0);
    await context.close();
  });

  it("moves the marked points with the pointer without repainting the highlighted line while the same run is nearest", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[2]}`);
    await drawn(page, "val/acc", 1);
    const c = chart(page, "val/acc");
    const image = (selector: string) =>
      c.locator(selector).evaluate((el) => (el as unknown as { toDataURL(): string }).toDataURL());
    const blank = await image("canvas.chart-highlight");
    await hover(page, "val/acc", 0.3);
    await waitUntil(async () => (await c.getAttribute("data-highlight")) === curveIds[2], "the run highlighted");
    // The wide line is painted in the frame after the entering move, the marks with the tooltip.
    await waitUntil(async () => (await image("canvas.chart-highlight")) !== blank, "the highlighted line painted");
    await c.locator("[data-testid=chart-tooltip]").waitFor();
    const line = await image("canvas.chart-highlight");
    const marks = await image("canvas.chart-marks");
    await hover(page, "val/acc", 0.6);
    await waitUntil(async () => (await image("canvas.chart-marks")) !== marks, "the marked point moved");
    expect(await image("canvas.chart-highlight")).toBe(line);
    await context.close();
  });

  it("marks the nearest run's table row in the frame after the pointer's move, not inside it", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[2]}`);
    await drawn(page, "val/acc", 1);
    // What the page shows at the end of each pointer move's dispatch (this listener runs after the chart's).
    await page.evaluate(() => {
      const w = globalThis as unknown as {
        __atMove: string[];
        addEventListener(type: string, listener: () => void): void;
        document: { querySelector(s: string): { dataset: Record<string, string> } | null };
      };
      w.__atMove = [];
      w.addEventListener("mousemove", () => {
        const card = w.document.querySelector('[data-testid=chart][data-key="val/acc"]');
        const row = w.document.querySelector("[data-testid=run-row][data-hovered]");
        w.__atMove.push(`${card?.dataset.highlight ?? "-"} ${row ? "row" : "-"}`);
      });
    });
    await hover(page, "val/acc", 0.4);
    await waitUntil(
      async () => (await page.locator("[data-testid=run-row][data-hovered]").count()) === 1,
      "the row marked",
    );
    const atMove = await page.evaluate(() => (globalThis as unknown as { __atMove: string[] }).__atMove);
    expect(atMove).toContain(`${curveIds[2]} -`);
    await context.close();
  });

  it("shows the tooltip in the frame after the pointer enters the plot, the highlight at once", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[2]}`);
    await drawn(page, "val/acc", 1);
    await watchTooltip(page, "val/acc", "block");
    await hover(page, "val/acc", 0.4);
    await chart(page, "val/acc").locator("[data-testid=chart-tooltip]").waitFor();
    await hover(page, "val/acc", 0.5);
    await waitUntil(async () => (await watched(page)).atMove.length === 2, "two moves");
    const { atMove, moves, changed, frames } = await watched(page);
    expect(atMove).toEqual([`${curveIds[2]} -`, `${curveIds[2]} tooltip`]);
    // Not in the frame that handled the entering move: a later frame began between the two.
    expect(frames.some((t) => t > moves[0] && t <= changed[0])).toBe(true);
    await context.close();
  });

  it("takes the tooltip, the marks and the highlight away in the frame after the pointer leaves the plot", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[2]}`);
    await drawn(page, "val/acc", 1);
    const tip = chart(page, "val/acc").locator("[data-testid=chart-tooltip]");
    await hover(page, "val/acc", 0.4);
    await tip.waitFor();
    await waitUntil(
      async () => (await chart(page, "val/acc").getAttribute("data-highlight")) === curveIds[2],
      "the run highlighted",
    );
    await watchTooltip(page, "val/acc", "none");
    await page.mouse.move(2, 2);
    await waitUntil(async () => !(await tip.isVisible()), "the tooltip hidden");
    await waitUntil(
      async () => (await chart(page, "val/acc").getAttribute("data-highlight")) === null,
      "the highlight gone",
    );
    const { atMove, moves, changed, frames } = await watched(page);
    // Still up when the leaving move's dispatch ended…
    expect(atMove[0]).toBe(`${curveIds[2]} tooltip`);
    // …and gone in a later frame.
    expect(frames.some((t) => t > moves[0] && t <= changed[0])).toBe(true);
    await context.close();
  });

  it("re-renders the charts for a ticked run in the frame after the click, the table at once", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[3]}`);
    await drawn(page, "val/acc", 1);
    // The page once the click is handled: the checkbox's change event follows its click, which React handles.
    await page.evaluate((id) => {
      const w = globalThis as unknown as {
        __atClick: string[];
        addEventListener(type: string, listener: () => void): void;
        document: {
          querySelector(s: string): { checked: boolean } | null;
          querySelectorAll(s: string): { length: number };
        };
      };
      w.__atClick = [];
      w.addEventListener("change", () => {
        const box = w.document.querySelector(`[data-testid=run-row][data-run-id="${id}"] [data-testid=run-select]`);
        const legend = w.document.querySelectorAll("[data-testid=chart-legend] .legend-item").length;
        w.__atClick.push(`${box?.checked ? "ticked" : "-"} ${legend}`);
      });
    }, curveIds[2]);
    await page.locator(`[data-testid=run-row][data-run-id="${curveIds[2]}"] [data-testid=run-select]`).click();
    await drawn(page, "val/acc", 2);
    expect(await page.locator("[data-testid=chart-legend] .legend-item").count()).toBe(2);
    expect(await page.evaluate(() => (globalThis as unknown as { __atClick: string[] }).__atClick)).toEqual([
      "ticked 1",
    ]);
    await context.close();
  });

  it("re-renders no chart panel for a view change none of them reads (the grid's column count)", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds.slice(0, 2).join(",")}&perf`);
    await drawn(page, "train/loss", 2);
    const panelRenders = () =>
      page.evaluate(
        () =>
          (globalThis as unknown as { __stonksPerf: { renders: Record<string, number> } }).__stonksPerf.renders
            .ChartPanel ?? 0,
      );
    const before = await panelRenders();
    expect(before).toBeGreaterThan(0);
    await page.locator("[data-testid=chart-cols-2]").click();
    await waitUntil(async () => query(page).get("ccols") === "2", "two columns in the link");
    await waitUntil(
      async () =>
        (await page.locator("[data-testid=chart-grid]").first().getAttribute("style"))?.includes("repeat(2") ?? false,
      "grid in two columns",
    );
    expect(await panelRenders()).toBe(before);
    await context.close();
  });

  it("writes a drag's zoom to the link once, though every synced chart reports the selection", async () => {
    const { page, context } = await newPage(browser);
    await page.addInitScript(() => {
      const w = globalThis as unknown as {
        __replaced: number;
        history: { replaceState: (...args: unknown[]) => void };
      };
      w.__replaced = 0;
      const replace = w.history.replaceState.bind(w.history);
      w.history.replaceState = (...args: unknown[]) => {
        w.__replaced++;
        replace(...args);
      };
    });
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds.slice(0, 3).join(",")}`);
    await drawn(page, "train/loss", 3);
    await drawn(page, "train/lr", 3);
    const replaced = () => page.evaluate(() => (globalThis as unknown as { __replaced: number }).__replaced);
    const before = await replaced();
    await drag(page, "train/loss", 0.3, 0.5);
    await waitUntil(async () => query(page).has("zoom"), "the zoom in the link");
    await drawn(page, "train/loss", 3);
    await new Promise((r) => setTimeout(r, 200));
    expect((await replaced()) - before).toBe(1);
    await context.close();
  });

  it("redraws only the smoothed lines' layer when the smoothing moves, the raw lines and axes under it staying", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[3]}&smooth=0.6`);
    await drawn(page, "val/acc", 1);
    const c = chart(page, "val/acc");
    await waitUntil(async () => (await c.getAttribute("data-series")) === "2", "raw and smoothed lines");
    const image = (selector: string) =>
      c.locator(selector).evaluate((el) => (el as unknown as { toDataURL(): string }).toDataURL());
    const plot = await image("canvas.chart-mirror");
    const smoothed = await image("canvas.chart-smooth");
    await page.locator("[data-testid=smoothing]").fill("0.9");
    await waitUntil(async () => (await image("canvas.chart-smooth")) !== smoothed, "the smoothed lines redrawn");
    expect(await image("canvas.chart-mirror")).toBe(plot);
    // The tooltip reads the new smoothing too.
    await hover(page, "val/acc", 0.5);
    const tip = c.locator("[data-testid=chart-tooltip]");
    await tip.waitFor();
    const step = Number(/step (\d+)/.exec(await shown(tip.locator(".tip-head")))?.[1]);
    let last = 0;
    let norm = 0;
    for (let s = 0; s <= step; s++) {
      last = last * 0.9 + 0.1 * acc(3, s);
      norm = norm * 0.9 + 0.1;
    }
    expect(Number((await shown(tip.locator(".tip-value"))).trim())).toBeCloseTo(last / norm, 0);
    await context.close();
  });

  it("keeps each chart's plot when smoothing turns on or off and when runs are ticked (only the lines change)", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=curves&runs=${curveIds[3]}`);
    await drawn(page, "val/acc", 1);
    const c = chart(page, "val/acc");
    // A rebuilt plot (every chart's canvas made anew, a frame's work each) would leave this canvas detached.
    const canvas = await c.locator("canvas.chart-mirror").elementHandle();
    if (!canvas) throw new Error("no canvas");
    const attached = () => canvas.evaluate((el) => el.isConnected);
    await page.locator("[data-testid=smoothing]").fill("0.6");
    await waitUntil(async () => (await c.getAttribute("data-series")) === "2", "raw and smoothed lines");
    expect(await attached()).toBe(true);
    await page.locator("[data-testid=smoothing]").fill("0");
    await waitUntil(async () => (await c.getAttribute("data-series")) === "1", "the raw line only");
    expect(await attached()).toBe(true);
    await page.locator(`[data-testid=run-row][data-run-id="${curveIds[2]}"] [data-testid=run-select]`).click();
    await drawn(page, "val/acc", 2);
    expect(await attached()).toBe(true);
    await page.locator(`[data-testid=run-row][data-run-id="${curveIds[2]}"] [data-testid=run-select]`).click();
    await drawn(page, "val/acc", 1);
    expect(await attached()).toBe(true);
    await context.close();
  });
});

describe("dashboard live updates", () => {
  it("shows a run going stale when its heartbeat stops, and live again when it comes back", async () => {
    const [quiet] = populate(dbPath, [
      { experiment: "heartbeats", name: "quiet-run", metrics: { "train/loss": { count: 5, value: () => 1 } } },
    ]);
    const fast = await serve(dbPath, undefined, { staleAfterSeconds: 2 });
    const writer = new Writer(dbPath);
    try {
      const { page, context } = await newPage(browser);
      await page.goto(`${fast.url}/?exp=heartbeats`);
      const badge = page.locator(`[data-run-id="${quiet.id}"] [data-testid=status-badge]`);
      await badge.waitFor();
      await waitUntil(async () => (await badge.getAttribute("data-status")) === "stale", "stale without a heartbeat");
      writer.beat(quiet.id);
      await waitUntil(async () => (await badge.getAttribute("data-status")) === "running", "running again");
      await context.close();
    } finally {
      writer.close();
      await fast.close();
    }
  });

  it("appends live points without refetching, shows new runs, keys and status changes, without a reload", async () => {
    const [live] = populate(dbPath, [
      {
        experiment: "live",
        name: "live-1",
        createdAt: NOW - 60,
        metrics: { "train/loss": { count: 10, value: (s: number) => 10 - s / 10 } },
      },
    ]);
    const writer = new Writer(dbPath);
    try {
      const { page, context } = await newPage(browser);
      const requests = seriesRequests(page);
      await page.goto(`${server.url}/?exp=live`);
      await drawn(page, "train/loss", 1);
      await waitUntil(
        async () => (await page.locator("[data-testid=live-status]").getAttribute("data-status")) === "live",
        "live stream",
      );
      await page.evaluate("window.__sameDocument = true");
      const c = chart(page, "train/loss");
      expect(await c.getAttribute("data-points")).toBe("10");
      const fetched = requests.length;

      writer.append(live.id, "train/loss", [10, 11, 12, 13, 14], [9, 8.8, 8.6, 8.4, 0.123]);
      await waitUntil(async () => (await c.getAttribute("data-points")) === "15", "live points on the chart");
      writer.append(live.id, "train/loss", [15, 16], [0.11, 0.1]);
      await waitUntil(async () => (await c.getAttribute("data-points")) === "17", "more live points");
      expect(Number(await c.getAttribute("data-x-max"))).toBe(16);
      // The table's last-value column follows the stream too.
      const lastCell = page.locator(`[data-run-id="${live.id}"] [data-col="metric:train/loss:last"]`);
      await waitUntil(async () => (await shown(lastCell)) === "0.1", "live last value");
      expect(requests.length).toBe(fetched);

      // A new metric key gets its chart.
      writer.append(live.id, "val/acc", [0, 1], [0.5, 0.6]);
      await chart(page, "val/acc").waitFor();
      await drawn(page, "val/acc", 1);

      // A new run appears in the table (and, with nothing chosen, on the charts).
      const [second] = populate(dbPath, [
        { experiment: "live", name: "live-2", metrics: { "train/loss": { count: 3, value: () => 5 } } },
      ]);
      await page.locator(`[data-run-id="${second.id}"]`).waitFor();
      await drawn(page, "train/loss", 2);
      await waitUntil(
        async () =>
          (await shown(
            page.locator('[data-testid=experiment-item][data-name="live"] [data-testid=experiment-count]'),
          )) === "2",
        "sidebar count",
      );

      // Status changes show.
      const badge = page.locator(`[data-run-id="${live.id}"] [data-testid=status-badge]`);
      expect(await badge.getAttribute("data-status")).toBe("running");
      writer.finish(live.id, "failed");
      await waitUntil(async () => (await badge.getAttribute("data-status")) === "failed", "status change");
      expect(await page.evaluate("window.__sameDocument")).toBe(true);
      await context.close();
    } finally {
      writer.close();
    }
  });
});
