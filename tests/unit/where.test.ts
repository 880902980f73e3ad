/**
 * The where language against tests/vectors/query/where-cases.json, the table the
 * Python reader (python/tests/test_where.py) checks too, plus what only the
 * TypeScript side has: the parse tree and the run-table filter.
 */
import { describe, expect, it } from "vitest";
import { filterRuns } from "../../src/contract/run-table.js";
import { filterWhere, isoDateSeconds, parseWhere, WhereSyntaxError } from "../../src/contract/where.js";
import { completeField, searchQuery } from "../../ui/src/lib/where-search.js";
import { tableRun, whereVectors as vectors } from "../support/where-vectors.js";

const runs = vectors.runs.map((r) => tableRun(r));

describe("the shared vectors", () => {
  it.each(vectors.cases.map((c) => [c.where, c.expected] as const))("%s", (where, expected) => {
    expect(filterWhere(runs, parseWhere(where), vectors.now).map((r) => r.id)).toEqual(expected);
  });

  it.each(vectors.errors.map((e) => [e.where, e.column, e.message] as const))(
    "%j fails at column %i",
    (where, column, message) => {
      let caught: unknown;
      try {
        parseWhere(where);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(WhereSyntaxError);
      const error = caught as WhereSyntaxError;
      expect(error.column).toBe(column);
      expect(error.message).toContain(`at column ${column}: `);
      expect(error.message).toContain(message);
    },
  );
});

describe("parse trees", () => {
  it("binds AND tighter than OR and reads NOT, IN, BETWEEN and matches", () => {
    expect(parseWhere('name = 1 OR NOT config.x IN (1, "b") AND metric.loss.min BETWEEN 0 AND 1')).toEqual({
      kind: "or",
      operands: [
        { kind: "compare", field: { kind: "name" }, operator: "=", value: 1 },
        {
          kind: "and",
          operands: [
            { kind: "not", operand: { kind: "in", field: { kind: "config", path: "x" }, values: [1, "b"] } },
            { kind: "between", field: { kind: "metric", key: "loss.min", stat: "min" }, low: 0, high: 1 },
          ],
        },
      ],
    });
  });

  it("reads the old FIELD OP VALUE conditions (bare words are text)", () => {
    expect(parseWhere("config.optim.name = adam")).toEqual({
      kind: "compare",
      field: { kind: "config", path: "optim.name" },
      operator: "=",
      value: "adam",
    });
    expect(parseWhere("duration>=60")).toMatchObject({ operator: ">=", value: 60 });
  });

  it("says what a mistake is in the words the brief gives", () => {
    expect(() => parseWhere('config.model = "res" AND config.lr >=')).toThrow(
      'at column 38: expected a value after ">=", not the end of the expression',
    );
  });

  it("counts columns in characters, not UTF-16 units", () => {
    expect(() => parseWhere('name = "🚀" AND ?')).toThrow(/^at column 16: /);
  });

  it("reads dates in UTC unless they carry an offset", () => {
    expect(isoDateSeconds("2026-01-31")).toBe(Date.UTC(2026, 0, 31) / 1000);
    expect(isoDateSeconds("2026-01-31T12:00:00.5+02:00")).toBe(Date.UTC(2026, 0, 31, 10) / 1000 + 0.5);
    expect(isoDateSeconds("2026-02-30")).toBeNull();
  });
});

describe("the run table's filter", () => {
  it("applies a where expression together with the other filters", () => {
    const where = parseWhere("config.lr >= 0.01 OR status = stale");
    const kept = filterRuns(runs, { where, tags: ["sweep"] }, vectors.now).map((r) => r.id);
    expect(kept).toEqual(["r2", "r1"]);
  });

  it("resolves a metric's .min against every run, not only those other filters kept", () => {
    const where = parseWhere("metric.loss.min < 1");
    expect(filterRuns(runs, { where, text: "resnet-18" }, vectors.now).map((r) => r.id)).toEqual(["r1"]);
  });
});

describe("the dashboard's search box", () => {
  const keys = { configKeys: ["lr", "model", "opt.name"], metricKeys: ["train/loss", "val/acc"] };

  it.each([
    ["resnet", "text"],
    ["run-1", "text"],
    ["config.lr > 0.01", "where"],
    ['"baseline" IN tags', "where"],
    ["status in (running, stale)", "where"],
    ["NOT tags EXISTS", "where"],
    ["config.lr >", "error"],
  ])("reads %j as %s", (text, kind) => {
    expect(searchQuery(text).kind).toBe(kind);
  });

  it("gives the column of a mistake", () => {
    expect(searchQuery("config.lr >")).toMatchObject({ kind: "error", column: 12 });
  });

  it("completes config and metric keys of the experiment where a field goes", () => {
    expect(completeField("con", 3, keys)).toEqual({
      from: 0,
      to: 3,
      items: ["config.lr", "config.model", "config.opt.name"],
    });
    expect(completeField("config.lr < 1 AND val", 21, keys)?.items).toEqual(["metric.val/acc"]);
    expect(completeField("config.lr < 1 AND val", 21, keys)?.from).toBe(18);
  });

  it("offers nothing where a value goes", () => {
    expect(completeField("config.model = res", 18, keys)).toBeNull();
    expect(completeField("status IN (runn", 15, keys)).toBeNull();
  });
});
