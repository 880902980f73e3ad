/**
 * The dashboard's files are answered without a turn of the event loop: on a fresh server the
 * page's first API reads (started from index.html while the bundle downloads) arrive right
 * behind the bundle's request, and an answer read on the thread pool would wait behind them.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StaticFiles } from "../../src/server/static.js";
import { tempDir } from "../support/helpers.js";

describe("dashboard files", () => {
  it("answers a bundle file before the event loop turns, with its content and headers", async () => {
    const root = tempDir("stonks-static-");
    mkdirSync(join(root, "assets"));
    writeFileSync(join(root, "index.html"), "<!doctype html><title>stonks</title>");
    const bundle = "console.log('stonks');".repeat(20_000);
    writeFileSync(join(root, "assets", "index-abc123.js"), bundle);
    const files = new StaticFiles(root);
    const order: string[] = [];
    const turned = new Promise<void>((resolve) =>
      setImmediate(() => {
        order.push("event loop turned");
        resolve();
      }),
    );
    const answered = files.serve("/assets/index-abc123.js", "GET").then((response) => {
      order.push("answered");
      return response;
    });
    const [response] = await Promise.all([answered, turned]);
    expect(order).toEqual(["answered", "event loop turned"]);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(await response.text()).toBe(bundle);
    rmSync(root, { recursive: true, force: true });
  });
});
