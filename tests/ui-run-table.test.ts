/**
 * The dashboard's run table filters and sorts as the server's run list does:
 * for every case of tests/fixtures/run-table-cases.json, the rows a real
 * Chromium shows (the view in the URL) against GET /api/experiments/{id}/runs
 * with the same query, and both against the table's expected order. Also:
 * the table's edit boxes stop at the limits the API enforces.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_NOTES_LENGTH, MAX_RUN_NAME_LENGTH, MAX_TAG_LENGTH } from "../src/contract/limits.js";
import type { ExperimentJson, RunJson } from "../src/contract/wire.js";
import type { RunningServer } from "../src/server/index.js";
import { apiParams, populateTable, TABLE, type TableView } from "./support/run-table-support.js";
import { apiGet, attrs, launchBrowser, newPage, PROVENANCE, serve, tempDir, waitUntil } from "./support/ui-support.js";

const NOW = Date.now() / 1000;
const tmp = tempDir("stonks-ui-run-table-");
const dbPath = `${tmp.dir}/stonks.db`;
// Every sortable extra column of the table's cases, so the dashboard shows (and can sort by) each.
const COLUMNS = "config:lr,config:opt.name,metric:loss:min,metric:loss:last";
let browser: Browser;
let server: RunningServer;
let page: Page;
let errors: string[];
let refs: Map<string, string>;
let experimentId: string;

beforeAll(async () => {
  refs = populateTable(dbPath, "table", NOW, { jobType: "train", provenance: PROVENANCE });
  server = await serve(dbPath);
  const experiments = await apiGet<ExperimentJson[]>(server, "/api/experiments");
  experimentId = (experiments.body.find((e) => e.name === "table") as ExperimentJson).id;
  browser = await launchBrowser();
  ({ page, errors } = await newPage(browser));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  tmp.remove();
});

function pageUrl(view: TableView): string {
  const params = new URLSearchParams({ exp: "table", cols: COLUMNS });
  for (const [name, value] of Object.entries(view)) params.set(name, value);
  return `${server.url}/?${params}`;
}

/** The refs of the rows the page shows, top to bottom, once as many as expected are there. */
async function shownOrder(view: TableView, count: number): Promise<string[]> {
  await page.goto(pageUrl(view));
  const rows = page.locator("[data-testid=run-row]");
  await waitUntil(async () => (await rows.count()) === count, `${count} rows for ${JSON.stringify(view)}`);
  const ids = await attrs(rows, "data-run-id");
  return ids.map((id) => refs.get(id ?? "") ?? `unknown ${id}`);
}

async function apiOrder(view: TableView): Promise<string[]> {
  const reply = await apiGet<RunJson[]>(server, `/api/experiments/${experimentId}/runs?${apiParams(view)}`);
  expect(reply.status).toBe(200);
  return reply.body.map((run) => refs.get(run.id) ?? `unknown ${run.id}`);
}

describe("the run table in a browser and the run-list API agree", () => {
  it.each(TABLE.cases)("$what", async ({ view, expected }) => {
    expect(await apiOrder(view)).toEqual(expected);
    expect(await shownOrder(view, expected.length)).toEqual(expected);
    expect(errors).toEqual([]);
  });
});

describe("the dashboard's edit boxes and the API's limits", () => {
  it("stop a name, notes and a tag at the lengths the API accepts", async () => {
    const runId = [...refs.keys()][0];
    await page.goto(`${server.url}/?exp=table&run=${runId}`);
    await page.locator("[data-testid=detail-name]").waitFor();
    const maxLength = (testId: string) =>
      page.locator(`[data-testid=${testId}]`).first().getAttribute("maxlength").then(Number);
    expect(await maxLength("detail-name")).toBe(MAX_RUN_NAME_LENGTH);
    expect(await maxLength("notes-input")).toBe(MAX_NOTES_LENGTH);
    expect(await maxLength("tag-input")).toBe(MAX_TAG_LENGTH);
    await page.locator("[data-testid=rename-button]").first().click();
    expect(await maxLength("rename-input")).toBe(MAX_RUN_NAME_LENGTH);
    // The longest name the box takes is one the API stores.
    const name = "n".repeat(MAX_RUN_NAME_LENGTH);
    const reply = await fetch(`${server.url}/api/runs/${runId}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name }),
    });
    expect(reply.status).toBe(200);
    const renamed = (await reply.json()) as RunJson;
    expect(renamed.name).toBe(name);
    const original = TABLE.runs.find((run) => run.ref === refs.get(runId))?.name;
    const restored = await fetch(`${server.url}/api/runs/${runId}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: original }),
    });
    expect(restored.status).toBe(200);
    expect(errors).toEqual([]);
  });
});
