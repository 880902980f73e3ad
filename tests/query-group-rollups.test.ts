// The grouped read's rollup path (docs/grouping.md, "Reading through rollups"; readGroupWindow in
// src/store/reads.ts), on a real file and on a real PostgreSQL, without timing: the raw point chunks that
// lie wholly inside the rolled-up spans are overwritten with other values straight in SQL. A window read
// through the rollups' sums answers as before; a window that the rule reads point by point (too few points
// per bucket, or a rollup row without sums) sees the overwritten points.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupAggregateJson } from "../src/contract/groups.js";
import { open } from "../src/query/database.js";
import type { GroupSeriesOptions } from "../src/query/group-aggregate.js";
import { openDatabase } from "../src/store/connection.js";
import { GROUP_SPANS_PER_BUCKET } from "../src/store/reads.js";
import { ROLLUP_LEVELS } from "../src/store/rollup.js";
import { CHUNK_POINTS } from "../src/store/writes.js";
import { backends } from "./support/backends.js";
import { populateRuns } from "./support/server-support.js";

/** Points per run, at steps 0 .. POINTS - 1 (one point per series index). */
const POINTS = 20_000;
/** Series indexes [first, end) of the chunks overwritten: whole chunks, away from both ends of the series. */
const OVERWRITTEN: [number, number] = [CHUNK_POINTS, 17 * CHUNK_POINTS];

/** Three runs of one group; values far from their steps, so points whose values became their steps differ. */
function writeRuns(target: string): string[] {
  return populateRuns(
    target,
    [0, 1, 2].map((seed) => ({
      name: `seed${seed}`,
      group: "g",
      status: "completed" as const,
      metrics: { loss: { count: POINTS, value: (step: number) => Math.sin(step / 700) + seed / 2 } },
    })),
  );
}

function groupSeries(target: string, ids: string[], options: GroupSeriesOptions): GroupAggregateJson {
  const db = open(target, { readonly: true });
  try {
    const { steps, mean, std, stderr, min, max, count, firstStep, lastStep } = db.getGroupSeries(ids, "loss", options);
    return { steps, mean, std, stderr, min, max, count, first_step: firstStep, last_step: lastStep };
  } finally {
    db.close();
  }
}

function execute(target: string, sql: string): void {
  const db = openDatabase(target);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/** Every run's points in OVERWRITTEN get their steps as values; steps, rollups and ends stay as written. */
function overwriteInteriorChunks(target: string): void {
  execute(
    target,
    `UPDATE chunks SET vals = steps WHERE start_index >= ${OVERWRITTEN[0]} AND start_index + count <= ${OVERWRITTEN[1]}`,
  );
}

/**
 * The series indexes [from, to) the rule reads as whole spans for a window of series indexes [first, end)
 * cut into `buckets` buckets, or null when it reads every point: spans of the coarsest level with
 * GROUP_SPANS_PER_BUCKET · 2^level · buckets <= points, the series's last span whole when the window runs
 * to the end.
 */
function spansRead(first: number, end: number, buckets: number): [number, number] | null {
  const level = [...ROLLUP_LEVELS].reverse().find((l) => GROUP_SPANS_PER_BUCKET * 2 ** l * buckets <= end - first);
  if (level === undefined) return null;
  const span = 2 ** level;
  return [Math.ceil(first / span) * span, end === POINTS ? POINTS : Math.floor(end / span) * span];
}

describe.each(backends())("grouped reads through rollups on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  // Whole window: 20,000 points at 8 buckets read spans of 256 (3 · 256 · 8 <= 20,000 < 3 · 1,024 · 8).
  // Zoomed to steps [1000, 18000]: 17,001 points, spans of 256 from index 1,024 to 17,920, raw points before
  // and after, in chunks that are not overwritten.
  const windows: { what: string; options: GroupSeriesOptions; indexes: [number, number] }[] = [
    { what: "the whole series", options: { buckets: 8 }, indexes: [0, POINTS] },
    { what: "a zoomed window", options: { buckets: 8, minStep: 1000, maxStep: 18_000 }, indexes: [1000, 18_001] },
  ];

  it.each(windows)("$what read through rollups answers from their sums, not the points inside them", (window) => {
    const spans = spansRead(window.indexes[0], window.indexes[1], window.options.buckets);
    expect(spans, "the rule reads this window through rollups").not.toBeNull();
    const [from, to] = spans ?? [0, 0];
    expect(from <= OVERWRITTEN[0] && OVERWRITTEN[1] <= to, "the overwritten chunks lie inside the spans read").toBe(
      true,
    );
    const target = backend.newTarget();
    const ids = writeRuns(target);
    const before = groupSeries(target, ids, window.options);
    expect(before.count).toEqual(Array(8).fill(3));
    overwriteInteriorChunks(target);
    expect(groupSeries(target, ids, window.options)).toEqual(before);
  });

  it("a window of fewer than 3 · 64 points per bucket reads the points themselves", () => {
    // 200 buckets of 100 points: under 3 spans of 64 per bucket, so every point is read.
    const options = { buckets: 200 };
    expect(spansRead(0, POINTS, options.buckets)).toBeNull();
    const target = backend.newTarget();
    const ids = writeRuns(target);
    const before = groupSeries(target, ids, options);
    overwriteInteriorChunks(target);
    const after = groupSeries(target, ids, options);
    expect(after.steps).toEqual(before.steps);
    expect(after.mean).not.toEqual(before.mean);
    // A bucket wholly inside the overwritten points has their steps as values in every run: mean = step.
    const width = (POINTS - 1) / options.buckets;
    let inside = 0;
    for (let b = 0; b < options.buckets; b++) {
      if (b * width < OVERWRITTEN[0] || (b + 1) * width > OVERWRITTEN[1] - 1) continue;
      inside++;
      expect(after.mean[b]).toBeCloseTo(after.steps[b], 9);
      expect(after.std[b]).toBeCloseTo(0, 9);
      expect(after.mean[b]).not.toBeCloseTo(before.mean[b], 3);
    }
    expect(inside).toBeGreaterThan(150);
  });

  it("a rollup row without sums (as written before schema 6) sends its run's window to the points", () => {
    const options = { buckets: 8 };
    const target = backend.newTarget();
    const ids = writeRuns(target);
    const before = groupSeries(target, ids, options);
    overwriteInteriorChunks(target);
    expect(groupSeries(target, ids, options)).toEqual(before);
    execute(
      target,
      `UPDATE rollups SET value_sum = NULL, step_sum = NULL
       WHERE level = 8 AND bucket = 40 AND series_id = (SELECT MIN(id) FROM series)`,
    );
    const after = groupSeries(target, ids, options);
    expect(after.count).toEqual(Array(8).fill(3));
    expect(after.mean).not.toEqual(before.mean);
    // The first run now counts its overwritten points, whose values (their steps) are far above the others'.
    expect(after.max[3]).toBeGreaterThan(1000);
    expect(before.max[3]).toBeLessThan(2);
  });
});
