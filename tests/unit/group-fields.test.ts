// Which runs form which group (src/contract/groups.ts): labels from any mix of config keys, tags, group and
// job type; the table's mean ± std of a summary column; the band edges a chart draws.
import { describe, expect, it } from "vitest";
import {
  bandEdges,
  type GroupedRun,
  groupLabel,
  groupRuns,
  isGroupField,
  meanAndStd,
} from "../../src/contract/groups.js";

const run = (over: Partial<GroupedRun>): GroupedRun => ({ group: null, jobType: null, tags: [], config: {}, ...over });

describe("grouping runs by fields", () => {
  it("labels a run by each field in order, nested config paths included, – where it has no value", () => {
    const r = run({ group: "sweep-1", jobType: "train", tags: ["b", "a"], config: { opt: { lr: 0.01 }, seed: 3 } });
    expect(groupLabel(r, ["config.opt.lr", "group", "job_type", "tags"])).toBe(
      "opt.lr=0.01 · group=sweep-1 · job_type=train · tags=a, b",
    );
    expect(groupLabel(run({}), ["config.lr", "group", "tags"])).toBe("lr=– · group=– · tags=–");
    expect(groupLabel(run({ config: { arch: { depth: 2 } } }), ["config.arch"])).toBe('arch={"depth":2}');
  });

  it("puts runs sharing every field's value together, groups in order of their first run", () => {
    const runs = [
      { id: "r1", ...run({ config: { lr: 0.1, seed: 0 }, tags: ["x"] }) },
      { id: "r2", ...run({ config: { lr: 0.01, seed: 0 }, tags: ["x"] }) },
      { id: "r3", ...run({ config: { lr: 0.1, seed: 1 }, tags: ["x"] }) },
      { id: "r4", ...run({ config: { lr: 0.1, seed: 2 }, tags: ["y"] }) },
    ];
    const byLr = groupRuns(runs, ["config.lr"], (r) => r);
    expect(byLr.map((g) => [g.label, g.runs.map((r) => r.id)])).toEqual([
      ["lr=0.1", ["r1", "r3", "r4"]],
      ["lr=0.01", ["r2"]],
    ]);
    const byLrAndTags = groupRuns(runs, ["config.lr", "tags"], (r) => r);
    expect(byLrAndTags.map((g) => g.runs.map((r) => r.id))).toEqual([["r1", "r3"], ["r2"], ["r4"]]);
  });

  it("accepts group, job_type, tags and config.<path> as fields, nothing else", () => {
    expect(["group", "job_type", "tags", "config.lr", "config.a.b"].every(isGroupField)).toBe(true);
    expect(["config.", "name", "metric.loss", ""].some(isGroupField)).toBe(false);
  });
});

describe("group statistics for the table and the band", () => {
  it("mean and sample std of the finite values; one value has std 0; none is null", () => {
    expect(meanAndStd([9, 10, 11])).toEqual({ mean: 10, std: 1, count: 3 });
    expect(meanAndStd([4, null, Number.NaN, undefined])).toEqual({ mean: 4, std: 0, count: 1 });
    expect(meanAndStd([null])).toBeNull();
  });

  it("band edges: mean ± std, mean ± stderr, or min and max", () => {
    const a = {
      steps: [0],
      mean: [10],
      std: [2],
      stderr: [1],
      min: [7],
      max: [12],
      count: [4],
      first_step: 0,
      last_step: 0,
    };
    expect(bandEdges(a, 0, "std")).toEqual([8, 12]);
    expect(bandEdges(a, 0, "stderr")).toEqual([9, 11]);
    expect(bandEdges(a, 0, "minmax")).toEqual([7, 12]);
  });
});
