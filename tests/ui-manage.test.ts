/**
 * Managing runs from the dashboard in a real browser: rename inline, tags,
 * notes, color, delete a run or an experiment after a confirmation; each
 * change goes through the API and shows at once. Last, a server that went
 * away is reported in words.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunJson } from "../src/contract/wire.js";
import type { RunningServer } from "../src/server/index.js";
import { PALETTE } from "../ui/src/lib/colors.js";
import { apiGet, launchBrowser, newPage, populate, serve, shown, tempDir, waitUntil } from "./support/ui-support.js";

const NOW = Date.now() / 1000;
const tmp = tempDir("stonks-ui-manage-");
const dbPath = `${tmp.dir}/stonks.db`;
let browser: Browser;
let server: RunningServer;
const ids: string[] = [];

const row = (page: Page, id: string) => page.locator(`[data-testid=run-row][data-run-id="${id}"]`);

async function openRuns(page: Page): Promise<void> {
  await page.goto(`${server.url}/?exp=manage`);
  await page.locator(`[data-testid=run-row][data-run-id="${ids[0]}"]`).waitFor();
}

beforeAll(async () => {
  const runs = populate(
    dbPath,
    ["one", "two", "three"].map((name, i) => ({
      experiment: "manage",
      name,
      createdAt: NOW - 1000 + i,
      status: "completed" as const,
      tags: ["base"],
      metrics: { "train/loss": [1, 0.5] },
    })),
  );
  ids.push(...runs.map((r) => r.id));
  populate(dbPath, [{ experiment: "doomed", name: "d1", status: "completed", metrics: { loss: [1] } }]);
  [browser, server] = await Promise.all([launchBrowser(), serve(dbPath)]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

describe("dashboard: manage runs", () => {
  it("renames a run inline", async () => {
    const { page, context } = await newPage(browser);
    await openRuns(page);
    await row(page, ids[0]).hover();
    await row(page, ids[0]).locator("[data-testid=rename-button]").click();
    const input = row(page, ids[0]).locator("[data-testid=rename-input]");
    expect(await input.inputValue()).toBe("one");
    await input.fill("one-renamed");
    await input.press("Enter");
    await waitUntil(
      async () => (await shown(row(page, ids[0]).locator("[data-testid=run-name]"))) === "one-renamed",
      "renamed",
    );
    expect((await apiGet<RunJson>(server, `/api/runs/${ids[0]}`)).body.name).toBe("one-renamed");
    // Escape leaves the name alone.
    await row(page, ids[1]).locator("[data-testid=run-name]").dblclick();
    await row(page, ids[1]).locator("[data-testid=rename-input]").fill("nope");
    await row(page, ids[1]).locator("[data-testid=rename-input]").press("Escape");
    expect(await shown(row(page, ids[1]).locator("[data-testid=run-name]"))).toBe("two");
    expect((await apiGet<RunJson>(server, `/api/runs/${ids[1]}`)).body.name).toBe("two");
    // The legend of the charts shows the new name.
    await page.locator("[data-testid=chart-legend]", { hasText: "one-renamed" }).waitFor();
    await context.close();
  });

  it("edits tags and notes in the run detail", async () => {
    const { page, context } = await newPage(browser);
    await openRuns(page);
    await row(page, ids[1]).locator("[data-testid=run-name]").click();
    const detail = page.locator("[data-testid=run-detail]");
    await detail.waitFor();
    const tagInput = detail.locator("[data-testid=tag-input]");
    await tagInput.fill("keeper");
    await tagInput.press("Enter");
    await waitUntil(
      async () => (await shown(row(page, ids[1]).locator("[data-col=tags]"))).includes("keeper"),
      "tag in table",
    );
    expect((await apiGet<RunJson>(server, `/api/runs/${ids[1]}`)).body.tags).toEqual(["base", "keeper"]);
    await detail.locator("[data-testid=tag]", { hasText: "base" }).locator("[data-testid=tag-remove]").click();
    await waitUntil(
      async () => !(await shown(row(page, ids[1]).locator("[data-col=tags]"))).includes("base"),
      "tag removed",
    );
    expect((await apiGet<RunJson>(server, `/api/runs/${ids[1]}`)).body.tags).toEqual(["keeper"]);
    // The tag filter offers the new tag.
    await page.locator("[data-testid=tag-filter]").selectOption("keeper");
    await waitUntil(async () => (await page.locator("[data-testid=run-row]").count()) === 1, "filter by new tag");
    await page.locator("[data-testid=tag-filter]").selectOption("");

    const notes = detail.locator("[data-testid=notes-input]");
    expect(await detail.locator("[data-testid=notes-save]").isDisabled()).toBe(true);
    await notes.fill("lr too high, diverged at step 40");
    await detail.locator("[data-testid=notes-save]").click();
    await waitUntil(async () => await detail.locator("[data-testid=notes-save]").isDisabled(), "notes saved");
    expect((await apiGet<RunJson>(server, `/api/runs/${ids[1]}`)).body.notes).toBe("lr too high, diverged at step 40");
    // Searching finds runs by their notes.
    await page.locator("[data-testid=run-search]").fill("diverged");
    await waitUntil(async () => (await page.locator("[data-testid=run-row]").count()) === 1, "search by notes");
    await context.close();
  });

  it("picks a run's color", async () => {
    const { page, context } = await newPage(browser);
    await openRuns(page);
    const swatch = row(page, ids[2]).locator("[data-testid=color-swatch]");
    const before = await swatch.getAttribute("data-color");
    const target = before === PALETTE[3] ? PALETTE[5] : PALETTE[3];
    await swatch.click();
    await page.locator("[data-testid=color-picker]").waitFor();
    await page.locator(`[data-testid=color-option][data-color="${target}"]`).click();
    await waitUntil(async () => (await swatch.getAttribute("data-color")) === target, "new color");
    expect((await apiGet<RunJson>(server, `/api/runs/${ids[2]}`)).body.color).toBe(target);
    // Picking a color does not toggle the row's selection.
    expect(await row(page, ids[2]).getAttribute("aria-selected")).toBe("true");
    const legend = page
      .locator("[data-testid=chart-legend] .legend-item", { hasText: "three" })
      .locator(".legend-line");
    const n = Number.parseInt(target.slice(1), 16);
    const rgb = `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
    await waitUntil(async () => (await legend.getAttribute("style"))?.includes(rgb), "legend color");
    await context.close();
  });

  it("deletes a run after a confirmation", async () => {
    const { page, context } = await newPage(browser);
    await openRuns(page);
    await row(page, ids[2]).locator("[data-testid=run-name]").click();
    await page.locator("[data-testid=delete-run]").click();
    const dialog = page.locator("[data-testid=confirm-dialog]");
    await dialog.waitFor();
    expect(await shown(dialog)).toContain("three");
    await dialog.locator("[data-testid=confirm-cancel]").click();
    await dialog.waitFor({ state: "detached" });
    expect((await apiGet<RunJson>(server, `/api/runs/${ids[2]}`)).status).toBe(200);
    await page.locator("[data-testid=delete-run]").click();
    await page.locator("[data-testid=confirm-ok]").click();
    await row(page, ids[2]).waitFor({ state: "detached" });
    await page.locator("[data-testid=run-detail]").waitFor({ state: "detached" });
    expect((await apiGet<RunJson>(server, `/api/runs/${ids[2]}`)).status).toBe(404);
    expect(await page.locator("[data-testid=run-row]").count()).toBe(2);
    await waitUntil(
      async () =>
        (await shown(
          page.locator('[data-testid=experiment-item][data-name="manage"] [data-testid=experiment-count]'),
        )) === "2",
      "sidebar count",
    );
    await context.close();
  });

  it("deletes an experiment after a confirmation", async () => {
    const { page, context } = await newPage(browser);
    await page.goto(`${server.url}/?exp=doomed`);
    await page.locator("[data-testid=run-row]").first().waitFor();
    const item = page.locator('[data-testid=experiment-item][data-name="doomed"]');
    await item.hover();
    await item.locator("[data-testid=delete-experiment]").click();
    const dialog = page.locator("[data-testid=confirm-dialog]");
    expect(await shown(dialog)).toContain("doomed");
    await dialog.locator("[data-testid=confirm-ok]").click();
    await item.waitFor({ state: "detached" });
    expect((await apiGet<unknown>(server, "/api/experiments/doomed")).status).toBe(404);
    // The page moves on to an experiment that exists.
    await page.locator("[data-testid=experiment-title]", { hasText: "manage" }).waitFor();
    await context.close();
  });

  it("says so when the server cannot be reached", async () => {
    const { page, context } = await newPage(browser);
    await openRuns(page);
    await server.close();
    await row(page, ids[0]).locator("[data-testid=run-name]").dblclick();
    await row(page, ids[0]).locator("[data-testid=rename-input]").fill("offline");
    await row(page, ids[0]).locator("[data-testid=rename-input]").press("Enter");
    const banner = page.locator("[data-testid=error-banner]");
    await banner.waitFor();
    expect(await shown(banner)).toMatch(/Cannot reach the stonks server/);
    await waitUntil(
      async () => (await page.locator("[data-testid=live-status]").getAttribute("data-status")) !== "live",
      "live indicator shows the lost connection",
    );
    await context.close();
  });
});
