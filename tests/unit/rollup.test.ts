/** Bucketing of points into rollup rows, against a direct computation over the same points. */
import { describe, expect, it } from "vitest";
import { coarsen, mergeRollup, ROLLUP_LEVELS, type RollupRow, rollupPoints } from "../../src/store/rollup.js";

/** Deterministic points with ties and a trend, so min/max positions move around. */
function points(n: number, start = 0) {
  const steps = Float64Array.from({ length: n }, (_, i) => (start + i) * 2);
  const values = Float64Array.from({ length: n }, (_, i) => Math.round(Math.sin((start + i) * 0.37) * 8) / 2);
  const times = Float64Array.from({ length: n }, (_, i) => 1_000 + start + i);
  return { steps, values, times };
}

/**
 * The rows a reader would expect: for each bucket of 2^level indices, its first/last step, the first min and max,
 * and the sums of its values and steps added left to right.
 */
function direct(level: number, startIndex: number, p: ReturnType<typeof points>): RollupRow[] {
  const rows = new Map<number, RollupRow>();
  for (let i = 0; i < p.values.length; i++) {
    const bucket = Math.floor((startIndex + i) / 2 ** level);
    const row = rows.get(bucket);
    const v = p.values[i];
    if (row === undefined) {
      rows.set(bucket, {
        bucket,
        count: 1,
        firstStep: p.steps[i],
        lastStep: p.steps[i],
        minValue: v,
        minStep: p.steps[i],
        minTime: p.times[i],
        maxValue: v,
        maxStep: p.steps[i],
        maxTime: p.times[i],
        valueSum: v,
        stepSum: p.steps[i],
      });
      continue;
    }
    row.count += 1;
    row.valueSum = (row.valueSum ?? 0) + v;
    row.stepSum = (row.stepSum ?? 0) + p.steps[i];
    row.lastStep = p.steps[i];
    if (v < row.minValue) Object.assign(row, { minValue: v, minStep: p.steps[i], minTime: p.times[i] });
    if (v > row.maxValue) Object.assign(row, { maxValue: v, maxStep: p.steps[i], maxTime: p.times[i] });
  }
  return [...rows.values()];
}

describe("rollup bucketing", () => {
  it.each([
    [6, 0, 1_000],
    [6, 37, 200],
    [8, 250, 700],
    [14, 16_000, 900],
  ])("level %i from index %i over %i points matches a direct computation", (level, startIndex, n) => {
    const p = points(n, startIndex);
    expect(rollupPoints(level, startIndex, p.steps, p.values, p.times)).toEqual(direct(level, startIndex, p));
  });

  it("coarsening a finer level gives the coarser level's rows, for every pair of levels", () => {
    const p = points(20_000, 5);
    for (let a = 0; a < ROLLUP_LEVELS.length; a++) {
      const fine = rollupPoints(ROLLUP_LEVELS[a], 5, p.steps, p.values, p.times);
      for (let b = a + 1; b < ROLLUP_LEVELS.length; b++) {
        const coarse = rollupPoints(ROLLUP_LEVELS[b], 5, p.steps, p.values, p.times);
        expect(coarsen(fine, ROLLUP_LEVELS[b] - ROLLUP_LEVELS[a])).toEqual(coarse);
      }
    }
  });

  it("merging a bucket written in two flushes equals writing it at once, ties keeping the earlier point", () => {
    const p = points(64);
    p.values.fill(1);
    const whole = rollupPoints(6, 0, p.steps, p.values, p.times)[0];
    const first = rollupPoints(6, 0, p.steps.subarray(0, 20), p.values.subarray(0, 20), p.times.subarray(0, 20))[0];
    const rest = rollupPoints(6, 20, p.steps.subarray(20), p.values.subarray(20), p.times.subarray(20))[0];
    const merged = mergeRollup(first, rest);
    expect(merged).toEqual(whole);
    expect(merged.minStep).toBe(p.steps[0]);
    expect(merged.maxStep).toBe(p.steps[0]);
  });

  it("keeps a sum that is not finite, or unknown on either side of a merge, as null", () => {
    const p = points(128);
    p.values[3] = Number.POSITIVE_INFINITY;
    p.values[70] = Number.NaN;
    const [withInfinity, withNaN] = rollupPoints(6, 0, p.steps, p.values, p.times);
    expect(withInfinity.valueSum).toBeNull();
    expect(withInfinity.stepSum).not.toBeNull();
    expect(withNaN.valueSum).toBeNull();
    const q = points(64, 192);
    const known = rollupPoints(6, 192, q.steps.subarray(0, 8), q.values.subarray(0, 8), q.times.subarray(0, 8))[0];
    const later = rollupPoints(6, 200, q.steps.subarray(8), q.values.subarray(8), q.times.subarray(8))[0];
    expect(mergeRollup(known, later).valueSum).toBe((known.valueSum ?? 0) + (later.valueSum ?? 0));
    expect(mergeRollup({ ...known, valueSum: null, stepSum: null }, later)).toMatchObject({
      valueSum: null,
      stepSum: null,
      count: 64,
    });
  });
});
