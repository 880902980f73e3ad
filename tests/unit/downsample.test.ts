/** Min/max downsampling and the join of several ranks' series into one (original stonks' multi-GPU runs). */
import { describe, expect, it } from "vitest";
import { combineRanks, minMaxIndices } from "../../src/server/all-metrics.js";
import type { MetricSeries } from "../../src/types.js";

function series(key: string, steps: number[], values: number[]): MetricSeries {
  return {
    key,
    steps: Float64Array.from(steps),
    values: Float64Array.from(values),
    timestamps: Float64Array.from(steps, (s) => 100 + s),
  } as MetricSeries;
}

describe("minMaxIndices", () => {
  it("keeps everything when it fits", () => {
    expect(minMaxIndices(Float64Array.from([3, 1, 2]), 5)).toEqual([0, 1, 2]);
  });

  it.each([10, 50, 101, 1_000])("keeps at most %i points, in order, with the ends and every spike", (target) => {
    const values = Float64Array.from({ length: 10_007 }, (_, i) => Math.sin(i / 50));
    values[4_321] = 99;
    values[777] = -99;
    const kept = minMaxIndices(values, target);
    expect(kept.length).toBeLessThanOrEqual(target);
    expect(kept[0]).toBe(0);
    expect(kept[kept.length - 1]).toBe(values.length - 1);
    for (let i = 1; i < kept.length; i++) expect(kept[i]).toBeGreaterThan(kept[i - 1]);
    expect(kept).toContain(4_321);
    expect(kept).toContain(777);
  });
});

describe("combineRanks", () => {
  it("joins ranks step by step: mean, min, max, skipping values that are not finite", () => {
    const joined = combineRanks("loss", [
      series("loss", [0, 1, 2], [1, 2, Number.NaN]),
      series("loss", [1, 2, 3], [4, 6, 8]),
    ]);
    expect(Array.from(joined.steps)).toEqual([0, 1, 2, 3]);
    expect(Array.from(joined.values)).toEqual([1, 3, 6, 8]);
    expect(Array.from(joined.valuesMin)).toEqual([1, 2, 6, 8]);
    expect(Array.from(joined.valuesMax)).toEqual([1, 4, 6, 8]);
    expect(Array.from(joined.timestamps)).toEqual([100, 101, 102, 103]);
  });

  it("leaves out a step where no rank has a finite value", () => {
    const joined = combineRanks("x", [
      series("x", [0, 1], [Number.NaN, 1]),
      series("x", [0], [Number.POSITIVE_INFINITY]),
    ]);
    expect(Array.from(joined.steps)).toEqual([1]);
  });
});
