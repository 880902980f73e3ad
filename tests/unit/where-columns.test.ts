/**
 * The where language read through kept columns (WhereColumns, what the
 * server's run tables keep between queries) and config paths cut once:
 * the same runs kept as without them, and kept values not read again.
 */
import { describe, expect, it } from "vitest";
import { compileConfigPath, configValue, filterRuns, type TableRun } from "../../src/contract/run-table.js";
import { filterWhere, parseWhere, WhereColumns } from "../../src/contract/where.js";
import type { Config } from "../../src/types.js";
import { tableRun, whereVectors as vectors } from "../support/where-vectors.js";

const runs = vectors.runs.map((r) => tableRun(r));
/** One set of columns for every case, so later cases read what earlier ones kept. */
const kept = new WhereColumns(runs);

describe("the shared vectors through kept columns", () => {
  it.each(vectors.cases.map((c) => [c.where, c.expected] as const))("%s", (where, expected) => {
    const filter = { where: parseWhere(where) };
    expect(filterRuns(runs, filter, vectors.now, kept).map((r) => r.id)).toEqual(expected);
    expect(filterRuns(runs, filter, vectors.now, kept).map((r) => r.id)).toEqual(expected);
  });

  it("keeps the same runs in another order, where columns of the first order do not apply", () => {
    const reversed = runs.slice().reverse();
    for (const { where, expected } of vectors.cases) {
      const kept = filterRuns(reversed, { where: parseWhere(where) }, vectors.now, new WhereColumns(runs));
      expect(kept.map((r) => r.id)).toEqual(expected.slice().reverse());
    }
  });
});

/** Runs whose configs count every look at them. */
function countedRuns(): { runs: TableRun[]; looks: () => number } {
  let looks = 0;
  const counted = vectors.runs.map((r) => {
    const config = new Proxy(r.config, {
      get(target, key, receiver) {
        looks++;
        return Reflect.get(target, key, receiver);
      },
      getOwnPropertyDescriptor(target, key) {
        looks++;
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
    });
    return tableRun(r, config);
  });
  return { runs: counted, looks: () => looks };
}

describe("kept columns", () => {
  it("read no run's config again for a new threshold on a field already read", () => {
    const { runs, looks } = countedRuns();
    const columns = new WhereColumns(runs);
    const first = filterRuns(runs, { where: parseWhere("config.lr < 0.05") }, vectors.now, columns);
    const afterFirst = looks();
    expect(afterFirst).toBeGreaterThan(0);
    const second = filterRuns(
      runs,
      { where: parseWhere("config.lr > 0.001 AND config.lr != 0.03 OR config.lr IN (0.1)") },
      vectors.now,
      columns,
    );
    expect(looks()).toBe(afterFirst);
    expect(first.map((r) => r.id)).toEqual(
      filterWhere(runs, parseWhere("config.lr < 0.05"), vectors.now).map((r) => r.id),
    );
    expect(second.map((r) => r.id)).toEqual(
      filterWhere(runs, parseWhere("config.lr > 0.001 AND config.lr != 0.03 OR config.lr IN (0.1)"), vectors.now).map(
        (r) => r.id,
      ),
    );
  });

  it("are not used for a list other than their own", () => {
    const { runs, looks } = countedRuns();
    const columns = new WhereColumns(runs);
    filterRuns(runs, { where: parseWhere("config.lr < 0.05") }, vectors.now, columns);
    const afterFirst = looks();
    filterRuns(runs.slice(), { where: parseWhere("config.lr < 0.05") }, vectors.now, columns);
    expect(looks()).toBeGreaterThan(afterFirst);
  });
});

describe("kept columns past their limit", () => {
  it("let the oldest go, so that memory stays bounded, and still keep the right runs", () => {
    const fields = 12;
    let looks = 0;
    const many: TableRun[] = Array.from({ length: 40_000 }, (_, i) => {
      const config: Config = {};
      for (let k = 0; k < fields; k++) config[`k${k}`] = i % (k + 2);
      const counted = new Proxy(config, {
        getOwnPropertyDescriptor(target, key) {
          looks++;
          return Reflect.getOwnPropertyDescriptor(target, key);
        },
      });
      return { ...runs[0], id: `r${i}`, config: counted };
    });
    const columns = new WhereColumns(many);
    const ids = (kept: TableRun[]) => kept.map((r) => r.id);
    for (let k = 0; k < fields; k++) {
      const where = parseWhere(`config.k${k} = 0 OR config.k${k} > ${k}`);
      expect(ids(filterRuns(many, { where }, vectors.now, columns))).toEqual(
        ids(filterWhere(many, where, vectors.now)),
      );
    }
    const every = parseWhere(Array.from({ length: fields }, (_, k) => `config.k${k} < ${k + 1}`).join(" AND "));
    expect(ids(filterRuns(many, { where: every }, vectors.now, columns))).toEqual(
      ids(filterWhere(many, every, vectors.now)),
    );
    const before = looks;
    filterRuns(many, { where: parseWhere("config.k0 = 1") }, vectors.now, columns);
    expect(looks).toBeGreaterThan(before);
  });
});

describe("config paths", () => {
  const cases: [string, Config, string, unknown][] = [
    ["a key with dots, before the nested path", { "a.b": 1, a: { b: 2 } }, "a.b", 1],
    ["a nested path", { a: { b: { c: 4 } } }, "a.b.c", 4],
    ["a nested key with dots", { a: { "b.c": 3 } }, "a.b.c", 3],
    ["a longer head when the shorter one is not an object", { a: 1, "a.b": { c: 5 } }, "a.b.c", 5],
    ["a longer head when the shorter one lacks the rest", { a: { x: 1 }, "a.b": { c: 6 } }, "a.b.c", 6],
    ["a null on the way, not read through", { a: { b: null }, "a.b": { c: 7 } }, "a.b.c", 7],
    ["a null value", { a: { b: null } }, "a.b", null],
    ["no index into arrays", { a: [1, 2] }, "a.0", undefined],
    ["a path starting with a dot, read whole only", { "": { a: 1 }, ".a": 8 }, ".a", 8],
    ["a path starting with a dot, never split", { "": { a: 1 } }, ".a", undefined],
    ["a rest starting with a dot, read whole", { a: { "": { b: 1 }, ".b": 9 } }, "a..b", 9],
    ["a trailing dot", { a: { "": 10 } }, "a.", 10],
    ["no inherited keys", { a: {} }, "a.constructor", undefined],
    ["a missing key", { a: { b: 1 } }, "a.c", undefined],
  ];

  it.each(cases)("%s", (_what, config, path, expected) => {
    expect(compileConfigPath(path)(config)).toEqual(expected);
    expect(configValue(config, path)).toEqual(expected);
  });
});
