/** The dashboard's chart math: aligning series for uPlot, smoothing, nearest-point search, log-scale masking, axis labels. */
import { describe, expect, it } from "vitest";
import { formatLogValue, linearTickLabels, logTickLabels } from "../ui/src/lib/axes.js";
import { defaultColor, deltaE2000, PALETTE, runColor } from "../ui/src/lib/colors.js";
import {
  alignSeries,
  extendEma,
  extendOffset,
  isSorted,
  lowerBound,
  maskNonPositive,
  nearestIndex,
} from "../ui/src/lib/series.js";
import { selectedRunIds, setSelected } from "../ui/src/state/selection.js";

const f = (xs: number[]) => Float64Array.from(xs);

describe("alignSeries", () => {
  it("uses the arrays as they are when the runs share their steps, even at different progress", () => {
    const a = f([0, 1, 2, 3]);
    const b = f([0, 1, 2]);
    const aligned = alignSeries([a, b], [[f([10, 11, 12, 13])], [f([20, 21, 22])]], [4, 3]);
    expect([...aligned.x]).toEqual([0, 1, 2, 3]);
    expect(aligned.x.buffer).toBe(a.buffer);
    expect([...aligned.ys[1][0]]).toEqual([20, 21, 22]);
    expect(aligned.ys[1][0][3]).toBeUndefined();
  });

  it("merges different steps into one sorted x with holes", () => {
    const aligned = alignSeries(
      [f([0, 2, 4]), f([1, 2, 5])],
      [
        [f([1, 2, 3]), f([9, 9, 9])],
        [f([4, 5, 6]), f([8, 8, 8])],
      ],
      [3, 3],
    );
    expect([...aligned.x]).toEqual([0, 1, 2, 4, 5]);
    expect(aligned.ys[0][0]).toEqual([1, undefined, 2, 3, undefined]);
    expect(aligned.ys[0][1]).toEqual([9, undefined, 9, 9, undefined]);
    expect(aligned.ys[1][0]).toEqual([undefined, 4, 5, undefined, 6]);
  });

  it("ignores capacity beyond each series' length", () => {
    const aligned = alignSeries([f([0, 1, 99]), f([0, 5, 99])], [[f([1, 2, 0])], [f([3, 4, 0])]], [2, 2]);
    expect([...aligned.x]).toEqual([0, 1, 5]);
  });
});

describe("chart helpers", () => {
  it("smooths with a bias-corrected exponential moving average", () => {
    const out = extendEma(undefined, f([10, 10, 10]), 3, 0.9);
    expect([...out.out.subarray(0, out.length)].map((v) => Number(v.toFixed(9)))).toEqual([10, 10, 10]);
    const step = extendEma(undefined, f([0, 10]), 2, 0.5).out;
    expect(step[0]).toBe(0);
    expect(step[1]).toBeCloseTo((10 * 0.5) / 0.75, 9);
  });

  it("extends a smoothed or offset series with the new points only, as a rebuild would give", () => {
    const values = f(Array.from({ length: 300 }, (_, i) => Math.sin(i) * 10 + i));
    const whole = extendEma(undefined, values, 300, 0.8);
    let grown = extendEma(undefined, values, 10, 0.8);
    const firstOut = grown.out;
    grown = extendEma(grown, values, 40, 0.8);
    expect(grown.out).toBe(firstOut);
    grown = extendEma(grown, values, 300, 0.8);
    expect([...grown.out.subarray(0, 300)]).toEqual([...whole.out.subarray(0, 300)]);
    // Another weight, or a shorter series (a refetch), starts over.
    expect(extendEma(grown, values, 300, 0.5)).not.toBe(grown);
    expect(extendEma(grown, values, 5, 0.8).length).toBe(5);
    const times = f([100, 101, 103, 106]);
    const rel = extendOffset(extendOffset(undefined, times, 2, 100), times, 4, 100);
    expect([...rel.out.subarray(0, rel.length)]).toEqual([0, 1, 3, 6]);
  });

  it("finds the nearest point and the lower bound", () => {
    const xs = f([0, 10, 20, 30]);
    expect(nearestIndex(xs, 4, 14)).toBe(1);
    expect(nearestIndex(xs, 4, 16)).toBe(2);
    expect(nearestIndex(xs, 4, -5)).toBe(0);
    expect(nearestIndex(xs, 4, 99)).toBe(3);
    expect(nearestIndex(xs, 0, 1)).toBe(-1);
    expect(lowerBound(xs, 4, 10)).toBe(1);
    expect(lowerBound(xs, 4, 11)).toBe(2);
    expect(isSorted(xs, 4)).toBe(true);
    expect(isSorted(f([1, 0]), 2)).toBe(false);
  });

  it("leaves out values a log scale cannot show", () => {
    expect(maskNonPositive([1, 0, -2, 3])).toEqual([1, undefined, undefined, 3]);
    const positive = f([1, 2]);
    expect(maskNonPositive(positive)).toBe(positive);
  });
});

describe("axis labels", () => {
  it("gives zoomed-in ticks as many digits as their spacing needs, each reading its own value", () => {
    expect(linearTickLabels([404_000, 404_200, 404_400, 404_600])).toEqual(["404k", "404.2k", "404.4k", "404.6k"]);
    expect(linearTickLabels([404_000, 404_010, 404_020])).toEqual(["404000", "404010", "404020"]);
    expect(linearTickLabels([4.1e-4, 4.105e-4, 4.11e-4])).toEqual(["4.1e-4", "4.105e-4", "4.11e-4"]);
    expect(linearTickLabels([0, 0.25, 0.5, 0.75, 1])).toEqual(["0", "0.25", "0.5", "0.75", "1"]);
    expect(linearTickLabels([-0.5, 0, 0.5])).toEqual(["-0.5", "0", "0.5"]);
    expect(linearTickLabels([2e9, 4e9, 6e9])).toEqual(["2e9", "4e9", "6e9"]);
    expect(linearTickLabels([1_000_000, 1_500_000, 2_000_000])).toEqual(["1M", "1.5M", "2M"]);
    // uPlot hands over hidden splits as null: they get no label, never "0".
    expect(linearTickLabels([1, null, 3])).toEqual(["1", "", "3"]);
  });

  it("labels the decades of a log axis and leaves minor ticks blank", () => {
    const splits: number[] = [];
    for (let e = -5; e < -1; e++) for (let m = 1; m <= 9; m++) splits.push(Number((m * 10 ** e).toPrecision(1)));
    splits.push(0.1);
    const labels = logTickLabels(splits);
    expect(labels.filter((l) => l !== "")).toEqual(["1e-5", "1e-4", "0.001", "0.01", "0.1"]);
    expect(labels).not.toContain("0");
    // Hidden splits (null) and anything not positive never read "0".
    expect(logTickLabels([0.01, null, 0.03, 0, 0.1])).toEqual(["0.01", "", "", "", "0.1"]);
    // Less than two decades in view: 1, 2 and 5.
    expect(logTickLabels([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 2, 3])).toEqual([
      "",
      "",
      "0.5",
      "",
      "",
      "",
      "",
      "1",
      "2",
      "",
    ]);
    // Within one decade with too few of those: every tick.
    expect(logTickLabels([0.3, 0.4])).toEqual(["0.3", "0.4"]);
    // Many decades: thinned to at most six labels.
    const wide = Array.from({ length: 13 }, (_, i) => 10 ** (i - 6));
    expect(logTickLabels(wide).filter((l) => l !== "").length).toBeLessThanOrEqual(6);
    expect(formatLogValue(2e6)).toBe("2e6");
  });
});

describe("run palette", () => {
  // The chart surfaces and page backgrounds of the light and dark themes (ui/src/styles.css).
  const BACKGROUNDS = ["#ffffff", "#f6f7f9", "#131720", "#0c0f15"];

  it("measures CIEDE2000 as published: black to white is 100, a color to itself 0", () => {
    expect(deltaE2000("#000000", "#ffffff")).toBeCloseTo(100, 0);
    expect(deltaE2000("#1d99ed", "#1d99ed")).toBe(0);
  });

  it("keeps every two default colors at least 20 CIEDE2000 apart (the old look-alike pairs were 5 to 16)", () => {
    expect(deltaE2000("#10b981", "#22c55e")).toBeCloseTo(8.9, 0);
    expect(deltaE2000("#f97316", "#f59e0b")).toBeCloseTo(15.7, 0);
    expect(deltaE2000("#8b5cf6", "#a855f7")).toBeCloseTo(5.0, 0);
    for (let i = 0; i < PALETTE.length; i++) {
      for (let j = i + 1; j < PALETTE.length; j++) {
        expect(deltaE2000(PALETTE[i], PALETTE[j]), `${PALETTE[i]} vs ${PALETTE[j]}`).toBeGreaterThan(20);
      }
    }
  });

  it("keeps every default color readable on both themes' backgrounds", () => {
    for (const color of PALETTE) {
      for (const bg of BACKGROUNDS) expect(deltaE2000(color, bg), `${color} on ${bg}`).toBeGreaterThan(30);
    }
  });

  it("gives a run the palette color stored with it, a run from before that column its database number's", () => {
    expect(runColor({ seq: 7, color_index: 2, color: null })).toBe(PALETTE[2]);
    expect(runColor({ seq: 7, color_index: null, color: null })).toBe(PALETTE[7]);
    expect(runColor({ seq: 21, color_index: null, color: null })).toBe(PALETTE[7]);
    expect(runColor({ seq: 7, color_index: 2, color: "#123456" })).toBe("#123456");
    expect(defaultColor({ seq: 7, color_index: 0 })).toBe(PALETTE[0]);
    const consecutive = new Set(
      Array.from({ length: PALETTE.length }, (_, i) => defaultColor({ seq: 100 + i, color_index: null })),
    );
    expect(consecutive.size).toBe(PALETTE.length);
  });
});

describe("selection", () => {
  const ids = Array.from({ length: 12 }, (_, i) => `r${11 - i}`);
  const base = { newest: true, runs: [] as string[], hide: [] as string[] };

  it("charts the newest ten by default, and a ticked older run besides them", () => {
    expect(selectedRunIds(base, ids)).toEqual(ids.slice(0, 10));
    const next = { ...base, ...setSelected(base, ["r0"], true, ids) };
    expect(selectedRunIds(next, ids)).toEqual([...ids.slice(0, 10), "r0"]);
  });

  it("unticks one of the newest without touching the others, and ticks it back", () => {
    const off = { ...base, ...setSelected(base, ["r11"], false, ids) };
    expect(selectedRunIds(off, ids)).toEqual(ids.slice(1, 10));
    const on = { ...off, ...setSelected(off, ["r11"], true, ids) };
    expect(selectedRunIds(on, ids)).toEqual(ids.slice(0, 10));
    expect(on.runs).toEqual([]);
  });

  it("with the newest mode off, charts only what was ticked", () => {
    const none = { newest: false, runs: [], hide: [] };
    expect(selectedRunIds(none, ids)).toEqual([]);
    const one = { ...none, ...setSelected(none, ["r11"], true, ids) };
    expect(selectedRunIds(one, ids)).toEqual(["r11"]);
  });
});
