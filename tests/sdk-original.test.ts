// The original stonks' startRun parameters and run updates, in TypeScript's idiom.
import { describe, expect, it } from "vitest";
import { InvalidMetricError, NotFoundError, open, StonksError, startRun } from "../dist/index.js";
import { openConnection } from "../src/store/driver.js";
import { tempDb } from "./support/helpers.js";

function rows(db: string, sql: string): unknown[] {
  const raw = openConnection(db);
  try {
    return raw.prepare(sql).all();
  } finally {
    raw.close();
  }
}

function runRows(db: string) {
  return rows(
    db,
    "SELECT r.id, e.name AS experiment, r.name, r.tags, r.notes FROM runs r JOIN experiments e ON e.id = r.experiment_id ORDER BY r.seq",
  ) as { id: string; experiment: string; name: string | null; tags: string; notes: string | null }[];
}

function metrics(db: string, runId: string, key: string) {
  const q = open(db);
  try {
    return q.getMetrics(runId, key);
  } finally {
    q.close();
  }
}

describe("the original stonks' start options", () => {
  it("takes saveDir and name as db and runName", async () => {
    const db = tempDb();
    await startRun("exp", { saveDir: db, name: "first" }, (run) => run.log({ loss: 1 }));
    await startRun("exp", { db, runName: "second" }, (run) => run.log({ loss: 1 }));
    expect(runRows(db).map((row) => row.name)).toEqual(["first", "second"]);
  });

  it("refuses two different values for one option under its two names", () => {
    const db = tempDb();
    expect(() => startRun("exp", { db, saveDir: `${db}.other` })).toThrow(/pass one of them/);
    expect(() => startRun("exp", { db, runName: "a", name: "b" })).toThrow(/pass one of them/);
  });

  it("defaults the experiment to default and takes it from the options", async () => {
    const db = tempDb();
    await startRun({ db }, (run) => run.log({ loss: 1 }));
    startRun({ db, experiment: "named" }).start();
    expect(runRows(db).map((row) => row.experiment)).toEqual(["default", "named"]);
  });

  it("gives a new run the id option", async () => {
    const db = tempDb();
    const id = await startRun("exp", { db, id: "my-run-1" }, (run) => run.id);
    expect(id).toBe("my-run-1");
    expect(runRows(db)[0]!.id).toBe("my-run-1");
    expect(() => startRun("exp", { db, id: "my-run-1", strict: true }).start()).toThrow(/already exists/);
  });

  it("resume: true with an id continues that run in any experiment", async () => {
    const db = tempDb();
    await startRun("exp-a", { db, id: "r1", name: "kept" }, (run) => {
      run.log({ loss: 1 });
      run.log({ loss: 0.5 });
    });
    await startRun("exp-b", { db, id: "r1", resume: true }, (run) => {
      expect(run.id).toBe("r1");
      expect(run.name).toBe("kept");
      run.log({ loss: 0.25 });
    });
    expect(runRows(db)).toEqual([{ id: "r1", experiment: "exp-a", name: "kept", tags: "[]", notes: null }]);
    expect([...metrics(db, "r1", "loss").steps]).toEqual([0, 1, 2]);
  });

  it("resume: true with an unknown id starts a run with that id", async () => {
    const db = tempDb();
    await startRun("exp", { db, id: "fresh", resume: true }, (run) => run.log({ loss: 1 }));
    expect(runRows(db).map((row) => row.id)).toEqual(["fresh"]);
  });

  it("resume: true without an id continues the experiment's latest run", async () => {
    const db = tempDb();
    await startRun("exp", { db }, () => undefined);
    const latest = await startRun("exp", { db }, (run) => run.id);
    await startRun("other", { db }, () => undefined);
    expect(await startRun("exp", { db, resume: true }, (run) => run.id)).toBe(latest);
    expect(runRows(db)).toHaveLength(3);
  });

  for (const strict of [false, true]) {
    it(`resume: "must" throws "not found" for a missing run (strict ${strict})`, () => {
      const db = tempDb();
      expect(() => startRun("exp", { db, id: "nope", resume: "must", strict }).start()).toThrow(/not found/);
      expect(() => startRun("exp", { db, resume: "must", strict }).start()).toThrow(NotFoundError);
      expect(runRows(db)).toEqual([]);
    });
  }

  it('resume: "must" continues an existing run', async () => {
    const db = tempDb();
    await startRun("exp", { db, id: "r1" }, (run) => run.log({ loss: 1 }));
    await startRun("exp", { db, id: "r1", resume: "must" }, (run) => run.log({ loss: 2 }));
    expect(await startRun("exp", { db, resume: "must" }, (run) => run.id)).toBe("r1");
    expect([...metrics(db, "r1", "loss").values]).toEqual([1, 2]);
  });

  it("creates a project once and links an experiment only when the experiment is created", async () => {
    const db = tempDb();
    expect(await startRun("exp", { db, project: "vision" }, (run) => run.project)).toBe("vision");
    await startRun("exp2", { db, project: "vision" }, () => undefined);
    await startRun("plain", { db }, () => undefined);
    expect(await startRun("plain", { db, project: "vision" }, (run) => run.project)).toBeNull();
    expect(rows(db, "SELECT name FROM projects")).toEqual([{ name: "vision" }]);
    expect(
      rows(
        db,
        "SELECT e.name AS experiment, p.name AS project FROM experiments e LEFT JOIN projects p ON p.id = e.project_id ORDER BY e.name",
      ),
    ).toEqual([
      { experiment: "exp", project: "vision" },
      { experiment: "exp2", project: "vision" },
      { experiment: "plain", project: null },
    ]);
  });

  it("prepends prefix/ to every logged key", async () => {
    const db = tempDb();
    const id = await startRun("exp", { db, prefix: "train" }, (run) => {
      for (let step = 0; step < 3; step++) run.log({ loss: 1 / (step + 1), acc: 0.5 }, { step });
      run.log({ lr: 0.1 });
      return run.id;
    });
    const q = open(db);
    expect(q.getMetricKeys(id).sort()).toEqual(["train/acc", "train/loss", "train/lr"]);
    expect([...q.getMetrics(id, "train/loss").steps]).toEqual([0, 1, 2]);
    q.close();
  });

  it("counts the prefix towards the key length limit", () => {
    const db = tempDb();
    const run = startRun("exp", { db, prefix: "abcd", strict: true }).start();
    expect(() => run.log({ ["k".repeat(997)]: 1 })).toThrow(InvalidMetricError);
  });
});

describe("updating a run after start", () => {
  it("stores setTags and setNotes at once, with a new revision", async () => {
    const db = tempDb();
    const run = startRun("exp", { db, tags: ["a"], notes: "first" }).start();
    const revision = (rows(db, "SELECT revision FROM runs")[0] as { revision: number }).revision;
    await run.setTags(["b", "c", "b"]);
    expect(rows(db, "SELECT tags FROM runs")).toEqual([{ tags: '["b","c"]' }]);
    await run.setNotes("second");
    expect(rows(db, "SELECT notes FROM runs")).toEqual([{ notes: "second" }]);
    expect((rows(db, "SELECT revision FROM runs")[0] as { revision: number }).revision).toBeGreaterThan(revision);
    expect([run.tags, run.notes]).toEqual([["b", "c"], "second"]);
    await run.setNotes(null);
    expect(rows(db, "SELECT notes FROM runs")).toEqual([{ notes: null }]);
    await run.finish();
  });

  it("keeps setTags before start for start to store", async () => {
    const db = tempDb();
    const run = startRun("exp", { db });
    await run.setTags(["early"]);
    await run.setNotes("early notes");
    run.start();
    await run.finish();
    expect(runRows(db).map((row) => [row.tags, row.notes])).toEqual([['["early"]', "early notes"]]);
  });

  it("warns about bad tags and keeps the old ones; strict mode throws", async () => {
    const db = tempDb();
    const run = startRun("exp", { db, tags: ["kept"] }).start();
    await run.setTags("nope" as unknown as string[]);
    expect(run.tags).toEqual(["kept"]);
    await run.finish();
    const strictRun = startRun("exp", { db, strict: true }).start();
    await expect(strictRun.setTags([1 as unknown as string])).rejects.toThrow(InvalidMetricError);
    await strictRun.finish();
  });

  it("exposes the run's fields as read-only getters", async () => {
    const db = tempDb();
    const run = startRun("exp", {
      db,
      name: "n",
      project: "p",
      group: "g",
      jobType: "train",
      tags: ["t"],
      notes: "x",
      config: { lr: 0.1 },
    }).start();
    expect({
      name: run.name,
      project: run.project,
      group: run.group,
      jobType: run.jobType,
      tags: run.tags,
      notes: run.notes,
      config: run.config,
    }).toEqual({ name: "n", project: "p", group: "g", jobType: "train", tags: ["t"], notes: "x", config: { lr: 0.1 } });
    expect(run.experimentId).toBe((rows(db, "SELECT id FROM experiments")[0] as { id: string }).id);
    expect(run.id).toBe((rows(db, "SELECT id FROM runs")[0] as { id: string }).id);
    run.logConfig({ batch: 32 });
    expect(run.config).toEqual({ lr: 0.1, batch: 32 });
    for (const field of ["id", "experimentId", "name", "project", "group", "jobType", "tags", "notes", "config"]) {
      expect(() => {
        (run as unknown as Record<string, unknown>)[field] = null;
      }).toThrow(TypeError);
    }
    expect(() => startRun("exp", { db }).experimentId).toThrow(StonksError);
    await run.finish();
  });
});
