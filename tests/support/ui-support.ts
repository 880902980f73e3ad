/**
 * Shared by the dashboard tests: a real database written through the store
 * layer, a real `stonks serve` (startServer) on 127.0.0.1, and headless
 * Chromium driven by playwright-core.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { type RunningServer, startServer } from "../../src/server/index.js";
import { openDatabase, runImmediate } from "../../src/store/connection.js";
import { getRunRow } from "../../src/store/reads.js";
import { appendPoints, ensureSeries, finishRun, touchHeartbeat } from "../../src/store/writes.js";
import type { FinishStatus } from "../../src/types.js";
import { populateWith, type TestRun } from "./populate.js";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

declare global {
  /**
   * In the page: the pixels a canvas shows (RGBA rows), whatever draws it: a 2D context, or an
   * ImageBitmap ("bitmaprenderer": the charts' layers and the mirror of uPlot's canvas), which has
   * no 2D context to read back.
   */
  function shownPixels(canvas: unknown, x: number, y: number, width: number, height: number): Uint8ClampedArray;
}

/** Defines shownPixels in every page of a context (see there). */
function readsPixels(): void {
  interface Canvas {
    width: number;
    height: number;
    getContext(kind: "2d"): {
      drawImage(c: unknown, x: number, y: number): void;
      getImageData(...a: number[]): { data: Uint8ClampedArray };
    } | null;
  }
  const doc = (globalThis as unknown as { document: { createElement(tag: "canvas"): Canvas } }).document;
  (globalThis as unknown as { shownPixels: typeof shownPixels }).shownPixels = (canvas, x, y, width, height) => {
    const source = canvas as Canvas;
    const scratch = doc.createElement("canvas");
    scratch.width = source.width;
    scratch.height = source.height;
    const ctx = scratch.getContext("2d");
    if (!ctx) throw new Error("no 2D context");
    ctx.drawImage(source, 0, 0);
    return ctx.getImageData(x, y, width, height).data;
  };
}

/** A fresh context (its own storage: no theme or layout remembered from another test). */
export async function newPage(
  browser: Browser,
  options: { dark?: boolean; width?: number; height?: number } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1400, height: options.height ?? 1000 },
    colorScheme: options.dark ? "dark" : "light",
  });
  await context.addInitScript(readsPixels);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The dashboard runs under a Content-Security-Policy: anything it blocks is an error of the page.
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) errors.push(message.text());
  });
  return { context, page, errors };
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const PROVENANCE = {
  host: "gpu-box-7",
  pid: 31337,
  command: "python train.py --lr 0.01",
  cwd: "/home/ada/project",
  gitCommit: "0123456789abcdef0123456789abcdef01234567",
  gitDirty: true,
  sdkLanguage: "python",
  sdkVersion: "0.1.0",
};

export type RunSpec = TestRun & { experiment: string };

export interface PopulatedRun {
  id: string;
  seq: number;
}

/** Writes runs through the store layer (one transaction); returns their ids in order. */
export function populate(dbPath: string, runs: RunSpec[]): PopulatedRun[] {
  return populateWith(dbPath, runs, {
    experiment: "exp",
    createdAt: () => Date.now() / 1000 - 3600,
    jobType: "train",
    provenance: PROVENANCE,
  });
}

/** A second writer, as a training process would be: appends points, beats, finishes. */
export class Writer {
  private readonly db;
  constructor(dbPath: string) {
    this.db = openDatabase(dbPath);
  }

  /** A heartbeat without points, as a run's process sends while it computes. */
  beat(runId: string): void {
    runImmediate(this.db, () => {
      const row = getRunRow(this.db, runId);
      if (!row) throw new Error(`no run ${runId}`);
      touchHeartbeat(this.db, row.seq, Date.now() / 1000);
    });
  }

  append(runId: string, key: string, steps: number[], values: number[]): void {
    runImmediate(this.db, () => {
      const row = getRunRow(this.db, runId);
      if (!row) throw new Error(`no run ${runId}`);
      const now = Date.now() / 1000;
      appendPoints(
        this.db,
        ensureSeries(this.db, row.seq, key),
        Float64Array.from(steps),
        Float64Array.from(values),
        Float64Array.from(steps, () => now),
      );
      touchHeartbeat(this.db, row.seq, now);
    });
  }

  finish(runId: string, status: FinishStatus): void {
    runImmediate(this.db, () => {
      const row = getRunRow(this.db, runId);
      if (!row) throw new Error(`no run ${runId}`);
      finishRun(this.db, row.seq, status, Date.now() / 1000);
    });
  }

  close(): void {
    this.db.close();
  }
}

export async function serve(
  dbPath: string,
  token?: string,
  options: { staleAfterSeconds?: number } = {},
): Promise<RunningServer> {
  return startServer({ dbPath, host: "127.0.0.1", port: 0, token: token ?? null, pollIntervalMs: 50, ...options });
}

/** Polls until check() is truthy; fails with the last value seen (tests wait on conditions, never on time). */
export async function waitUntil<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The texts of every element matching a selector. */
export function texts(page: Page, selector: string): Promise<string[]> {
  return page.locator(selector).allInnerTexts();
}

export function query(page: Page): URLSearchParams {
  return new URL(page.url()).searchParams;
}

/** JSON from the real API (the test's view of the database, next to what the page shows). */
export async function apiGet<T>(server: RunningServer, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, body: (await response.json()) as T };
}

/** One attribute of every element a locator matches. */
export function attrs(locator: Locator, name: string): Promise<(string | null)[]> {
  return locator.evaluateAll((els, attr) => els.map((e) => e.getAttribute(attr)), name);
}

/** The text an element shows (its rendered text, as a person reads it). */
export function shown(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText is the rendered text the test asserts on
  return locator.innerText();
}
