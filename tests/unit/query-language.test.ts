/** The run-table query language: fields, conditions and statuses, as the API and the CLI parse them (the whole where language: where.test.ts). */
import { describe, expect, it } from "vitest";
import { parseDisplayStatuses, parseRunField, parseWhere } from "../../src/query/run-filter.js";

describe("conditions", () => {
  it.each([
    ["config.lr>0.01", { kind: "config", path: "lr" }, ">", 0.01],
    ["config.optim.name = adam", { kind: "config", path: "optim.name" }, "=", "adam"],
    ['config.name=="a b"', { kind: "config", path: "name" }, "=", "a b"],
    ["config.flag != true", { kind: "config", path: "flag" }, "!=", true],
    ["metric.val/loss<=0.5", { kind: "metric", key: "val/loss" }, "<=", 0.5],
    ["duration>=60", { kind: "duration" }, ">=", 60],
  ])("%s", (text, field, operator, value) => {
    expect(parseWhere(text)).toMatchObject({ kind: "compare", field, operator, value });
  });

  it("reads .min/.max/.last as a metric statistic", () => {
    expect(parseRunField("metric.loss.min")).toMatchObject({ kind: "metric", key: "loss.min", stat: "min" });
    expect(parseRunField("metric.loss")).toMatchObject({ kind: "metric", key: "loss", stat: null });
  });

  it.each([
    ["config.lr", /expected an operator after config.lr \(=, !=/],
    ["config.lr > abc", /compares numbers only/],
    ["nonsense.field=1", /Unknown field "nonsense.field": use created_at/],
  ])("refuses %s with a message that says what to write", (text, message) => {
    expect(() => parseWhere(text)).toThrow(message);
  });
});

describe("statuses", () => {
  it("takes repeated and comma-separated values", () => {
    expect(parseDisplayStatuses("--status", ["running,stale", "failed"])).toEqual(["running", "stale", "failed"]);
  });

  it("names the allowed statuses when one is unknown", () => {
    expect(() => parseDisplayStatuses("--status", ["done"])).toThrow(/--status must be one of .*completed/);
  });
});
