// The run table's rules, one table of cases (tests/fixtures/run-table-cases.json) for both sides:
// the server's run list (query string parsed as the API parses it) and the dashboard's table
// (the wire runs it receives, filtered and sorted by its own helpers), the server's over both backends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareText } from "../src/contract/run-table.js";
import type { RunJson, RunMetaJson, SummaryJson } from "../src/contract/wire.js";
import { queryRuns } from "../src/query/run-list.js";
import { runJson } from "../src/server/json.js";
import { runListQuery } from "../src/server/validation.js";
import { type Db, openDatabase } from "../src/store/connection.js";
import { getExperiment } from "../src/store/reads.js";
import { columnField, tableFilter, tableRows } from "../ui/src/lib/run-table.js";
import { backends } from "./support/backends.js";
import { apiParams, populateTable, TABLE, type TableView } from "./support/run-table-support.js";
import { PROVENANCE } from "./support/server-support.js";

const NOW = Date.now() / 1000;

describe.each(backends())("one table of run-table cases, both sides, on $name", (backend) => {
  let db: Db;
  let experimentId: string;
  let refs: Map<string, string>;

  beforeAll(async () => {
    await backend.start();
    const dbPath = backend.newTarget();
    refs = populateTable(dbPath, "table", NOW, { jobType: "train", provenance: PROVENANCE });
    db = openDatabase(dbPath);
    experimentId = (getExperiment(db, "table") as { id: string }).id;
  });

  afterAll(async () => {
    db?.close();
    await backend.stop();
  });

  function serverOrder(view: TableView): string[] {
    const params = apiParams(view);
    const query = runListQuery(
      (name) => params.get(name) ?? undefined,
      (name) => params.getAll(name),
    );
    return queryRuns(db, experimentId, query).runs.map((run) => refs.get(run.id) as string);
  }

  /** The dashboard's order: the runs as the API sends them, split as its run store keeps them. */
  function dashboardOrder(view: TableView): string[] {
    const wire: RunJson[] = queryRuns(db, experimentId, {}).runs.map(runJson);
    const summaries = new Map<string, Record<string, SummaryJson>>();
    const runs: RunMetaJson[] = wire.map(({ summary, ...meta }) => {
      summaries.set(meta.id, summary);
      return meta;
    });
    const filter = tableFilter({ q: view.q ?? "", status: view.status ?? "", tag: view.tag ?? "" });
    const field = columnField(view.sort ?? "created") ?? undefined;
    const rows = tableRows(runs, summaries, filter, { field, order: view.order ?? "desc" }, NOW);
    return rows.map((run) => refs.get(run.id) as string);
  }

  it.each(TABLE.cases)("$what", ({ view, expected }) => {
    expect(serverOrder(view)).toEqual(expected);
    expect(dashboardOrder(view)).toEqual(expected);
  });
});

describe("text order", () => {
  it("orders digit runs by value however long, then case, then code point", () => {
    const sorted = ["b", "a10", "A2", "a2", "a02", "a99999999999999999999", "a100000000000000000000", "a1"].sort(
      compareText,
    );
    expect(sorted).toEqual(["a1", "A2", "a02", "a2", "a10", "a99999999999999999999", "a100000000000000000000", "b"]);
  });
});
