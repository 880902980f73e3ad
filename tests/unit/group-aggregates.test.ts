// The grouped aggregate (src/query/group-aggregate.ts) against a direct computation of the rule of
// docs/grouping.md, and StonksDatabase.getGroupSeries against the golden cases the Python reader wrote
// (tests/vectors/reads/group-aggregates.json, relative tolerance 1e-12 as the file says).
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { GroupAggregateJson } from "../../src/contract/groups.js";
import { NotFoundError } from "../../src/errors.js";
import { open } from "../../src/query/database.js";
import { aggregateGroup, type RunPoints } from "../../src/query/group-aggregate.js";
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

function expectAggregate(actual: GroupAggregateJson, expected: GroupAggregateJson): void {
  for (const column of ["steps", "mean", "std", "stderr", "min", "max"] as const) {
    expectClose(actual[column], expected[column], column);
  }
  expect(actual.count).toEqual(expected.count);
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
function directAggregate(runs: RunPoints[], buckets: number, lo: number, hi: number): GroupAggregateJson {
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
  const out: GroupAggregateJson = { steps: [], mean: [], std: [], stderr: [], min: [], max: [], count: [] };
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
  });

  it("no finite point anywhere gives empty columns", () => {
    const a = aggregateGroup(
      [
        { steps: [1, 2], values: [Number.NaN, Number.NaN] },
        { steps: [], values: [] },
      ],
      5,
    );
    expect(a).toEqual({ steps: [], mean: [], std: [], stderr: [], min: [], max: [], count: [] });
  });
});
