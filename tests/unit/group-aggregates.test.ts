// The grouped aggregate (src/query/group-aggregate.ts) against a direct computation of the rule of
// docs/grouping.md, and StonksDatabase.getGroupSeries against the golden cases the Python reader wrote
// (tests/vectors/reads/group-aggregates.json, relative tolerance 1e-12 as the file says).
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { GroupAggregateJson } from "../../src/contract/groups.js";
import { NotFoundError } from "../../src/errors.js";
import { open } from "../../src/query/database.js";
import { aggregateGroup, type GroupSeries, type RunPoints } from "../../src/query/group-aggregate.js";
import { type Db, openDatabase, runImmediate } from "../../src/store/connection.js";
import { GROUP_SPANS_PER_BUCKET } from "../../src/store/reads.js";
import { ROLLUP_LEVELS } from "../../src/store/rollup.js";
import { appendPoints, ensureSeries, insertRun, type StartedRun } from "../../src/store/writes.js";
import { UNKNOWN_PROVENANCE } from "../../src/types.js";
import { ROOT, tempDir } from "../support/helpers.js";

interface GoldenCase {
  why: string;
  runs: string[];
  key: string;
  max_points: number;
  min_step: number | null;
  max_step: number | null;
  expect: GroupAggregateJson;
}

const golden = JSON.parse(readFileSync(join(ROOT, "tests", "vectors", "reads", "group-aggregates.json"), "utf8")) as {
  file: string;
  groups: GoldenCase[];
};

function expectClose(actual: readonly number[], expected: readonly number[], what: string): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    const scale = Math.max(Math.abs(a), Math.abs(e));
    expect(Math.abs(a - e) <= 1e-12 * scale, `${what}[${i}]: ${a} vs ${e}`).toBe(true);
  });
}

/** The reader's series against an aggregate as the wire writes it. */
function expectAggregate(actual: GroupSeries, expected: GroupAggregateJson): void {
  for (const column of ["steps", "mean", "std", "stderr", "min", "max"] as const) {
    expectClose(actual[column], expected[column], column);
  }
  expect(actual.count).toEqual(expected.count);
  expect([actual.firstStep, actual.lastStep], "first and last step").toEqual([expected.first_step, expected.last_step]);
}

/** An aggregate's columns, empty. */
function noBuckets(): Omit<GroupAggregateJson, "first_step" | "last_step"> {
  return { steps: [], mean: [], std: [], stderr: [], min: [], max: [], count: [] };
}

/** The smallest and largest step with a finite value over every run, as the aggregate reports them. */
function finiteEnds(runs: readonly RunPoints[]): Pick<GroupAggregateJson, "first_step" | "last_step"> {
  const steps = runs.flatMap((r) => Array.from(r.steps).filter((_, i) => Number.isFinite(r.values[i])));
  return steps.length === 0
    ? { first_step: null, last_step: null }
    : { first_step: Math.min(...steps), last_step: Math.max(...steps) };
}

describe("golden grouped aggregates (written by the Python reader)", () => {
  const copy = join(tempDir(), "fixture.db");
  copyFileSync(join(ROOT, "tests", "vectors", "reads", golden.file), copy);
  const db = open(copy);
  afterAll(() => db.close());

  it.each(golden.groups.map((g) => [`${g.runs.join(",")} ${g.key}: ${g.why}`, g] as const))("%s", (_name, g) => {
    const series = db.getGroupSeries(g.runs, g.key, {
      buckets: g.max_points,
      minStep: g.min_step ?? undefined,
      maxStep: g.max_step ?? undefined,
    });
    expectAggregate(series, g.expect);
    expect(series.runIds).toEqual(g.runs);
  });

  it("an unknown run id is a NotFoundError", () => {
    expect(() => db.getGroupSeries(["ds-a", "no-such-run"], "loss", { buckets: 4 })).toThrow(NotFoundError);
  });
});

/** The rule written out plainly: collect, per bucket, each run's mean; then the statistics. */
function directAggregate(runs: readonly RunPoints[], buckets: number, lo: number, hi: number): GroupAggregateJson {
  const width = (hi - lo) / buckets;
  const cells = new Map<number, { step: number; value: number }[]>();
  for (const run of runs) {
    const perBucket = new Map<number, { steps: number[]; values: number[] }>();
    for (let i = 0; i < run.values.length; i++) {
      if (!Number.isFinite(run.values[i])) continue;
      const b = width <= 0 ? 0 : Math.min(buckets - 1, Math.floor((run.steps[i] - lo) / width));
      const entry = perBucket.get(b) ?? { steps: [], values: [] };
      entry.steps.push(run.steps[i]);
      entry.values.push(run.values[i]);
      perBucket.set(b, entry);
    }
    for (const [b, { steps, values }] of perBucket) {
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      const cell = cells.get(b) ?? [];
      cell.push({ step: mean(steps), value: mean(values) });
      cells.set(b, cell);
    }
  }
  const out: GroupAggregateJson = { ...noBuckets(), ...finiteEnds(runs) };
  for (const b of [...cells.keys()].sort((x, y) => x - y)) {
    const cell = cells.get(b) ?? [];
    const values = cell.map((c) => c.value);
    const n = values.length;
    const mean = values.reduce((s, v) => s + v, 0) / n;
    const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) * (v - mean), 0) / (n - 1)) : 0;
    out.steps.push(cell.reduce((s, c) => s + c.step, 0) / n);
    out.mean.push(mean);
    out.std.push(std);
    out.stderr.push(std / Math.sqrt(n));
    out.min.push(Math.min(...values));
    out.max.push(Math.max(...values));
    out.count.push(n);
  }
  return out;
}

/** A deterministic pseudo-random sequence (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("aggregateGroup against a direct computation", () => {
  it("three runs at v-1, v, v+1 give mean v and std 1 in every bucket", () => {
    const steps = Array.from({ length: 100 }, (_, i) => i);
    const v = (s: number) => 10 + s / 10;
    const runs = [-1, 0, 1].map((d) => ({ steps, values: steps.map((s) => v(s) + d) }));
    const a = aggregateGroup(runs, 10);
    expect(a.count).toEqual(Array(10).fill(3));
    for (const [b, m] of a.mean.entries()) {
      expect(m).toBeCloseTo(v(a.steps[b]), 12);
      expect(a.std[b]).toBeCloseTo(1, 12);
      expect(a.stderr[b]).toBeCloseTo(1 / Math.sqrt(3), 12);
      expect(a.min[b]).toBeCloseTo(m - 1, 12);
      expect(a.max[b]).toBeCloseTo(m + 1, 12);
    }
  });

  it.each([1, 2, 3, 4, 5])("random runs of different lengths with gaps and NaN (seed %i)", (seed) => {
    const next = random(seed);
    const runs: RunPoints[] = Array.from({ length: 2 + Math.floor(next() * 6) }, () => {
      const steps: number[] = [];
      const values: number[] = [];
      let step = Math.floor(next() * 50);
      const n = Math.floor(next() * 400);
      for (let i = 0; i < n; i++) {
        step += 1 + Math.floor(next() * (next() < 0.05 ? 80 : 4));
        steps.push(step);
        values.push(next() < 0.03 ? Number.NaN : next() < 0.01 ? Number.POSITIVE_INFINITY : next() * 10 - 5);
      }
      return { steps, values };
    });
    const buckets = 1 + Math.floor(next() * 60);
    const finite = runs.flatMap((r) => Array.from(r.steps).filter((_, i) => Number.isFinite(r.values[i])));
    const lo = Math.min(...finite);
    const hi = Math.max(...finite);
    const actual = aggregateGroup(runs, buckets);
    const expected = directAggregate(runs, buckets, lo, hi);
    expect(actual).toEqual(expected);
    expect(actual.count.some((c) => c < runs.length)).toBe(true);
  });

  it("a window narrower than the data: runs cut to it, buckets over the window", () => {
    const runs = [
      { steps: [10, 11, 12, 13], values: [1, 2, 3, 4] },
      { steps: [12, 13], values: [5, 6] },
    ];
    const a = aggregateGroup(runs, 2, 10, 14);
    expect(a).toEqual(directAggregate(runs, 2, 10, 14));
    expect(a.count).toEqual([1, 2]);
    expect(a.mean).toEqual([1.5, (3.5 + 5.5) / 2]);
    // Where the data ends, not where the window does.
    expect([a.first_step, a.last_step]).toEqual([10, 13]);
  });

  it("the first and last step are the data's ends, not the first and last bucket's mean step", () => {
    const steps = Array.from({ length: 100 }, (_, i) => i);
    const values = steps.map((s) => (s === 0 || s === 99 ? Number.NaN : s));
    const a = aggregateGroup(
      [
        { steps, values },
        { steps: [2, 50], values: [1, 1] },
      ],
      10,
    );
    expect(a.steps[0]).toBeGreaterThan(3);
    expect([a.first_step, a.last_step]).toEqual([1, 98]);
  });

  it("no finite point anywhere gives empty columns", () => {
    const a = aggregateGroup(
      [
        { steps: [1, 2], values: [Number.NaN, Number.NaN] },
        { steps: [], values: [] },
      ],
      5,
    );
    expect(a).toEqual({ ...noBuckets(), first_step: null, last_step: null });
  });
});

/**
 * The step each point of a window [first, end) of a monotonic series is bucketed by (docs/grouping.md): its
 * own, or, when the window is read through rollups of level L and the point's whole span of 2^L points lies
 * inside the window, its span's mean step.
 */
function bucketingSteps(steps: Float64Array, first: number, end: number, buckets: number): number[] {
  const level = [...ROLLUP_LEVELS].reverse().find((l) => GROUP_SPANS_PER_BUCKET * 2 ** l * buckets <= end - first);
  const own = Array.from(steps.subarray(first, end));
  if (level === undefined) return own;
  const span = 2 ** level;
  return own.map((step, j) => {
    const start = Math.floor((first + j) / span) * span;
    const stop = Math.min(start + span, steps.length);
    if (start < first || stop > end) return step;
    return steps.subarray(start, stop).reduce((s, x) => s + x, 0) / (stop - start);
  });
}

/** The rule with rollups written out plainly over every raw point: points bucketed by bucketingSteps. */
function directWithSpans(
  all: { steps: Float64Array; values: Float64Array }[],
  buckets: number,
  lo = -Infinity,
  hi = Infinity,
): GroupAggregateJson {
  const windows = all.map(({ steps, values }) => {
    let first = 0;
    while (first < steps.length && steps[first] < lo) first++;
    let end = first;
    while (end < steps.length && steps[end] <= hi) end++;
    return {
      steps: Array.from(steps.subarray(first, end)),
      values: Array.from(values.subarray(first, end)),
      at: bucketingSteps(steps, first, end, buckets),
    };
  });
  const every = windows.flatMap((w) => w.steps);
  const low = lo === -Infinity ? Math.min(...every) : lo;
  const high = hi === Infinity ? Math.max(...every) : hi;
  const width = (high - low) / buckets;
  // Moving each point to its bucketing step puts it in the same bucket as the rule; its own step stays in the mean.
  const runs = windows.map((w) => {
    const inBucket = w.at.map((a) => low + (Math.min(buckets - 1, Math.floor((a - low) / width)) + 0.5) * width);
    return { steps: inBucket, values: w.values, own: w.steps };
  });
  const shape = directAggregate(runs, buckets, low, high);
  const exactSteps = directAggregate(
    runs.map((r) => ({ steps: r.steps, values: r.own })),
    buckets,
    low,
    high,
  );
  return {
    ...shape,
    steps: exactSteps.mean,
    ...finiteEnds(windows.map((w) => ({ steps: w.steps, values: w.values }))),
  };
}

/** A run with nothing but its experiment and name, created at time 1 (in a transaction of the caller). */
function insertBareRun(store: Db, experimentName: string, name: string): StartedRun {
  return insertRun(store, {
    experimentName,
    name,
    config: {},
    tags: [],
    group: null,
    jobType: null,
    notes: null,
    now: 1,
    provenance: { ...UNKNOWN_PROVENANCE, sdkLanguage: "node", sdkVersion: "0" },
  });
}

describe("getGroupSeries through rollups against a direct computation", () => {
  const path = join(tempDir(), "rollup-groups.db");
  const next = random(42);
  const lengths = [20_000, 13_000, 7_777, 2_000];
  const written: { id: string; steps: Float64Array; values: Float64Array }[] = [];
  const store = openDatabase(path);
  for (const [r, n] of lengths.entries()) {
    runImmediate(store, () => {
      const run = insertBareRun(store, "spans", `r${r}`);
      const steps = new Float64Array(n);
      const values = new Float64Array(n);
      let step = 3 * r;
      for (let i = 0; i < n; i++) {
        step += 1 + Math.floor(next() * 3);
        steps[i] = step;
        values[i] = Math.sin(step / 500) + next();
      }
      const series = ensureSeries(store, run.seq, "loss");
      // Uneven appends, so spans are merged across flushes as an SDK writes them.
      for (let at = 0; at < n; ) {
        const end = Math.min(n, at + 1 + Math.floor(next() * 3000));
        appendPoints(store, series, steps.subarray(at, end), values.subarray(at, end), steps.subarray(at, end));
        at = end;
      }
      written.push({ id: run.id, steps, values });
    });
  }
  store.close();
  const db = open(path);
  afterAll(() => db.close());
  const ids = written.map((w) => w.id);

  it.each([
    [8, undefined, undefined],
    [20, undefined, undefined],
    [5, 1_234.5, 30_001],
    [3, 10_000, undefined],
  ])("%i buckets over [%s, %s]", (buckets, minStep, maxStep) => {
    const actual = db.getGroupSeries(ids, "loss", { buckets, minStep, maxStep });
    const spans = directWithSpans(written, buckets, minStep, maxStep);
    expectAggregate(actual, spans);
    // The spans rule is not the points rule: the rollups were read.
    const exact = directAggregate(
      written,
      buckets,
      minStep ?? Math.min(...written.map((w) => w.steps[0])),
      maxStep ?? Math.max(...written.map((w) => w.steps[w.steps.length - 1])),
    );
    expect(actual.mean).not.toEqual(exact.mean);
  });

  it("a file whose rollups have no sums (written before schema 6) gives the mean of the points", () => {
    const copy = join(tempDir(), "old-rollups.db");
    copyFileSync(path, copy);
    const raw = openDatabase(copy);
    raw.exec("UPDATE rollups SET value_sum = NULL, step_sum = NULL WHERE bucket % 7 = 3");
    raw.close();
    const old = open(copy);
    try {
      const lo = Math.min(...written.map((w) => w.steps[0]));
      const hi = Math.max(...written.map((w) => w.steps[w.steps.length - 1]));
      expectAggregate(old.getGroupSeries(ids, "loss", { buckets: 8 }), directAggregate(written, 8, lo, hi));
    } finally {
      old.close();
    }
  });

  // At 8 buckets each run is read at level 6 or 8.
  it.each([
    ["a whole span", "bucket = 3"],
    [
      "the series's last span",
      "bucket = (SELECT MAX(r.bucket) FROM rollups r WHERE r.series_id = rollups.series_id AND r.level = rollups.level)",
    ],
  ])("rollup rows whose counts are not those of spans by index are read with the counts they hold: %s", (_, which) => {
    const copy = join(tempDir(), "odd-counts.db");
    copyFileSync(path, copy);
    const raw = openDatabase(copy);
    raw.exec(`UPDATE rollups SET count = count + 5 WHERE level IN (6, 8) AND ${which}`);
    const buckets = 8;
    const asStored = written.map(({ id, steps }) => {
      const level = [...ROLLUP_LEVELS].reverse().find((l) => GROUP_SPANS_PER_BUCKET * 2 ** l * buckets <= steps.length);
      const rows = raw
        .prepare(
          `SELECT r.count, r.value_sum, r.step_sum, r.first_step, r.last_step FROM rollups r
           JOIN series s ON s.id = r.series_id JOIN runs u ON u.seq = s.run_seq
           WHERE u.id = ? AND r.level = ? ORDER BY r.bucket`,
        )
        .raw(true)
        .all(id, level) as number[][];
      return {
        counts: Float64Array.from(rows, (r) => r[0]),
        valueSums: Float64Array.from(rows, (r) => r[1]),
        stepSums: Float64Array.from(rows, (r) => r[2]),
        extent: [rows[0][3], rows[rows.length - 1][4]] as [number, number],
      };
    });
    raw.close();
    const odd = open(copy);
    try {
      const actual = odd.getGroupSeries(ids, "loss", { buckets });
      const { first_step, last_step, ...columns } = aggregateGroup(asStored, buckets);
      expect(actual).toEqual({
        ...columns,
        firstStep: first_step,
        lastStep: last_step,
        key: "loss",
        runIds: ids,
        runsWithKey: 4,
      });
      expect(actual.mean).not.toEqual(db.getGroupSeries(ids, "loss", { buckets }).mean);
    } finally {
      odd.close();
    }
  });

  it("a straight line stays on the line through rollups: each (step, mean) pair is on it", () => {
    const path2 = join(tempDir(), "line.db");
    const s = openDatabase(path2);
    let id = "";
    runImmediate(s, () => {
      const run = insertBareRun(s, "line", "l");
      const steps = Float64Array.from({ length: 50_000 }, (_, i) => 2 * i + (i % 3));
      appendPoints(
        s,
        ensureSeries(s, run.seq, "x"),
        steps,
        steps.map((x) => 0.25 * x + 7),
        steps,
      );
      id = run.id;
    });
    s.close();
    const line = open(path2);
    try {
      const a = line.getGroupSeries([id], "x", { buckets: 30 });
      expect(a.count).toEqual(Array(30).fill(1));
      for (const [b, step] of a.steps.entries()) {
        expect(Math.abs(a.mean[b] - (0.25 * step + 7))).toBeLessThan(1e-9 * a.mean[b]);
      }
    } finally {
      line.close();
    }
  });
});
