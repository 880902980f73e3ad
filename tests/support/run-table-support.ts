/** The table of run-table cases (tests/fixtures/run-table-cases.json), written into a real database. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config, FinishStatus } from "../../src/types.js";
import { columnSortParam } from "../../ui/src/lib/run-table.js";
import { FIXTURES } from "./helpers.js";
import { populateWith, type TestRunDefaults } from "./populate.js";

export interface TableView {
  q?: string;
  status?: string;
  tag?: string;
  sort?: string;
  order?: "asc" | "desc";
}

export interface TableCase {
  what: string;
  view: TableView;
  expected: string[];
}

interface TableRunSpec {
  ref: string;
  name: string;
  ageSeconds: number;
  status?: FinishStatus;
  heartbeatAgeSeconds?: number;
  config?: Config;
  tags?: string[];
  group?: string;
  notes?: string;
  metrics?: Record<string, number[]>;
}

export const TABLE: { runs: TableRunSpec[]; cases: TableCase[] } = JSON.parse(
  readFileSync(join(FIXTURES, "run-table-cases.json"), "utf8"),
);

/** Seeds the table's runs into experiment `experiment`; returns run id → ref. */
export function populateTable(
  dbPath: string,
  experiment: string,
  now: number,
  defaults: Omit<TestRunDefaults, "experiment" | "createdAt">,
): Map<string, string> {
  const written = populateWith(
    dbPath,
    TABLE.runs.map((run) => ({
      name: run.name,
      createdAt: now - run.ageSeconds,
      status: run.status,
      heartbeat: run.heartbeatAgeSeconds === undefined ? undefined : now - run.heartbeatAgeSeconds,
      config: run.config,
      tags: run.tags,
      group: run.group,
      notes: run.notes,
      metrics: run.metrics,
    })),
    { experiment, createdAt: () => now, ...defaults },
  );
  return new Map(written.map((run, i) => [run.id, TABLE.runs[i].ref]));
}

/** The run-list query string the API takes for a dashboard view. */
export function apiParams(view: TableView): URLSearchParams {
  const params = new URLSearchParams();
  if (view.q !== undefined) params.set("q", view.q);
  if (view.status !== undefined) params.set("status", view.status);
  if (view.tag !== undefined) params.set("tag", view.tag);
  const sort = view.sort === undefined ? null : columnSortParam(view.sort);
  if (sort !== null) params.set("sort", sort);
  if (view.order !== undefined) params.set("order", view.order);
  return params;
}
