/** The sweep views' math (ranks, Spearman, scales, colours) and brush rules, against direct computations. */
import { describe, expect, it } from "vitest";
import type { Run, Summaries } from "../../ui/src/api/types.js";
import {
  axisUnit,
  brushAccepts,
  brushedRunIds,
  brushFromUnits,
  brushUnits,
  buildAxis,
  fieldValue,
  parseBrush,
  varyingConfigKeys,
} from "../../ui/src/lib/sweep.js";
import {
  averageRanks,
  colorAt,
  linearScale,
  linearTicks,
  logScale,
  logTicks,
  numericScale,
  pearson,
  spearman,
} from "../../ui/src/lib/sweep-math.js";

/** Spearman by its textbook definition for data without ties: 1 - 6 Σd² / (n(n² - 1)). */
function spearmanNoTies(xs: number[], ys: number[]): number {
  const rank = (v: number[]) => v.map((x) => v.filter((y) => y < x).length + 1);
  const rx = rank(xs);
  const ry = rank(ys);
  const n = xs.length;
  const d2 = rx.reduce((s, r, i) => s + (r - ry[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

/** Average ranks by definition: 1 + how many are smaller + half of the others equal to it. */
function directRanks(v: number[]): number[] {
  return v.map((x) => 1 + v.filter((y) => y < x).length + (v.filter((y) => y === x).length - 1) / 2);
}

function directPearson(x: number[], y: number[]): number {
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(x);
  const my = mean(y);
  const cov = x.reduce((s, xi, i) => s + (xi - mx) * (y[i] - my), 0);
  const sx = Math.sqrt(x.reduce((s, xi) => s + (xi - mx) ** 2, 0));
  const sy = Math.sqrt(y.reduce((s, yi) => s + (yi - my) ** 2, 0));
  return cov / (sx * sy);
}

/** A deterministic pseudo-random sequence (the tests must not depend on Math.random). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) % 2 ** 32;
    return s / 2 ** 32;
  };
}

function run(id: string, config: Run["config"]): Run {
  return { id, config } as Run;
}

describe("ranks and Spearman", () => {
  it("gives tied values the mean of the ranks they span", () => {
    expect([...averageRanks([10, 20, 20, 5, 20])]).toEqual([2, 4, 4, 1, 4]);
    expect([...averageRanks([3, 3])]).toEqual([1.5, 1.5]);
    const random = lcg(7);
    const values = Array.from({ length: 200 }, () => Math.floor(random() * 20));
    expect([...averageRanks(values)]).toEqual(directRanks(values));
  });

  it("matches the textbook formula without ties and Pearson of average ranks with them", () => {
    const random = lcg(42);
    const xs = Array.from({ length: 50 }, () => random());
    const ys = xs.map((x) => x * x + random() * 0.3);
    const { rho, n } = spearman(xs, ys);
    expect(n).toBe(50);
    expect(rho).toBeCloseTo(spearmanNoTies(xs, ys), 12);
    const tx = Array.from({ length: 60 }, () => Math.floor(random() * 5));
    const ty = tx.map((x) => x + Math.floor(random() * 3));
    expect(spearman(tx, ty).rho).toBeCloseTo(directPearson(directRanks(tx), directRanks(ty)), 12);
  });

  it("is 1 or -1 for a monotonic relation, whatever its shape", () => {
    const lr = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2];
    expect(
      spearman(
        lr,
        lr.map((x) => Math.exp(x * 100)),
      ).rho,
    ).toBe(1);
    expect(
      spearman(
        lr,
        lr.map((x) => -Math.log(x)),
      ).rho,
    ).toBe(-1);
  });

  it("counts only pairs with both values, and is undefined for a constant side or fewer than two pairs", () => {
    const r = spearman([1, 2, undefined, 4, null, 6], [1, 4, 9, undefined, 25, 36]);
    expect(r.n).toBe(3);
    expect(r.rho).toBe(1);
    expect(spearman([1, 1, 1], [1, 2, 3]).rho).toBeNaN();
    expect(spearman([1], [1]).rho).toBeNaN();
    expect(spearman([1, 2], [Number.NaN, 3]).n).toBe(1);
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
  });
});

describe("scales", () => {
  it("places values linearly or by decades, and back", () => {
    const lin = linearScale(2, 10);
    expect(lin.toUnit(6)).toBe(0.5);
    expect(lin.fromUnit(0.25)).toBe(4);
    const log = logScale(1e-4, 1e-1);
    expect(log.toUnit(1e-3)).toBeCloseTo(1 / 3, 12);
    expect(log.fromUnit(2 / 3)).toBeCloseTo(1e-2, 12);
    // A constant axis puts its value in the middle.
    expect(linearScale(3, 3).toUnit(3)).toBe(0.5);
    expect(logScale(0.01, 0.01).toUnit(0.01)).toBeCloseTo(0.5, 12);
  });

  it("chooses log for positive values over two decades or more, linear otherwise", () => {
    expect(numericScale([1e-4, 1e-3, 1e-2]).kind).toBe("log");
    expect(numericScale([1, 50]).kind).toBe("linear");
    expect(numericScale([0, 1e-4, 1e-1]).kind).toBe("linear");
    expect(numericScale([-1, 100]).kind).toBe("linear");
  });

  it("ticks at 1, 2, 5 steps and at powers of ten", () => {
    expect(linearTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(0.1, 0.7, 3)).toEqual([0.2, 0.4, 0.6]);
    expect(linearTicks(16, 256, 5)).toEqual([50, 100, 150, 200, 250]);
    expect(logTicks(1e-4, 0.05)).toEqual([1e-4, 1e-3, 1e-2]);
    expect(logTicks(2, 5)).toEqual([2, 5]);
  });

  it("colours from dark to bright along the scale", () => {
    expect(colorAt(0)).toBe("#440154");
    expect(colorAt(1)).toBe("#fde725");
    const luminance = (hex: string) => {
      const n = Number.parseInt(hex.slice(1), 16);
      return 0.2126 * (n >> 16) + 0.7152 * ((n >> 8) & 255) + 0.0722 * (n & 255);
    };
    const steps = Array.from({ length: 11 }, (_, i) => luminance(colorAt(i / 10)));
    for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThan(steps[i - 1]);
  });
});

describe("sweep fields and brushes", () => {
  const runs = [
    run("a", { lr: 1e-4, opt: "adam", wd: true, model: { depth: 12 } }),
    run("b", { lr: 1e-3, opt: "sgd", wd: false, model: { depth: 24 } }),
    run("c", { lr: 1e-2, opt: "adam", model: { depth: 12 } }),
    run("d", { lr: 1e-1, opt: "lion", wd: true, model: { depth: 6 } }),
  ];
  const summaries = new Map<string, Summaries>([
    ["a", { loss: { last: 0.9, min: 0.8, max: 2, count: 10, last_step: 9 } }],
    ["b", { loss: { last: 0.5, min: 0.4, max: 2, count: 10, last_step: 9 } }],
    ["c", { loss: { last: 0.7, min: 0.3, max: 2, count: 10, last_step: 9 } }],
  ]);

  it("reads config values (nested, booleans as categories) and metric summaries", () => {
    expect(fieldValue(runs[0], {}, "config:lr")).toBe(1e-4);
    expect(fieldValue(runs[0], {}, "config:model.depth")).toBe(12);
    expect(fieldValue(runs[0], {}, "config:wd")).toBe("true");
    expect(fieldValue(runs[2], {}, "config:wd")).toBeUndefined();
    expect(fieldValue(runs[1], summaries.get("b") ?? {}, "metric:loss:min")).toBe(0.4);
    expect(fieldValue(runs[3], {}, "metric:loss:last")).toBeUndefined();
  });

  it("builds numeric (log when it spans decades) and categorical axes", () => {
    const lr = buildAxis(
      "config:lr",
      runs.map((r) => fieldValue(r, {}, "config:lr")),
    );
    expect(lr.kind === "numeric" && lr.scale.kind).toBe("log");
    expect(axisUnit(lr, 1e-3)).toBeCloseTo(1 / 3, 9);
    const opt = buildAxis(
      "config:opt",
      runs.map((r) => fieldValue(r, {}, "config:opt")),
    );
    expect(opt.kind === "category" && opt.categories).toEqual(["adam", "lion", "sgd"]);
    expect(axisUnit(opt, "lion")).toBe(0.5);
    expect(axisUnit(opt, undefined)).toBeNaN();
  });

  it("turns a dragged span into a value range or the categories inside it, and back", () => {
    const lr = buildAxis(
      "config:lr",
      runs.map((r) => fieldValue(r, {}, "config:lr")),
    );
    const range = brushFromUnits(lr, 0.5, 0.2) as [number, number];
    expect(range[0]).toBeCloseTo(10 ** (-4 + 0.2 * 3), 9);
    expect(range[1]).toBeCloseTo(10 ** (-4 + 0.5 * 3), 9);
    const units = brushUnits(lr, range) as [number, number];
    expect(units[0]).toBeCloseTo(0.2, 9);
    expect(units[1]).toBeCloseTo(0.5, 9);
    const opt = buildAxis(
      "config:opt",
      runs.map((r) => fieldValue(r, {}, "config:opt")),
    );
    expect(brushFromUnits(opt, 0.4, 1)).toEqual(["lion", "sgd"]);
    expect(brushFromUnits(opt, 0.1, 0.2)).toBeNull();
    const span = brushUnits(opt, ["lion"]) as [number, number];
    expect(span[0]).toBeLessThan(0.5);
    expect(span[1]).toBeGreaterThan(0.5);
    expect(span[0]).toBeGreaterThan(0);
  });

  it("keeps the runs that pass every brushed axis; a missing value never passes", () => {
    expect(brushedRunIds(runs, summaries, {})).toBeNull();
    const lrOnly = brushedRunIds(runs, summaries, { "config:lr": [5e-4, 5e-2] });
    expect([...(lrOnly ?? [])]).toEqual(["b", "c"]);
    const both = brushedRunIds(runs, summaries, { "config:lr": [5e-4, 5e-2], "config:opt": ["adam"] });
    expect([...(both ?? [])]).toEqual(["c"]);
    const metric = brushedRunIds(runs, summaries, { "metric:loss:min": [0, 0.5] });
    expect([...(metric ?? [])]).toEqual(["b", "c"]);
    expect(brushAccepts([0, 1], undefined)).toBe(false);
    expect(brushAccepts(["true"], "true")).toBe(true);
  });

  it("parses a brush from a link, dropping what does not parse", () => {
    expect(
      parseBrush({
        "config:lr": [0.001, 0.01],
        "config:opt": ["adam"],
        "config:bad": [2, 1],
        "metric:loss:last": [0, "x"],
        other: [0, 1],
        "config:empty": [],
      }),
    ).toEqual({ "config:lr": [0.001, 0.01], "config:opt": ["adam"] });
    expect(parseBrush("nonsense")).toEqual({});
  });

  it("offers the config keys whose values differ", () => {
    expect(varyingConfigKeys(runs, ["lr", "model.depth", "opt", "wd"])).toEqual(["lr", "model.depth", "opt", "wd"]);
    expect(varyingConfigKeys([runs[0], runs[2]], ["lr", "model.depth", "opt"])).toEqual(["lr"]);
  });
});
