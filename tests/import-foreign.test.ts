// What every importer shares (src/query/import-foreign.ts): runs read from another tracker written
// into a real stonks file, idempotently, with a source that grows between imports, non-finite
// values, a dry run and an experiment override. Each importer's own test reads real files of its tool.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ForeignRun, ForeignSource } from "../src/interop/model.js";
import { foreignRunId, importForeign } from "../src/query/import-foreign.js";
import { openService } from "../src/query/service.js";
import { stonks, tempDb } from "./support/helpers.js";

const T0 = 1_700_000_000;

function series(values: number[], firstStep = 0) {
  return {
    steps: Float64Array.from(values, (_, i) => firstStep + i),
    values: Float64Array.from(values),
    times: Float64Array.from(values, (_, i) => T0 + firstStep + i),
  };
}

function run(key: string, overrides: Partial<ForeignRun> = {}): ForeignRun {
  return {
    sourceKey: key,
    experiment: "imported",
    name: `run ${key}`,
    config: { lr: 0.1, nested: { depth: 2 } },
    tags: ["a"],
    group: null,
    jobType: null,
    notes: null,
    createdAt: T0,
    status: "completed",
    endedAt: T0 + 100,
    provenance: { host: "gpu-1" },
    metrics: { loss: series([3, 2, 1]) },
    ...overrides,
  };
}

function source(runs: ForeignRun[]): ForeignSource {
  return {
    runCount: runs.length,
    async *runs() {
      yield* runs;
    },
  };
}

describe("importing foreign runs", () => {
  it("writes runs with their metadata, and a second import of the same source adds nothing", async () => {
    const path = tempDb();
    const db = openService(path, { create: true });
    try {
      const runs = [run("a"), run("b", { metrics: { loss: series([1, 2]), acc: series([0.5, 0.6]) } })];
      const first = await importForeign(source(runs), db, { kind: "test", dryRun: false });
      expect(first).toEqual({ experiments: 1, runs: 2, points: 7, skippedRuns: 0, skippedPoints: 0 });
      const view = db.runView(foreignRunId("test", "a"));
      expect(view).toMatchObject({ name: "run a", status: "completed", tags: ["a"], config: { lr: 0.1 } });
      expect(view?.provenance).toMatchObject({ host: "gpu-1", sdkLanguage: "test" });
      expect(view?.summary.loss).toMatchObject({ last: 1, min: 1, max: 3, count: 3 });
      const second = await importForeign(source(runs), db, { kind: "test", dryRun: false });
      expect(second).toEqual({ experiments: 0, runs: 0, points: 0, skippedRuns: 2, skippedPoints: 0 });
      expect(db.counts()).toMatchObject({ runs: 2, points: 7 });
    } finally {
      db.close();
    }
  });

  it("appends only the points a grown source adds, keeps edits made in stonks, and takes a finish", async () => {
    const path = tempDb();
    const db = openService(path, { create: true });
    try {
      const live = run("live", { status: "running", endedAt: null, metrics: { loss: series([5, 4]) } });
      await importForeign(source([live]), db, { kind: "test", dryRun: false });
      const id = foreignRunId("test", "live");
      db.editRun(id, { notes: "looked at it" });
      const grown = run("live", { status: "running", endedAt: null, metrics: { loss: series([5, 4, 3, 2]) } });
      const again = await importForeign(source([grown]), db, { kind: "test", dryRun: false });
      expect(again).toMatchObject({ runs: 1, points: 2, skippedRuns: 0 });
      expect(db.runView(id)).toMatchObject({ status: "running", notes: "looked at it" });
      const loss = db.getMetrics(id, "loss");
      expect(Array.from(loss.values)).toEqual([5, 4, 3, 2]);
      const finished = run("live", { status: "failed", endedAt: T0 + 50, metrics: { loss: series([5, 4, 3, 2]) } });
      const last = await importForeign(source([finished]), db, { kind: "test", dryRun: false });
      expect(last).toMatchObject({ runs: 1, points: 0 });
      expect(db.runView(id)).toMatchObject({ status: "failed", endedAt: T0 + 50 });
    } finally {
      db.close();
    }
  });

  it("skips non-finite values and counts them; a dry run writes nothing; --experiment overrides the source's", async () => {
    const path = tempDb();
    const withNan = run("nan", { metrics: { loss: series([1, Number.NaN, 3, Number.POSITIVE_INFINITY]) } });
    const dry = await importForeign(source([withNan]), null, { kind: "test", dryRun: true });
    expect(dry).toEqual({ experiments: 1, runs: 1, points: 2, skippedRuns: 0, skippedPoints: 2 });
    expect(existsSync(path)).toBe(false);
    const db = openService(path, { create: true });
    try {
      await importForeign(source([withNan]), db, { kind: "test", dryRun: false, experiment: "moved" });
      const id = foreignRunId("test", "nan");
      const loss = db.getMetrics(id, "loss");
      expect(Array.from(loss.steps)).toEqual([0, 2]);
      expect(db.listExperiments().map((e) => e.name)).toEqual(["moved"]);
    } finally {
      db.close();
    }
  });

  it("derives one stable UUID per kind and source key", () => {
    const id = foreignRunId("tensorboard", "runs/a");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(foreignRunId("tensorboard", "runs/a")).toBe(id);
    expect(foreignRunId("mlflow", "runs/a")).not.toBe(id);
  });

  it("the CLI names the kinds it knows when given another, in one line", async () => {
    const result = await stonks(["import", "nosuchtracker", "somewhere", "--db", tempDb()]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/cannot import "nosuchtracker"/);
  });
});
