// The service layer (src/query/service.ts): the admin operations the server and the CLI use, on a
// real file and on a real PostgreSQL, answering in domain types (camelCase, no stored rows).
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openService } from "../src/query/service.js";
import { UNKNOWN_PROVENANCE } from "../src/types.js";
import { backends } from "./support/backends.js";
import { tempDb } from "./support/helpers.js";
import { populateRuns } from "./support/server-support.js";

const NOW = 1_700_000_000;

describe("StonksService on a SQLite file (SQLite only)", () => {
  it("creates a missing file only when asked to", () => {
    const path = tempDb();
    expect(() => openService(path)).toThrow(/No stonks database/);
    expect(existsSync(path)).toBe(false);
    const db = openService(path, { create: true });
    expect(db.counts()).toMatchObject({ experiments: 0, runs: 0, points: 0 });
    db.close();
  });
});

describe.each(backends())("StonksService on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  it("edits, finds by id prefix, shows and deletes runs, and counts what is left", () => {
    const path = backend.newTarget();
    const [kept, dropped] = populateRuns(path, [
      { name: "kept", status: "completed", metrics: { loss: [3, 2, 1] } },
      { name: "dropped", status: "failed", createdAt: NOW - 10 },
    ]);
    const db = openService(path);
    try {
      expect(db.editRun(kept, { name: "renamed", tags: ["best"] })).toBe(true);
      expect(db.editRun("no-such-run", { name: "x" })).toBe(false);
      expect(db.runIdsWithPrefix(kept.slice(0, 8), 5)).toEqual([kept]);
      const view = db.runView(kept);
      expect(view).toMatchObject({ id: kept, name: "renamed", tags: ["best"], status: "completed" });
      expect(view?.summary.loss).toMatchObject({ last: 1, min: 1, max: 3, count: 3 });
      expect(view).not.toHaveProperty("experiment_id");
      expect(db.runView("no-such-run")).toBeNull();

      expect(db.gcCandidates({ statuses: ["failed"] })).toEqual([{ id: dropped, points: 0 }]);
      expect(db.deleteRuns([dropped, "no-such-run"])).toBe(1);
      expect(db.counts()).toMatchObject({
        experiments: 1,
        runs: 1,
        runsByStatus: { running: 0, completed: 1, failed: 0, interrupted: 0 },
        points: 3,
      });
      expect(db.queryRuns(db.listExperiments()[0].id, {}).runs.map((r) => r.name)).toEqual(["renamed"]);
    } finally {
      db.close();
    }
  });

  it("finds clean-up candidates by age, status and staleness, oldest first, with their point counts", () => {
    const path = backend.newTarget();
    const now = Date.now() / 1000;
    const [old, stale, live, failed] = populateRuns(path, [
      { name: "old", status: "completed", createdAt: now - 1000, metrics: { loss: [3, 2, 1] } },
      { name: "stale", createdAt: now - 500, heartbeat: now - 400 },
      { name: "live", createdAt: now - 300, heartbeat: now },
      { name: "failed", status: "failed", createdAt: now - 10 },
    ]);
    const db = openService(path);
    try {
      const ids = (criteria: Parameters<typeof db.gcCandidates>[0]) => db.gcCandidates(criteria).map((c) => c.id);
      expect(db.gcCandidates({ createdBefore: now - 600 })).toEqual([{ id: old, points: 3 }]);
      expect(ids({ statuses: ["failed", "completed"] })).toEqual([old, failed]);
      expect(ids({ staleBefore: now - 60 })).toEqual([old, stale, failed]);
      expect(ids({ statuses: ["running"], staleBefore: now - 60 })).toEqual([stale]);
      expect(ids({ statuses: [] })).toEqual([]);
      expect(ids({})).toEqual([old, stale, live, failed]);
    } finally {
      db.close();
    }
  });

  it("deletes an experiment with its runs, then the experiments left empty", () => {
    const path = backend.newTarget();
    populateRuns(path, [{ experiment: "a" }, { experiment: "a" }, { experiment: "b" }]);
    const db = openService(path);
    try {
      const [a, b] = db.listExperiments();
      expect(db.deleteExperiment(a.id)).toBe(2);
      expect(db.deleteExperiment(a.id)).toBeNull();
      expect(db.deleteRuns(db.listRuns(b.id).map((r) => r.id))).toBe(1);
      expect(db.deleteEmptyExperiments()).toBe(1);
      db.compact();
      expect(db.counts()).toMatchObject({ experiments: 0, runs: 0 });
    } finally {
      db.close();
    }
  });

  it("writes a recorded run with its points, its end and its colour", () => {
    const db = openService(backend.newTarget(), { create: true });
    try {
      const steps = Float64Array.from([0, 1, 2]);
      const id = db.writeRecordedRun({
        experiment: "recorded",
        name: "r",
        config: { lr: 0.1 },
        tags: ["t"],
        group: null,
        jobType: "train",
        notes: null,
        color: "#ff0000",
        createdAt: NOW,
        provenance: { ...UNKNOWN_PROVENANCE },
        metrics: { loss: { steps, values: Float64Array.from([1, 0.5, 0.25]), timestamps: steps.map((s) => NOW + s) } },
        status: "completed",
        lastActive: NOW + 10,
      });
      expect(db.getRun(id)).toMatchObject({
        status: "completed",
        endedAt: NOW + 10,
        color: "#ff0000",
        config: { lr: 0.1 },
      });
      expect([...db.getMetrics(id, "loss").values]).toEqual([1, 0.5, 0.25]);
    } finally {
      db.close();
    }
  });
});
