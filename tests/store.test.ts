// The storage layer: schema versioning, compact points, rollups and downsampled reads, on both backends
// (tests/support/backends.ts); what is about SQLite files themselves runs on SQLite only.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SchemaVersionError } from "../src/errors.js";
import { open } from "../src/query/database.js";
import { deleteRuns } from "../src/store/admin.js";
import { openDatabase, runImmediate, SCHEMA_VERSION } from "../src/store/connection.js";
import { openConnection } from "../src/store/driver.js";
import { PgDb } from "../src/store/pg/driver.js";
import { pgSchemaVersion } from "../src/store/pg/schema.js";
import { appendPoints, CHUNK_POINTS, ensureSeries, insertRun } from "../src/store/writes.js";
import { backends } from "./support/backends.js";
import { tempDb } from "./support/helpers.js";
import { PROVENANCE as provenance } from "./support/server-support.js";

function newRun(db: ReturnType<typeof openDatabase>, experiment = "exp") {
  return runImmediate(db, () =>
    insertRun(db, {
      experimentName: experiment,
      name: null,
      config: {},
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      now: 1_700_000_000,
      provenance,
    }),
  );
}

/** A deterministic pseudo-random sequence, so failures reproduce. */
function rng(start: number) {
  let s = start >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Points {
  steps: Float64Array;
  values: Float64Array;
  times: Float64Array;
}

function makeSeries(n: number, start: number, spikes: number[]): Points {
  const random = rng(start);
  const steps = new Float64Array(n);
  const values = new Float64Array(n);
  const times = new Float64Array(n);
  let v = 0;
  for (let i = 0; i < n; i++) {
    v += random() - 0.5;
    steps[i] = i * 2;
    values[i] = v;
    times[i] = 1_700_000_000 + i * 0.01;
  }
  for (const [j, at] of spikes.entries()) values[at] = j % 2 === 0 ? 1e6 + j : -1e6 - j;
  return { steps, values, times };
}

function appendInBatches(db: ReturnType<typeof openDatabase>, seriesId: number, p: Points, start: number) {
  const random = rng(start);
  for (let i = 0; i < p.values.length; ) {
    const size = Math.min(p.values.length - i, 1 + Math.floor(random() * 3000));
    runImmediate(db, () =>
      appendPoints(
        db,
        seriesId,
        p.steps.subarray(i, i + size),
        p.values.subarray(i, i + size),
        p.times.subarray(i, i + size),
      ),
    );
    i += size;
  }
}

function colorIndexes(db: ReturnType<typeof openDatabase>, experiment: string) {
  return db
    .prepare(
      "SELECT r.color_index FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE e.name = ? ORDER BY r.seq",
    )
    .pluck(true)
    .all(experiment) as (number | null)[];
}

describe.each(backends())("the store on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("schema", () => {
    it("deleting a run removes its points, chunks and rollups", () => {
      const path = backend.newTarget();
      const db = openDatabase(path);
      const run = newRun(db);
      const series = runImmediate(db, () => ensureSeries(db, run.seq, "loss"));
      const p = makeSeries(5000, 1, []);
      appendInBatches(db, series, p, 2);
      db.prepare("DELETE FROM runs WHERE seq = ?").run(run.seq);
      for (const table of ["series", "chunks", "rollups"]) {
        expect((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n).toBe(0);
      }
      db.close();
    });
  });

  describe("points", () => {
    it("reads back exactly what was appended in uneven batches, with chunks of at most 1,024 points", () => {
      const path = backend.newTarget();
      const db = openDatabase(path);
      const run = newRun(db);
      const series = runImmediate(db, () => ensureSeries(db, run.seq, "loss"));
      const p = makeSeries(50_000, 7, [10, 20_000]);
      appendInBatches(db, series, p, 3);
      const chunks = db
        .prepare("SELECT start_index, count FROM chunks WHERE series_id = ? ORDER BY start_index")
        .all(series) as { start_index: number; count: number }[];
      let expectedStart = 0;
      for (const chunk of chunks) {
        expect(chunk.start_index).toBe(expectedStart);
        expect(chunk.count).toBeLessThanOrEqual(CHUNK_POINTS);
        expectedStart += chunk.count;
      }
      expect(expectedStart).toBe(50_000);
      db.close();
      const q = open(path);
      const read = q.getMetrics(run.id, "loss");
      expect(read.steps).toEqual(p.steps);
      expect(read.values).toEqual(p.values);
      expect(read.timestamps).toEqual(p.times);
      expect(q.getSummaries(run.id)[0]).toMatchObject({ key: "loss", count: 50_000, max: 1e6, lastStep: 99_998 });
      q.close();
    });

    it("maintains the same rollup rows whether points arrive in one batch or thousands", () => {
      const path = backend.newTarget();
      const db = openDatabase(path);
      const run = newRun(db);
      const [a, b] = runImmediate(db, () => [ensureSeries(db, run.seq, "a"), ensureSeries(db, run.seq, "b")]);
      const p = makeSeries(70_000, 11, [5, 64, 1023, 1024, 16_383, 40_000]);
      // Equal values make ties, which must resolve to the earlier point.
      p.values.fill(0.5, 30_000, 31_000);
      runImmediate(db, () => appendPoints(db, a, p.steps, p.values, p.times));
      appendInBatches(db, b, p, 5);
      const rows = (id: number) =>
        db
          .prepare(
            "SELECT level, bucket, count, first_step, last_step, min_value, min_step, min_time, max_value, max_step, max_time FROM rollups WHERE series_id = ? ORDER BY level, bucket",
          )
          .all(id);
      const whole = rows(a);
      expect(whole.length).toBe([64, 256, 1024, 4096, 16_384].reduce((sum, span) => sum + Math.ceil(70_000 / span), 0));
      expect(rows(b)).toEqual(whole);
      db.close();
    });

    it("returns out-of-order steps sorted by step, keeping logging order for equal steps", () => {
      const path = backend.newTarget();
      const db = openDatabase(path);
      const run = newRun(db);
      const series = runImmediate(db, () => ensureSeries(db, run.seq, "loss"));
      const steps = Float64Array.of(5, 3, 4, 3);
      runImmediate(db, () =>
        appendPoints(db, series, steps, Float64Array.of(50, 30, 40, 31), Float64Array.of(1, 2, 3, 4)),
      );
      db.close();
      const q = open(path);
      const read = q.getMetrics(run.id, "loss");
      expect([...read.steps]).toEqual([3, 3, 4, 5]);
      expect([...read.values]).toEqual([30, 31, 40, 50]);
      const down = q.getSeries([{ runId: run.id, key: "loss" }], { maxPoints: 2 })[0];
      expect(down.downsampled).toBe(true);
      expect([...down.values].sort()).toEqual([30, 50]);
      q.close();
    });
  });

  describe("downsampled reads", () => {
    const n = 300_000;
    const spikes = [3, 777, 65_536, 123_457, 200_001, 299_998];
    let path: string;
    let setup: { runId: string; p: Points; stepToValue: Map<number, number> };
    beforeAll(() => {
      path = backend.newTarget();
      const db = openDatabase(path);
      const run = newRun(db);
      const series = runImmediate(db, () => ensureSeries(db, run.seq, "train/loss"));
      const p = makeSeries(n, 42, spikes);
      appendInBatches(db, series, p, 9);
      db.close();
      const stepToValue = new Map<number, number>();
      for (let i = 0; i < n; i++) stepToValue.set(p.steps[i], p.values[i]);
      setup = { runId: run.id, p, stepToValue };
    });

    function check(maxPoints: number, minStep?: number, maxStep?: number) {
      const q = open(path);
      const [series] = q.getSeries([{ runId: setup.runId, key: "train/loss" }], { maxPoints, minStep, maxStep });
      q.close();
      return series;
    }

    it("keeps every spike and returns about the points asked for, all real points in step order", () => {
      const series = check(1000);
      expect(series.downsampled).toBe(true);
      expect(series.totalPoints).toBe(n);
      expect(series.values.length).toBeGreaterThan(500);
      expect(series.values.length).toBeLessThanOrEqual(1000);
      for (let i = 1; i < series.steps.length; i++) expect(series.steps[i]).toBeGreaterThanOrEqual(series.steps[i - 1]);
      for (let i = 0; i < series.steps.length; i++) {
        expect(setup.stepToValue.get(series.steps[i])).toBe(series.values[i]);
      }
      for (const at of spikes) expect(series.steps).toContain(setup.p.steps[at]);
    });

    it("re-buckets a zoomed step range at full detail", () => {
      const minStep = 2 * 60_000;
      const maxStep = 2 * 140_000;
      const series = check(400, minStep, maxStep);
      expect(series.totalPoints).toBe(80_001);
      // The nearest point outside the range on each side, then only points inside.
      expect(series.steps[0]).toBe(minStep - 2);
      expect(series.steps[series.steps.length - 1]).toBe(maxStep + 2);
      for (const step of series.steps.subarray(1, -1)) {
        expect(step).toBeGreaterThanOrEqual(minStep);
        expect(step).toBeLessThanOrEqual(maxStep);
      }
      expect(series.steps).toContain(setup.p.steps[65_536]);
      expect(series.steps).toContain(setup.p.steps[123_457]);
      expect(series.steps).not.toContain(setup.p.steps[200_001]);
    });

    it("reads several series in one call, in the order asked, empty for a key never logged", () => {
      const q = open(path);
      const [loss, missing, again] = q.getSeries(
        [
          { runId: setup.runId, key: "train/loss" },
          { runId: setup.runId, key: "never/logged" },
          { runId: setup.runId, key: "train/loss" },
        ],
        { maxPoints: 100, minStep: 0, maxStep: 2 * 49 },
      );
      q.close();
      // Nothing before step 0; the first point after the range comes too.
      expect([...loss.steps]).toEqual(Array.from(setup.p.steps.subarray(0, 51)));
      expect([missing.key, missing.totalPoints, missing.values.length]).toEqual(["never/logged", 0, 0]);
      expect(again.values).toEqual(loss.values);
    });

    it("returns every point when the range holds fewer than asked for", () => {
      const series = check(1000, 2 * 1000, 2 * 1500);
      expect(series.downsampled).toBe(false);
      expect(series.totalPoints).toBe(501);
      expect([...series.steps]).toEqual(Array.from(setup.p.steps.subarray(999, 1502)));
      expect([...series.values]).toEqual(Array.from(setup.p.values.subarray(999, 1502)));
    });

    it("brings the nearest point beyond each edge, so a window with one point or none still has a line", () => {
      const one = check(1000, 2 * 700 - 1, 2 * 700 + 1);
      expect([one.totalPoints, ...one.steps]).toEqual([1, 2 * 699, 2 * 700, 2 * 701]);
      const none = check(1000, 2 * 700 + 0.5, 2 * 700 + 1.5);
      expect([none.totalPoints, ...none.steps]).toEqual([0, 2 * 700, 2 * 701]);
      expect([...none.values]).toEqual([setup.p.values[700], setup.p.values[701]]);
      const pastTheEnd = check(1000, 2 * n, 2 * n + 10);
      expect([pastTheEnd.totalPoints, ...pastTheEnd.steps]).toEqual([0, 2 * (n - 1)]);
    });

    it("finds each bucket's extremes exactly as a full scan would", () => {
      // With 2^k buckets over an aligned range the rollup path must agree with brute force.
      const series = check(2 * 256, 0, 2 * (262_144 - 1));
      const span = 262_144 / 256;
      const expected: number[] = [];
      for (let b = 0; b < 256; b++) {
        let min = b * span;
        let max = b * span;
        for (let i = b * span; i < (b + 1) * span; i++) {
          if (setup.p.values[i] < setup.p.values[min]) min = i;
          if (setup.p.values[i] > setup.p.values[max]) max = i;
        }
        for (const i of min <= max ? [min, max] : [max, min])
          if (expected.at(-1) !== setup.p.steps[i]) expected.push(setup.p.steps[i]);
      }
      // After the buckets, the first point past the range (the line goes on to the edge).
      expected.push(setup.p.steps[262_144]);
      expect([...series.steps]).toEqual(expected);
    });
  });

  describe("run colours (runs.color_index)", () => {
    it("gives 14 runs created in one experiment 14 different palette indexes, other experiments' runs in between", () => {
      const db = openDatabase(backend.newTarget());
      for (let i = 0; i < 14; i++) {
        newRun(db, "a");
        newRun(db, "b");
        if (i % 3 === 0) newRun(db, "b");
      }
      const a = colorIndexes(db, "a");
      expect(a).toEqual(Array.from({ length: 14 }, (_, i) => i));
      expect(new Set(colorIndexes(db, "b").slice(-14)).size).toBe(14);
      // The 15th takes the index the 13 newest leave free: the oldest run's.
      newRun(db, "a");
      expect(colorIndexes(db, "a").at(-1)).toBe(0);
      db.close();
    });

    it("never changes a run's index when runs are deleted, and a new run takes the lowest index left free", () => {
      const db = openDatabase(backend.newTarget());
      const runs = Array.from({ length: 6 }, () => newRun(db, "a"));
      const indexOf = (id: string) => db.prepare("SELECT color_index FROM runs WHERE id = ?").pluck(true).get(id);
      const before = runs.map((r) => indexOf(r.id));
      expect(before).toEqual([0, 1, 2, 3, 4, 5]);
      expect(deleteRuns(db, [runs[0].id, runs[2].id])).toBe(2);
      for (const [i, run] of runs.entries()) if (i !== 0 && i !== 2) expect(indexOf(run.id)).toBe(before[i]);
      expect(indexOf(newRun(db, "a").id)).toBe(0);
      expect(indexOf(newRun(db, "a").id)).toBe(2);
      expect(indexOf(newRun(db, "a").id)).toBe(6);
      for (const [i, run] of runs.entries()) if (i !== 0 && i !== 2) expect(indexOf(run.id)).toBe(before[i]);
      db.close();
    });
  });
});

describe("SQLite files (SQLite only)", () => {
  it("creates a new file at the current version, in WAL mode with foreign keys on", () => {
    const path = tempDb();
    const db = openDatabase(path);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.pragma("busy_timeout", { simple: true })).toBeGreaterThanOrEqual(1000);
    db.close();
  });

  it("refuses a file from a newer version with a clear error and leaves it untouched", () => {
    const path = tempDb();
    openDatabase(path).close();
    const raw = openConnection(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.pragma("journal_mode = DELETE");
    raw.close();
    const before = createHash("sha256").update(readFileSync(path)).digest("hex");
    expect(() => openDatabase(path)).toThrow(SchemaVersionError);
    expect(() => openDatabase(path)).toThrow(/newer than this stonks understands.*Upgrade stonks/);
    expect(() => open(path)).toThrow(SchemaVersionError);
    expect(createHash("sha256").update(readFileSync(path)).digest("hex")).toBe(before);
  });

  it("refuses a SQLite file that is not a stonks database", () => {
    const path = tempDb();
    const raw = openConnection(path);
    raw.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
    raw.close();
    expect(() => openDatabase(path)).toThrow(/not a stonks database/);
  });

  it("refuses a file that is not SQLite at all", () => {
    const junk = tempDb("junk.db");
    writeFileSync(junk, "this is not a database, just text ".repeat(100));
    expect(() => openDatabase(junk)).toThrow(/not a SQLite database|file is not a database|Cannot open/);
  });

  it("leaves runs from before schema version 3 without an index, and new runs avoid their colours (seq mod 14)", () => {
    const path = tempDb();
    const raw = openConnection(path);
    for (const version of [1, 2]) {
      const name = version === 1 ? "0001_initial.sql" : "0002_workspaces.sql";
      raw.exec(readFileSync(new URL(`../src/store/migrations/${name}`, import.meta.url), "utf8"));
      raw.pragma(`user_version = ${version}`);
    }
    raw.exec("INSERT INTO experiments (id, name, created_at) VALUES ('e', 'a', 0)");
    // Database numbers 1 and 2: palette colours 1 and 2 by the old rule.
    for (const id of ["old-1", "old-2"]) {
      raw.prepare("INSERT INTO runs (id, experiment_id, status, created_at) VALUES (?, 'e', 'completed', 0)").run(id);
    }
    raw.close();
    const db = openDatabase(path);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(colorIndexes(db, "a")).toEqual([null, null]);
    newRun(db, "a");
    newRun(db, "a");
    expect(colorIndexes(db, "a")).toEqual([null, null, 0, 3]);
    db.close();
  });
});

// The PostgreSQL counterpart of the newer-file test above: the version lives in a table there.
for (const backend of backends().filter((b) => b.name === "postgres")) {
  describe("PostgreSQL databases (PostgreSQL only)", () => {
    beforeAll(() => backend.start());
    afterAll(() => backend.stop());

    it("refuses a database from a newer schema version with a clear error and leaves it untouched", () => {
      const url = backend.newTarget();
      openDatabase(url).close();
      const raw = new PgDb(url);
      try {
        raw.prepare("INSERT INTO stonks_schema (version) VALUES (?)").run(pgSchemaVersion() + 1);
        const versions = raw.prepare("SELECT version FROM stonks_schema ORDER BY version").pluck(true);
        const before = versions.all();
        expect(() => openDatabase(url)).toThrow(SchemaVersionError);
        expect(() => openDatabase(url)).toThrow(/newer than this stonks understands.*Upgrade stonks/);
        expect(() => open(url)).toThrow(SchemaVersionError);
        expect(versions.all()).toEqual(before);
      } finally {
        raw.close();
      }
    });
  });
}
