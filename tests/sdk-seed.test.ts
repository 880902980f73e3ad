// The seed document (the Python SDK manual), sentence by sentence, in TypeScript's idiom.
import { describe, expect, it } from "vitest";
import { InvalidMetricError, open, startRun } from "../dist/index.js";
import { openConnection } from "../src/store/driver.js";
import { runFixture, tempDb, tempDir } from "./support/helpers.js";

function readRuns(db: string) {
  const q = open(db);
  try {
    return { experiments: q.listExperiments(), runs: q.listRuns() };
  } finally {
    q.close();
  }
}

describe("Starting a run", () => {
  it("creates the experiment on first use and adds later runs to it", async () => {
    const db = tempDb();
    await startRun("resnet-cifar10", { db }, (run) => run.log({ "train/loss": 1 }));
    await startRun("resnet-cifar10", { db }, (run) => run.log({ "train/loss": 2 }));
    await startRun("other", { db }, (run) => run.log({ "train/loss": 3 }));
    const { experiments, runs } = readRuns(db);
    expect(experiments.map((e) => [e.name, e.runCount])).toEqual([
      ["other", 1],
      ["resnet-cifar10", 2],
    ]);
    expect(runs).toHaveLength(3);
  });

  it("stores the config dictionary of hyperparameters", async () => {
    const db = tempDb();
    const id = await startRun(
      "exp",
      { db, config: { lr: 0.1, layers: [64, 64], opt: { name: "adam" } } },
      (run) => run.id,
    );
    const q = open(db);
    expect(q.getRun(id)?.config).toEqual({ lr: 0.1, layers: [64, 64], opt: { name: "adam" } });
    q.close();
  });

  it("shows the run name, and stores tags, group, job type and notes", async () => {
    const db = tempDb();
    const id = await startRun(
      "exp",
      { db, runName: "baseline", tags: ["a", "b", "a"], group: "sweep-1", jobType: "train", notes: "first try" },
      (run) => run.id,
    );
    const q = open(db);
    const run = q.getRun(id)!;
    expect([run.name, run.tags, run.group, run.jobType, run.notes]).toEqual([
      "baseline",
      ["a", "b"],
      "sweep-1",
      "train",
      "first try",
    ]);
    q.close();
  });

  it("records provenance: host, pid, command line, cwd, SDK language and version, git commit", async () => {
    const db = tempDb();
    const id = await startRun("exp", { db }, (run) => run.id);
    const q = open(db);
    const p = q.getRun(id)!.provenance;
    expect(p.pid).toBe(process.pid);
    expect(p.host).toBeTruthy();
    expect(p.command).toContain(process.argv[1]);
    expect(p.cwd).toBe(process.cwd());
    expect(p.sdkLanguage).toBe("typescript");
    expect(p.sdkVersion).toMatch(/^\d+\.\d+\.\d+/);
    // The tests run inside the stonks repository, so there is a commit to record.
    expect(p.gitCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(typeof p.gitDirty).toBe("boolean");
    q.close();
  });
});

describe("Logging metrics", () => {
  it("logs a dictionary of metric names and values at a step", async () => {
    const db = tempDb();
    const id = await startRun("exp", { db }, (run) => {
      run.log({ "train/loss": 0.45, "train/accuracy": 0.82 }, { step: 10 });
      return run.id;
    });
    const q = open(db);
    expect(q.getMetricKeys(id)).toEqual(["train/accuracy", "train/loss"]);
    const loss = q.getMetrics(id, "train/loss");
    expect([...loss.steps]).toEqual([10]);
    expect([...loss.values]).toEqual([0.45]);
    expect(loss.timestamps[0]).toBeGreaterThan(Date.now() / 1000 - 60);
    q.close();
  });

  it("keeps slash-separated namespaces in keys", async () => {
    const db = tempDb();
    const id = await startRun("exp", { db }, (run) => {
      run.log({ "train/loss": 1, "train/accuracy": 0.5, "val/loss": 2, "val/accuracy": 0.4 });
      return run.id;
    });
    const q = open(db);
    expect(q.getMetricKeys(id)).toEqual(["train/accuracy", "train/loss", "val/accuracy", "val/loss"]);
    q.close();
  });

  it("records explicit steps, and auto-increments from 0 when the step is omitted", async () => {
    const db = tempDb();
    const [explicit, auto] = await Promise.all([
      startRun("exp", { db }, (run) => {
        run.log({ loss: 0.5 }, { step: 0 });
        run.log({ loss: 0.3 }, { step: 1 });
        run.log({ loss: 0.2 }, { step: 7 });
        run.log({ loss: 0.1 });
        return run.id;
      }),
      startRun("exp", { db }, (run) => {
        run.log({ loss: 0.5 });
        run.log({ loss: 0.3 });
        run.log({ loss: 0.2 });
        return run.id;
      }),
    ]);
    const q = open(db);
    expect([...q.getMetrics(explicit, "loss").steps]).toEqual([0, 1, 7, 8]);
    expect([...q.getMetrics(auto, "loss").steps]).toEqual([0, 1, 2]);
    expect([...q.getMetrics(auto, "loss").values]).toEqual([0.5, 0.3, 0.2]);
    q.close();
  });

  it("accepts integers, booleans (as 0/1), bigints and Number objects", async () => {
    const db = tempDb();
    const id = await startRun("exp", { db, strict: true }, (run) => {
      run.log({ int: 3, bool: true, off: false, big: 12n, boxed: new Number(2.5) as unknown as number });
      return run.id;
    });
    const q = open(db);
    const values = Object.fromEntries(q.getMetricKeys(id).map((k) => [k, q.getMetrics(id, k).values[0]]));
    expect(values).toEqual({ int: 3, bool: 1, off: 0, big: 12, boxed: 2.5 });
    q.close();
  });
});

describe("Updating config after creation", () => {
  it("merges logConfig into the stored config, later keys winning", async () => {
    const db = tempDb();
    const id = await startRun("my-exp", { db, config: { lr: 0.1, batch: 32 } }, (run) => {
      run.logConfig({ lr: 0.01, optimizer: "adam" });
      run.logConfig({ early_stopped_at: 50 });
      return run.id;
    });
    const q = open(db);
    expect(q.getRun(id)?.config).toEqual({ lr: 0.01, batch: 32, optimizer: "adam", early_stopped_at: 50 });
    q.close();
  });
});

describe("Callback form (the context manager) vs manual lifecycle", () => {
  it("marks the run completed when the callback returns, and returns its value", async () => {
    const db = tempDb();
    let id = "";
    const result = await startRun("my-exp", { db }, (run) => {
      id = run.id;
      run.log({ loss: 0.5 });
      return 42;
    });
    expect(result).toBe(42);
    const q = open(db);
    expect(q.getRun(id)?.status).toBe("completed");
    expect(q.getRun(id)?.endedAt).toBeGreaterThan(0);
    q.close();
  });

  it("marks the run failed when the callback throws, and re-throws the error", async () => {
    const db = tempDb();
    let id = "";
    await expect(
      startRun("my-exp", { db }, async (run) => {
        id = run.id;
        run.log({ loss: 0.5 });
        throw new RangeError("diverged");
      }),
    ).rejects.toThrow(RangeError);
    const q = open(db);
    expect(q.getRun(id)?.status).toBe("failed");
    expect([...q.getMetrics(id, "loss").values]).toEqual([0.5]);
    q.close();
  });

  it("supports start() then finish(status) by hand", async () => {
    const db = tempDb();
    const run = startRun("my-exp", { db });
    expect(run.status).toBe("created");
    run.start();
    expect(run.status).toBe("running");
    const q = open(db);
    expect(q.getRun(run.id)?.status).toBe("running");
    run.log({ loss: 0.5 });
    await run.finish("failed");
    expect(run.status).toBe("failed");
    expect(q.getRun(run.id)?.status).toBe("failed");
    expect(q.getMetrics(run.id, "loss").values.length).toBe(1);
    q.close();
  });
});

describe("Error handling", () => {
  it("by default swallows a NaN with a warning and keeps the valid values of the call", async () => {
    const db = tempDb();
    const id = await startRun("my-exp", { db }, (run) => {
      run.log({ loss: Number.NaN, acc: 0.9 });
      return run.id;
    });
    const q = open(db);
    expect(q.getMetricKeys(id)).toEqual(["acc"]);
    q.close();
  });

  it("raises InvalidMetricError in strict mode", async () => {
    const db = tempDb();
    const run = startRun("my-exp", { db, strict: true }).start();
    expect(() => run.log({ loss: Number.NaN })).toThrow(InvalidMetricError);
    expect(() => run.log({ loss: Number.NEGATIVE_INFINITY })).toThrow(InvalidMetricError);
    expect(() => run.log({ loss: "0.5" as unknown as number })).toThrow(InvalidMetricError);
    expect(() => run.log({ "": 1 })).toThrow(InvalidMetricError);
    expect(() => run.log({ loss: 1 }, { step: -1 })).toThrow(InvalidMetricError);
    expect(() => run.log({ loss: 1 }, { step: 2.5 })).toThrow(InvalidMetricError);
    expect(() => run.log(null as unknown as Record<string, number>)).toThrow(InvalidMetricError);
    run.log({ loss: 1 });
    await run.finish();
    const q = open(db);
    expect([...q.getMetrics(run.id, "loss").values]).toEqual([1]);
    q.close();
  });

  it("warns once per key (not once per call) and keeps training going", async () => {
    const result = await runFixture("sdk-scenarios.mjs", { SCENARIO: "warnings", DB: tempDb() });
    expect(result.code).toBe(0);
    const lines = result.stderr.split("\n").filter((l) => l.startsWith("stonks warn"));
    expect(lines.filter((l) => l.includes('"nan"'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('"inf"'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('"text"'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("step must be"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("takes an object"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("non-empty"))).toHaveLength(1);
  });
});

/** Runs fn with STONKS_DB set to value (or unset), restoring it afterwards. */
async function withStonksDb<T>(value: string | undefined, fn: () => T | Promise<T>): Promise<T> {
  const saved = process.env.STONKS_DB;
  if (value === undefined) delete process.env.STONKS_DB;
  else process.env.STONKS_DB = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.STONKS_DB;
    else process.env.STONKS_DB = saved;
  }
}

describe("Database location", () => {
  it("uses the db option first, then STONKS_DB, then ./stonks.db", async () => {
    const cwd = tempDir();
    const fromEnv = tempDb("env.db");
    const viaEnv = await runFixture("sdk-scenarios.mjs", { SCENARIO: "default-path", STONKS_DB: fromEnv }, cwd);
    expect(viaEnv.code).toBe(0);
    expect(readRuns(fromEnv).runs).toHaveLength(1);

    const viaDefault = await runFixture("sdk-scenarios.mjs", { SCENARIO: "default-path", STONKS_DB: "" }, cwd);
    expect(viaDefault.code).toBe(0);
    expect(readRuns(`${cwd}/stonks.db`).runs).toHaveLength(1);

    const explicit = tempDb("explicit.db");
    await withStonksDb(fromEnv, () => startRun("paths", { db: explicit }, (run) => run.log({ x: 1 })));
    expect(readRuns(explicit).runs).toHaveLength(1);
    expect(readRuns(fromEnv).runs).toHaveLength(1);
  });

  it("opens the query API with the same rule", async () => {
    const fromEnv = tempDb("env.db");
    const explicit = tempDb("explicit.db");
    await startRun("env-exp", { db: fromEnv }, (run) => run.log({ x: 1 }));
    await startRun("explicit-exp", { db: explicit }, (run) => run.log({ x: 1 }));
    const names = (db: ReturnType<typeof open>) => {
      const list = db.listExperiments().map((e) => e.name);
      db.close();
      return list;
    };
    expect(await withStonksDb(fromEnv, () => names(open()))).toEqual(["env-exp"]);
    expect(await withStonksDb(fromEnv, () => names(open(explicit)))).toEqual(["explicit-exp"]);
    const cwd = process.cwd();
    process.chdir(tempDir());
    try {
      await withStonksDb(undefined, () => expect(() => open()).toThrow(/No stonks database at \.\/stonks\.db/));
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("Resuming", () => {
  it('continues "latest" and a run id, steps going on after the last one', async () => {
    const db = tempDb();
    const first = await startRun("exp", { db }, (run) => {
      run.log({ loss: 1 });
      run.log({ loss: 2 });
      return run.id;
    });
    const again = await startRun("exp", { db, resume: "latest", config: { phase: 2 } }, (run) => {
      run.log({ loss: 3 });
      return run.id;
    });
    expect(again).toBe(first);
    const byId = await startRun("exp", { db, resume: first }, (run) => {
      run.log({ loss: 4 }, { step: 10 });
      run.log({ loss: 5 });
      return run.id;
    });
    expect(byId).toBe(first);
    const q = open(db);
    const series = q.getMetrics(first, "loss");
    expect([...series.steps]).toEqual([0, 1, 2, 10, 11]);
    expect(q.getRun(first)?.status).toBe("completed");
    expect(q.getRun(first)?.config).toEqual({ phase: 2 });
    expect(q.listRuns()).toHaveLength(1);
    q.close();
  });

  it("refuses an unknown run id with a clear error in strict mode", () => {
    const db = tempDb();
    expect(() => startRun("exp", { db, resume: "no-such-run", strict: true }).start()).toThrow(/no such run/);
  });
});

describe("several runs in one process", () => {
  it("logs two runs at once, into one file and into two files, each point to its own run", async () => {
    const shared = tempDb();
    const other = tempDb("other.db");
    const a = startRun("multi", { db: shared, runName: "a" }).start();
    const b = startRun("multi", { db: shared, runName: "b" }).start();
    const c = startRun("elsewhere", { db: other, runName: "c" }).start();
    for (let step = 0; step < 500; step++) {
      a.log({ loss: step }, { step });
      b.log({ loss: -step }, { step });
      c.log({ loss: step * 2, extra: 1 }, { step });
    }
    await Promise.all([a.finish(), b.finish("failed"), c.finish()]);
    const q = open(shared);
    expect(
      q
        .listRuns()
        .map((r) => [r.name, r.status])
        .sort(),
    ).toEqual([
      ["a", "completed"],
      ["b", "failed"],
    ]);
    expect(q.getMetrics(a.id, "loss").values[499]).toBe(499);
    expect(q.getMetrics(b.id, "loss").values[499]).toBe(-499);
    expect(q.getMetricKeys(a.id)).toEqual(["loss"]);
    q.close();
    const q2 = open(other);
    expect(q2.getMetrics(c.id, "loss").values.length).toBe(500);
    expect(q2.getMetricKeys(c.id)).toEqual(["extra", "loss"]);
    q2.close();
  });
});

describe("a run deleted while it logs", () => {
  it("drops that run's new points and keeps writing the others (the writer is never stuck retrying)", async () => {
    const db = tempDb();
    const doomed = startRun("exp", { db, strict: true }).start();
    doomed.log({ loss: 1 });
    await doomed.flush();
    const raw = openConnection(db);
    raw.pragma("foreign_keys = ON");
    raw.prepare("DELETE FROM runs WHERE id = ?").run(doomed.id);
    raw.close();
    const other = startRun("exp", { db, strict: true }).start();
    doomed.log({ loss: 2 });
    other.log({ loss: 3 });
    await other.flush();
    await doomed.finish();
    const q = open(db);
    expect(q.listRuns().map((r) => r.id)).toEqual([other.id]);
    expect([...q.getMetrics(other.id, "loss").values]).toEqual([3]);
    q.close();
    await other.finish();
  });
});
