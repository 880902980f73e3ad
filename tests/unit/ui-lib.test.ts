/** The dashboard's chart math: smoothing, nearest-point search, the lines' paths, axis labels. */
import { describe, expect, it } from "vitest";
import type { GroupedRun } from "../../src/contract/groups.js";
import type { JsonValue } from "../../src/types.js";
import { formatLogValue, linearTickLabels, logTickLabels } from "../../ui/src/lib/axes.js";
import { defaultColor, deltaE2000, PALETTE, runColor } from "../../ui/src/lib/colors.js";
import { groupNames, readableNumbers } from "../../ui/src/lib/group-names.js";
import { hairlineOffsets, lineExtent, linePath, onlyPoint, PathCache } from "../../ui/src/lib/lines.js";
import { tooltipLeft } from "../../ui/src/lib/placement.js";
import { extendEma, extendOffset, isSorted, lowerBound, nearestIndex } from "../../ui/src/lib/series.js";
import { selectedRunIds, setSelected } from "../../ui/src/state/selection.js";

const f = (xs: number[]) => Float64Array.from(xs);

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
});

/** Records what is drawn, as the browser's Path2D would take it. */
class RecordedPath {
  ops: [string, number, number][] = [];
  moveTo(x: number, y: number) {
    this.ops.push(["M", x, y]);
  }
  lineTo(x: number, y: number) {
    this.ops.push(["L", x, y]);
  }
}

/** What linePath reads of a uPlot instance: its scales and plot box (canvas pixels). */
function plot(x: [number, number], y: [number, number], log = false) {
  return {
    scales: { x: { min: x[0], max: x[1] }, y: { min: y[0], max: y[1], distr: log ? 3 : 1 } },
    bbox: { left: 0, top: 0, width: 100, height: 100 },
  } as unknown as Parameters<typeof linePath>[0];
}

describe("chart lines", () => {
  it("draws lines of up to two device pixels as offset hairlines, thinner and wider ones as they are", () => {
    expect(hairlineOffsets(1)).toBeNull();
    expect(hairlineOffsets(0.5)).toBeNull();
    expect(hairlineOffsets(3.5)).toBeNull();
    expect(hairlineOffsets(1.75)).toEqual([
      [0, 0],
      [0, 0.75],
      [0.75, 0],
    ]);
  });

  it("keeps every spike when many points share a pixel column: first, lowest, highest and last value", () => {
    // 1,000 points over 100 columns; a spike in the middle of column 50.
    const xs = f(Array.from({ length: 1000 }, (_, i) => i));
    const ys = f(Array.from({ length: 1000 }, (_, i) => (i === 505 ? 100 : 50)));
    const path = linePath(plot([0, 1000], [0, 100]), { xs, ys, length: 1000 }, new RecordedPath());
    expect(path.ops.length).toBeLessThanOrEqual(4 * 101);
    expect(path.ops.some(([, x, y]) => x === 51 && y === 0)).toBe(true);
    expect(path.ops[0]).toEqual(["M", 0, 50]);
    expect(path.ops.filter(([op]) => op === "M")).toHaveLength(1);
  });

  it("draws the window and one point beyond each edge, and skips what a log scale cannot show", () => {
    const xs = f([0, 10, 20, 30, 40, 50]);
    const ys = f([1, 10, 0, 100, 10, Number.NaN]);
    const path = linePath(plot([15, 35], [1, 100], true), { xs, ys, length: 6 }, new RecordedPath());
    // Points 10..40 (one beyond each edge); the 0 at x=20 is left out on a log scale.
    expect(path.ops.map(([, x]) => x)).toEqual([-25, 75, 125]);
  });

  it("gives each line's extent and its only point, a log scale seeing positive values only", () => {
    const line = { xs: f([0, 1, 2, 99]), ys: f([3, -1, Number.NaN, 42]), length: 3 };
    expect(lineExtent(line, false)).toEqual([-1, 3]);
    expect(lineExtent(line, true)).toEqual([3, 3]);
    expect(lineExtent({ ...line, length: 0 }, false)).toBeNull();
    expect(onlyPoint(line, true)).toBe(0);
    expect(onlyPoint(line, false)).toBe(-1);
  });

  it("reuses a path while the line's arrays, length and the plot stay the same", () => {
    const cache = new PathCache<number>();
    const line = { xs: f([0, 1]), ys: f([1, 2]), length: 2 };
    let built = 0;
    const build = () => ++built;
    expect(cache.get(line, "a", build)).toBe(1);
    expect(cache.get({ ...line }, "a", build)).toBe(1);
    expect(cache.get({ ...line, length: 1 }, "a", build)).toBe(2);
    expect(cache.get({ ...line, length: 1 }, "b", build)).toBe(3);
    expect(cache.get({ ...line, length: 1, xs: f([0, 1]) }, "b", build)).toBe(4);
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

describe("tooltipLeft", () => {
  // A 270-pixel tooltip in a 530-pixel chart, 14 pixels from the pointer.
  it("goes right of the pointer where it fits, else left where it fits", () => {
    expect(tooltipLeft(100, 270, 530)).toBe(114);
    expect(tooltipLeft(400, 270, 530)).toBe(116);
  });

  it("fitting on neither side, goes against the edge that leaves the pointer least covered, within the chart", () => {
    // Neither side holds 270 plus the gap of 14 for a pointer between 256 and 284.
    expect(tooltipLeft(260, 270, 530)).toBe(260);
    expect(tooltipLeft(250, 270, 530)).toBe(260);
    expect(tooltipLeft(270, 270, 530)).toBe(0);
    expect(tooltipLeft(280, 270, 530)).toBe(0);
    // Never past either edge.
    for (let x = 0; x <= 530; x += 10) {
      const at = tooltipLeft(x, 270, 530);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(at + 270).toBeLessThanOrEqual(530);
    }
  });
});

describe("group names", () => {
  /** A run with this config, as grouping reads it. */
  const run = (config: Record<string, JsonValue>): GroupedRun => ({ group: null, jobType: null, tags: [], config });
  const names = (fields: string[], configs: Record<string, JsonValue>[]) =>
    groupNames(
      configs.map(run),
      fields.map((f) => `config.${f}`),
    );

  it("reads computed floats at six digits, keeps whole numbers, strings and lists as they are", () => {
    expect([0.1 * 0.2, 15 * 1e-7 * 0.1].map(String)).toEqual(["0.020000000000000004", "1.5000000000000002e-7"]);
    expect(
      names(
        ["lr", "bs", "x", "name", "t"],
        [
          { lr: 0.1 * 0.2, bs: 1234567, x: 123456789.123456, name: "v0.1234567891", t: [0.1 + 0.2] },
          { lr: 15 * 1e-7 * 0.1, bs: 2, x: 1, name: "0.30000000000000004", t: [] },
          { bs: 3 },
        ],
      ),
    ).toEqual([
      "lr=0.02 · bs=1234567 · x=123456789 · name=v0.1234567891 · t=[0.30000000000000004]",
      "lr=1.5e-7 · bs=2 · x=1 · name=0.30000000000000004 · t=[]",
      "lr=– · bs=3 · x=– · name=– · t=–",
    ]);
  });

  it("never shows two groups under one name: values apart only in late digits keep them", () => {
    expect(names(["lr"], [{ lr: 0.1 + 0.2 }, { lr: 0.3 }, { lr: 0.1 * 0.2 }])).toEqual([
      "lr=0.30000000000000004",
      "lr=0.3",
      "lr=0.02",
    ]);
    expect(names(["a"], [{ a: 0.12345671 }, { a: 0.12345689 }, { a: 0.5 }])).toEqual([
      "a=0.1234567",
      "a=0.1234569",
      "a=0.5",
    ]);
  });
});

describe("readable numbers of a table column", () => {
  it("rounds computed floats to six digits, keeps every digit where two values would read alike", () => {
    const texts = readableNumbers([0.1 * 0.2, 0.1 + 0.2, 0.3, 0.1 * 0.2, 1234567, 123456789.123456, 15 * 1e-7 * 0.1]);
    expect([...texts.entries()]).toEqual([
      [0.020000000000000004, "0.02"],
      [0.30000000000000004, "0.30000000000000004"],
      [0.3, "0.3"],
      [1234567, "1234567"],
      [123456789.123456, "123456789"],
      [1.5000000000000002e-7, "1.5e-7"],
    ]);
  });

  it("raises the digits only as far as two values need", () => {
    const texts = readableNumbers([1.0000001, 1.0000002, 7.123456789]);
    expect(texts.get(1.0000001)).toBe("1.0000001");
    expect(texts.get(1.0000002)).toBe("1.0000002");
    expect(texts.get(7.123456789)).toBe("7.12346");
    // Every value of the column reads differently from every other.
    const many = Array.from({ length: 200 }, (_, i) => 1 + i * 1e-9);
    expect(new Set(readableNumbers(many).values()).size).toBe(200);
  });
});
