/**
 * The sidebar groups experiments by project once they span more than one
 * (experiments in no project form the last group), in a real browser against
 * a real server; one project only keeps the flat list.
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server/index.js";
import { openDatabase, runImmediate } from "../src/store/connection.js";
import { ensureProject } from "../src/store/projects.js";
import { launchBrowser, newPage, populate, serve, tempDir, texts } from "./support/ui-support.js";

const tmp = tempDir("stonks-ui-projects-");
/** Screenshots for a person to look at, when STONKS_SHOTS names a folder. */
const SHOTS = process.env.STONKS_SHOTS;
let browser: Browser;

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

function putInProject(dbPath: string, project: string, experiments: string[]): void {
  const db = openDatabase(dbPath);
  try {
    runImmediate(db, () => {
      const id = ensureProject(db, project);
      for (const name of experiments) db.prepare("UPDATE experiments SET project_id = ? WHERE name = ?").run(id, name);
    });
  } finally {
    db.close();
  }
}

function populateExperiments(dbPath: string, names: string[]): void {
  populate(
    dbPath,
    names.map((experiment) => ({ experiment, status: "completed" as const, metrics: { loss: [3, 2, 1] } })),
  );
}

/** Each group's title and its experiments' names, in the order shown. */
async function sidebarGroups(page: Page): Promise<[string, string[]][]> {
  const groups = page.locator("[data-testid=project-group]");
  const out: [string, string[]][] = [];
  for (let i = 0; i < (await groups.count()); i++) {
    const group = groups.nth(i);
    const title = (await group.locator("[data-testid=project-title] .project-name").textContent()) ?? "";
    const names = await group
      .locator("[data-testid=experiment-item]")
      .evaluateAll((els) => els.map((el) => el.getAttribute("data-name") ?? ""));
    out.push([title, names]);
  }
  return out;
}

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  tmp.remove();
});

describe("sidebar projects", () => {
  let server: RunningServer;

  afterAll(async () => {
    await server?.close();
  });

  it("groups experiments under their projects by name, those in none last, and picking one still opens it", async () => {
    const dbPath = `${tmp.dir}/grouped.db`;
    populateExperiments(dbPath, ["resnet", "vit", "wav2vec", "scratch"]);
    putInProject(dbPath, "vision", ["vit", "resnet"]);
    putInProject(dbPath, "audio", ["wav2vec"]);
    server = await serve(dbPath);
    const { context, page, errors } = await newPage(browser);
    try {
      await page.goto(server.url);
      await page.locator("[data-testid=project-group]").first().waitFor();
      expect(await sidebarGroups(page)).toEqual([
        ["audio", ["wav2vec"]],
        ["vision", ["resnet", "vit"]],
        ["No project", ["scratch"]],
      ]);
      // Each heading counts its experiments.
      expect(await texts(page, "[data-testid=project-title] .muted")).toEqual(["1", "2", "1"]);

      await page.locator('[data-testid=experiment-item][data-name="vit"] button').first().click();
      await page.locator("[data-testid=experiment-title]", { hasText: "vit" }).waitFor();
      expect(await page.locator('[data-testid=experiment-item][data-name="vit"]').getAttribute("class")).toContain(
        "active",
      );

      // Search filters within the groups; a group left empty disappears.
      await page.locator("[data-testid=experiment-search]").fill("v");
      await page.locator('[data-testid=experiment-item][data-name="resnet"]').waitFor({ state: "detached" });
      expect(await sidebarGroups(page)).toEqual([
        ["audio", ["wav2vec"]],
        ["vision", ["vit"]],
      ]);
      await page.locator("[data-testid=experiment-search]").fill("");
      await page.locator('[data-testid=project-group][data-project="No project"]').waitFor();
      await shot(page, "sidebar-projects-light");
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("keeps the flat list when every experiment is in one project", async () => {
    const dbPath = `${tmp.dir}/single.db`;
    populateExperiments(dbPath, ["a", "b"]);
    putInProject(dbPath, "only", ["a", "b"]);
    const single = await serve(dbPath);
    const { context, page } = await newPage(browser);
    try {
      await page.goto(single.url);
      await page.locator("[data-testid=experiment-item]").first().waitFor();
      expect(await page.locator("[data-testid=project-group]").count()).toBe(0);
      expect(
        await page
          .locator("[data-testid=experiment-item]")
          .evaluateAll((els) => els.map((el) => el.getAttribute("data-name"))),
      ).toEqual(["a", "b"]);
    } finally {
      await context.close();
      await single.close();
    }
  });
});
