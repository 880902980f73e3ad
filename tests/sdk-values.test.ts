// What the SDK stores of awkward text, keys and config values (issue 8 parts 1, 5, 7, 8), in real files.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type Config,
  InvalidConfigError,
  InvalidMetricError,
  MAX_KEY_LENGTH,
  open,
  type Run,
  startRun,
} from "../dist/index.js";
import { openConnection } from "../src/store/driver.js";
import { ROOT, tempDb } from "./support/helpers.js";

/** "ab" and the first half of a surrogate pair: what "ab😀".slice(0, 3) gives. */
const BROKEN = "ab😀".slice(0, 3);
/** "ab" and a lone low surrogate: repairs to the same text as BROKEN. */
const BROKEN_LOW = "ab\uDE00";
const REPAIRED = "ab\uFFFD";

let warnings: string[] = [];
beforeEach(() => {
  warnings = [];
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    warnings.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

function warningsMatching(pattern: RegExp): string[] {
  return warnings.filter((line) => pattern.test(line));
}

/** The file as Python's sqlite3 module reads it with its default (strict UTF-8) text factory. */
function readWithPython(db: string) {
  const script = `
import json, sqlite3, sys, stonks
conn = sqlite3.connect(sys.argv[1])
keys = [r[0] for r in conn.execute("SELECT key FROM metric_keys ORDER BY id")]
runs = [list(r) for r in conn.execute("SELECT name, tags, notes, group_name, job_type, config FROM runs")]
experiments = [r[0] for r in conn.execute("SELECT name FROM experiments")]
conn.close()
with stonks.open(sys.argv[1]) as db:
    listed = [run.name for run in db.list_runs()]
print(json.dumps({"keys": keys, "runs": runs, "experiments": experiments, "listed": listed}))
`;
  const out = execFileSync("python3", ["-c", script, db], {
    env: { ...process.env, PYTHONPATH: join(ROOT, "python") },
    encoding: "utf8",
  });
  return JSON.parse(out) as {
    keys: string[];
    runs: [string, string, string, string, string, string][];
    experiments: string[];
    listed: string[];
  };
}

function storedConfig(db: string, run: Run): Config {
  const q = open(db, { readonly: true });
  try {
    return q.getRun(run.id)!.config;
  } finally {
    q.close();
  }
}

function metricKeys(db: string, run: Run): string[] {
  const q = open(db, { readonly: true });
  try {
    return q.getMetricKeys(run.id);
  } finally {
    q.close();
  }
}

function values(db: string, run: Run, key: string): number[] {
  const q = open(db, { readonly: true });
  try {
    return [...q.getMetrics(run.id, key).values];
  } finally {
    q.close();
  }
}

describe("text that is not well-formed Unicode (R1)", () => {
  it("is stored with U+FFFD in every field, warned once per string, and every point is kept; Python reads the file", async () => {
    const db = tempDb();
    const run = startRun(`exp-${BROKEN}`, {
      db,
      runName: `name-${BROKEN}`,
      tags: [`tag-${BROKEN}`, "plain"],
      notes: `notes-${BROKEN}`,
      group: `group-${BROKEN}`,
      jobType: `job-${BROKEN}`,
      config: { [`key-${BROKEN}`]: `value-${BROKEN}`, nested: { list: [BROKEN] } },
    }).start();
    run.log({ [BROKEN]: 1, ok: 10 });
    run.log({ [BROKEN]: 2, ok: 11 });
    run.log({ [BROKEN_LOW]: 3, ok: 12 });
    run.logConfig({ later: BROKEN });
    await run.finish();

    const python = readWithPython(db);
    expect(python.keys.sort()).toEqual([REPAIRED, "ok"].sort());
    expect(python.experiments).toEqual([`exp-${REPAIRED}`]);
    expect(python.listed).toEqual([`name-${REPAIRED}`]);
    const [name, tags, notes, group, jobType, config] = python.runs[0];
    expect([name, notes, group, jobType]).toEqual([
      `name-${REPAIRED}`,
      `notes-${REPAIRED}`,
      `group-${REPAIRED}`,
      `job-${REPAIRED}`,
    ]);
    expect(JSON.parse(tags)).toEqual([`tag-${REPAIRED}`, "plain"]);
    expect(JSON.parse(config)).toEqual({
      [`key-${REPAIRED}`]: `value-${REPAIRED}`,
      nested: { list: [REPAIRED] },
      later: REPAIRED,
    });
    // Both malformed keys repair to one key: one series holding all three points.
    expect(values(db, run, REPAIRED)).toEqual([1, 2, 3]);
    expect(values(db, run, "ok")).toEqual([10, 11, 12]);
    expect(warningsMatching(/metric key "ab\uFFFD" is not valid Unicode/)).toHaveLength(2);
    expect(warningsMatching(/the run name "name-ab\uFFFD" is not valid Unicode/)).toHaveLength(1);
    expect(warningsMatching(/a config value "ab\uFFFD"/)).toHaveLength(1);
  });

  it("strict mode raises InvalidMetricError for a key and InvalidConfigError for any other text, storing nothing of the call", async () => {
    const db = tempDb();
    expect(() => startRun(BROKEN, { db, strict: true })).toThrow(InvalidConfigError);
    for (const option of ["runName", "notes", "group", "jobType", "resume"] as const) {
      expect(() => startRun("exp", { db, strict: true, [option]: BROKEN }).start()).toThrow(InvalidConfigError);
    }
    expect(() => startRun("exp", { db, strict: true, tags: [BROKEN] }).start()).toThrow(InvalidConfigError);
    expect(() => startRun("exp", { db, strict: true, config: { a: { [BROKEN]: 1 } } }).start()).toThrow(
      InvalidConfigError,
    );
    const run = startRun("exp", { db, strict: true, config: { lr: 0.1 } }).start();
    expect(() => run.log({ ok: 1, [BROKEN]: 2 })).toThrow(InvalidMetricError);
    expect(() => run.logConfig({ lr: 0.2, note: BROKEN })).toThrow(InvalidConfigError);
    expect(() => run.logConfig([1] as unknown as Record<string, unknown>)).toThrow(InvalidConfigError);
    run.log({ ok: 5 });
    await run.finish();
    expect(metricKeys(db, run)).toEqual(["ok"]);
    expect(values(db, run, "ok")).toEqual([5]);
    expect(storedConfig(db, run)).toEqual({ lr: 0.1 });
    const q = open(db, { readonly: true });
    expect(q.listRuns()).toHaveLength(1);
    q.close();
  });
});

describe(`metric keys longer than MAX_KEY_LENGTH = ${MAX_KEY_LENGTH} code points (R5)`, () => {
  const tooLong = "k".repeat(MAX_KEY_LENGTH + 1);
  // 1000 astral characters: 2000 UTF-16 units, still 1000 code points.
  const longestAstral = "😀".repeat(MAX_KEY_LENGTH);

  it("default mode drops the long key's values with one warning and keeps the others", async () => {
    const db = tempDb();
    const run = startRun("exp", { db }).start();
    run.log({ [tooLong]: 1, ok: 1, [longestAstral]: 7 });
    run.log({ [tooLong]: 2, ok: 2 });
    await run.finish();
    expect(metricKeys(db, run).sort()).toEqual([longestAstral, "ok"].sort());
    expect(values(db, run, "ok")).toEqual([1, 2]);
    expect(values(db, run, longestAstral)).toEqual([7]);
    expect(warningsMatching(/is 1001 characters long, more than the 1000 allowed/)).toHaveLength(1);
  });

  it("strict mode raises InvalidMetricError and stores nothing of the call", async () => {
    const db = tempDb();
    const run = startRun("exp", { db, strict: true }).start();
    expect(() => run.log({ ok: 1, [tooLong]: 2 })).toThrow(InvalidMetricError);
    run.log({ other: 3 });
    await run.finish();
    expect(metricKeys(db, run)).toEqual(["other"]);
  });
});

describe("strict log() is all or nothing (R7)", () => {
  it("a NaN in the middle of a call stores none of its values", async () => {
    const db = tempDb();
    const run = startRun("exp", { db, strict: true }).start();
    expect(() => run.log({ a: 1, b: Number.NaN, c: 2 })).toThrow(InvalidMetricError);
    run.log({ a: 5 });
    await run.finish();
    expect(metricKeys(db, run)).toEqual(["a"]);
    const q = open(db, { readonly: true });
    const a = q.getMetrics(run.id, "a");
    expect([...a.values]).toEqual([5]);
    expect([...a.steps]).toEqual([0]);
    q.close();
    const raw = openConnection(db, { readonly: true });
    expect((raw.prepare("SELECT count(*) AS n FROM series").get() as { n: number }).n).toBe(1);
    raw.close();
  });
});

describe("config values JSON has no direct form for (R8)", () => {
  function cyclic(): Record<string, unknown> {
    const node: Record<string, unknown> = { name: "root" };
    node.self = node;
    node.children = [node, { leaf: true }];
    return node;
  }
  function nested(levels: number): Record<string, unknown> {
    let value: Record<string, unknown> = { bottom: 1 };
    for (let i = 0; i < levels; i++) value = { d: value };
    return value;
  }
  const shared = { reused: 1 };
  const cases: {
    name: string;
    config: () => Record<string, unknown>;
    stored: (value: Config) => void;
    warning: RegExp;
  }[] = [
    {
      name: "BigInt: a number when exact, else a decimal string",
      config: () => ({ small: 12n, exact: 2n ** 70n, inexact: 2n ** 70n + 1n }),
      stored: (c) => expect(c).toEqual({ small: 12, exact: 2 ** 70, inexact: "1180591620717411303425" }),
      warning: /BigInt/,
    },
    {
      name: "a cycle: the repeated reference becomes [Circular]",
      config: () => ({ graph: cyclic(), twice: [shared, shared] }),
      stored: (c) =>
        expect(c).toEqual({
          graph: { name: "root", self: "[Circular]", children: ["[Circular]", { leaf: true }] },
          twice: [{ reused: 1 }, { reused: 1 }],
        }),
      warning: /cycle/,
    },
    {
      name: "Map: an object with string keys",
      config: () => ({
        layers: new Map<unknown, unknown>([
          [1, "conv"],
          ["two", new Map([["x", 1]])],
        ]),
      }),
      stored: (c) => expect(c).toEqual({ layers: { "1": "conv", two: { x: 1 } } }),
      warning: /Map/,
    },
    {
      name: "Set: an array",
      config: () => ({ seeds: new Set([3, 1, 2]) }),
      stored: (c) => expect(c).toEqual({ seeds: [3, 1, 2] }),
      warning: /Set/,
    },
    {
      name: "nesting deeper than 64 levels: [Too deep]",
      config: () => ({ deep: nested(70) }),
      stored: (c) => {
        // The config object is level 1 (as in Python), c.deep level 2: the container at level 65 is cut.
        let at = c.deep as Record<string, unknown>;
        for (let level = 2; level < 64; level++) at = at.d as Record<string, unknown>;
        expect(at.d).toBe("[Too deep]");
      },
      warning: /deeper than 64 levels/,
    },
    {
      name: "non-finite numbers: the strings the Python SDK stores",
      config: () => ({ a: Number.NaN, b: Number.POSITIVE_INFINITY, c: Number.NEGATIVE_INFINITY }),
      stored: (c) => expect(c).toEqual({ a: "nan", b: "inf", c: "-inf" }),
      warning: /not a finite number/,
    },
  ];

  for (const { name, config, stored, warning } of cases) {
    it(`${name}: default mode warns once and stores it, in startRun and in logConfig`, async () => {
      const db = tempDb();
      const run = startRun("exp", { db, config: config() }).start();
      expect(run.status).toBe("running");
      await run.flush();
      stored(storedConfig(db, run));
      const later = startRun("exp", { db }).start();
      later.logConfig(config());
      later.logConfig(config());
      await later.finish();
      await run.finish();
      stored(storedConfig(db, later));
      // One warning per kind of problem and run, whatever the number of values or calls.
      expect(warningsMatching(warning)).toHaveLength(2);
    });

    it(`${name}: strict mode raises InvalidConfigError and stores nothing of that config`, async () => {
      const db = tempDb();
      expect(() => startRun("exp", { db, strict: true, config: config() }).start()).toThrow(InvalidConfigError);
      const run = startRun("exp", { db, strict: true, config: { lr: 0.1 } }).start();
      expect(() => run.logConfig({ lr: 0.5, ...config() })).toThrow(InvalidConfigError);
      await run.finish();
      expect(storedConfig(db, run)).toEqual({ lr: 0.1 });
    });
  }
});
