// The server's run tables keep sort orders and where columns between queries while no run is
// live. Whatever they keep, a page must be the one a fresh read gives (queryRuns: filter, then
// sort), before and after runs change, arrive, grow new points and go.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRunField, parseWhere, type RunListQuery } from "../src/query/run-filter.js";
import { queryRuns, RunTables } from "../src/query/run-list.js";
import { deleteRuns } from "../src/store/admin.js";
import { type Db, openDatabase, runImmediate } from "../src/store/connection.js";
import { getExperiment } from "../src/store/reads.js";
import { appendPoints, ensureSeries, finishRun, mergeRunConfig, setRunTagsOrNotes } from "../src/store/writes.js";
import type { FinishStatus } from "../src/types.js";
import { tempDb } from "./support/helpers.js";
import { populateWith, type TestRun } from "./support/populate.js";
import { PROVENANCE } from "./support/server-support.js";

const START = 1_700_000_000;
const STATUSES: FinishStatus[] = ["completed", "failed", "interrupted"];

/** Finished runs with ties in creation time, mixed config types, nested and dotted keys, and two metric layouts. */
function sweep(count: number, from = 0): TestRun[] {
  return Array.from({ length: count }, (_, n) => {
    const i = n + from;
    const metrics: Record<string, number[]> =
      i % 5 === 4 ? { "loss.min": [9 - (i % 7)] } : { loss: [3, 1 + (i % 6) / 10, 2 - (i % 4) / 10], acc: [i % 9] };
    return {
      name: i % 11 === 0 ? null : `run-${i % 13}`,
      createdAt: START + Math.floor(i / 3) * 60,
      status: STATUSES[i % 3],
      config: {
        lr: [0.1, 0.01, "0.01", true, null][i % 5],
        model: { name: ["resnet18", "vit-b", "resnet50"][i % 3], depth: 18 + (i % 4) * 16 },
        ...(i % 4 === 0 ? { "model.name": "dotted" } : {}),
        ...(i % 6 === 0 ? { warmup: i } : {}),
        seed: i,
      },
      tags: i % 4 === 0 ? ["sweep", "best"] : i % 4 === 1 ? [] : ["sweep"],
      group: i % 7 === 0 ? null : `g${i % 3}`,
      metrics,
    };
  });
}

const WHERES = [
  undefined,
  "config.lr < 0.05",
  "config.lr = 0.01 OR config.lr = true",
  'config.model.name GLOB "resnet*" AND NOT status = failed',
  "config.model.depth BETWEEN 30 AND 60 AND config.warmup EXISTS",
  'metric.loss.min < 1.3 OR "best" IN tags',
  "metric.loss.min > 5",
  "metric.acc >= 4 AND group IN (g1, g2, null)",
  'name ~ "^run-1[0-2]$" OR name = null',
  'created_at >= 1700000120 AND job_type != "eval"',
  "config.seed > 100",
];
const SORTS: (string | undefined)[] = [
  undefined,
  "created_at",
  "config.lr",
  "config.model.name",
  "metric.loss.min",
  "metric.acc.max",
  "name",
  "status",
  "duration",
  "tags",
];

function queries(): RunListQuery[] {
  const out: RunListQuery[] = [];
  for (const where of WHERES) {
    for (const sort of SORTS) {
      for (const order of ["asc", "desc"] as const) {
        out.push({
          where: where === undefined ? undefined : parseWhere(where),
          sort: sort === undefined ? undefined : parseRunField(sort),
          order,
          limit: 7,
          offset: 2,
        });
      }
    }
  }
  out.push({ where: parseWhere("config.lr < 0.05"), tags: ["sweep"], text: "RUN-1", statuses: ["completed"] });
  return out;
}

let dbPath: string;
let db: Db;
let experimentId: string;
let seqs: { id: string; seq: number }[];

beforeAll(() => {
  dbPath = tempDb();
  seqs = populateWith(dbPath, sweep(60), {
    experiment: "kept",
    createdAt: () => START,
    jobType: "train",
    provenance: PROVENANCE,
  });
  db = openDatabase(dbPath);
  experimentId = (getExperiment(db, "kept") as { id: string }).id;
});

afterAll(() => db.close());

/** Ids and totals of every query, from kept tables (asked twice) and from a fresh read. */
function expectSamePages(tables: RunTables): void {
  for (const query of queries()) {
    const fresh = queryRuns(db, experimentId, query);
    const expected = { total: fresh.total, ids: fresh.runs.map((r) => r.id) };
    for (let i = 0; i < 2; i++) {
      const kept = tables.query(experimentId, query);
      expect({ total: kept.total, ids: kept.runs.map((r) => r.id) }).toEqual(expected);
    }
  }
}

describe("run tables that keep sort orders and where columns", () => {
  it("give the pages a fresh read gives, and still do after runs change, arrive, grow and go", () => {
    const tables = new RunTables(db);
    expectSamePages(tables);

    // A changed config, tags, new points that move a summary: kept orders and columns must go.
    runImmediate(db, () => {
      mergeRunConfig(db, seqs[3].seq, { lr: 0.001, model: { name: "resnet101", depth: 66 } });
      setRunTagsOrNotes(db, seqs[5].seq, { field: "tags", tags: ["best"] });
      const series = ensureSeries(db, seqs[8].seq, "loss");
      appendPoints(db, series, Float64Array.of(3), Float64Array.of(0.05), Float64Array.of(START + 3));
    });
    expectSamePages(tables);

    // New runs (one only with "loss.min" among its keys) and deleted ones.
    populateWith(dbPath, sweep(6, 60), {
      experiment: "kept",
      createdAt: () => START,
      jobType: "eval",
      provenance: PROVENANCE,
    });
    deleteRuns(db, [seqs[0].id, seqs[10].id]);
    expectSamePages(tables);

    // Only runs without "loss" are kept: metric.loss.min sorts by the key named "loss.min" for them.
    const onlyDotted = { where: parseWhere("NOT metric.loss EXISTS"), sort: parseRunField("metric.loss.min") };
    const fresh = queryRuns(db, experimentId, onlyDotted);
    expect(fresh.total).toBeGreaterThan(1);
    expect(tables.query(experimentId, onlyDotted).runs.map((r) => r.id)).toEqual(fresh.runs.map((r) => r.id));
    const values = fresh.runs.map((r) => r.summary["loss.min"]?.last);
    expect(values).toEqual([...values].sort((a, b) => (b as number) - (a as number)));

    // A live run: nothing kept applies while a run's shown fields move with the clock.
    const running = populateWith(dbPath, [{ name: "live", createdAt: START + 10_000, config: { lr: 0.01 } }], {
      experiment: "kept",
      createdAt: () => START,
      jobType: "train",
      provenance: PROVENANCE,
    });
    expectSamePages(tables);
    const byDuration = { sort: parseRunField("duration"), order: "asc" as const };
    expect(tables.query(experimentId, byDuration, START + 10_001).runs[0].id).toBe(running[0].id);
    expect(tables.query(experimentId, byDuration, START + 1_000_000).runs.at(-1)?.id).toBe(running[0].id);
    runImmediate(db, () => finishRun(db, running[0].seq, "completed", START + 10_100));
    expectSamePages(tables);
  });
});
