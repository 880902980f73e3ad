// Golden vectors: SDK operations and the rows they must leave in the file (tests/vectors/*.json).
// The Python SDK checks the same files (python/tests/test_vectors.py); neither needs the other runtime.
// Regenerate `expect` from this SDK: STONKS_WRITE_VECTORS=1 npx vitest run tests/sdk-vectors.test.ts,
// then review the diff by hand: the vectors are the contract, not a snapshot of today's output.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openConnection } from "../src/store/driver.js";
import { ROOT, tempDir } from "./support/helpers.js";

const VECTORS = join(ROOT, "tests", "vectors");
const WRITE = process.env.STONKS_WRITE_VECTORS === "1";
const SDK_VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Row = Record<string, Json>;
type Rows = Record<"projects" | "experiments" | "runs" | "series" | "chunks" | "rollups", Row[]>;

interface Vector {
  description: string;
  git: boolean;
  operations: Row[];
  expect?: Rows;
}

/** What the placeholders of a vector stand for in one execution of it. */
interface Context {
  ids: Record<string, string>;
  pid: number;
  cwd: string;
  gitCommit: string | null;
  since: number;
  until: number;
}

function floats(blob: Uint8Array): number[] {
  return Array.from(new Float64Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength)));
}

const OF_RUN_AND_KEY = "JOIN runs r ON r.seq = s.run_seq JOIN metric_keys k ON k.id = s.key_id";

function dumpRows(db: string): Rows {
  const connection = openConnection(db, { readonly: true });
  const all = (sql: string) => connection.prepare(sql).all() as Row[];
  try {
    return {
      projects: all("SELECT id, name, created_at FROM projects ORDER BY name"),
      experiments: all("SELECT id, name, description, created_at, project_id FROM experiments ORDER BY name"),
      runs: all(`SELECT seq, id, experiment_id, name, status, config, tags, group_name, job_type, notes, color,
        created_at, ended_at, last_heartbeat, host, pid, command, cwd, git_commit, git_dirty, sdk_language,
        sdk_version, revision, color_index FROM runs ORDER BY seq`),
      series: all(`SELECT r.id AS run, k.key, s.count, s.monotonic, s.first_step, s.last_step, s.last_value,
        s.last_time, s.min_value, s.max_value FROM series s ${OF_RUN_AND_KEY} ORDER BY s.run_seq, k.key`),
      chunks: (
        connection
          .prepare(`SELECT r.id AS run, k.key, c.start_index, c.count, c.first_step, c.last_step, c.steps, c.vals,
        c.times FROM chunks c JOIN series s ON s.id = c.series_id ${OF_RUN_AND_KEY} ORDER BY s.run_seq, k.key, c.start_index`)
          .all() as Record<string, Json | Uint8Array>[]
      ).map((chunk) => ({
        ...(chunk as Row),
        steps: floats(chunk.steps as Uint8Array),
        vals: floats(chunk.vals as Uint8Array),
        times: floats(chunk.times as Uint8Array),
      })),
      rollups: all(`SELECT r.id AS run, k.key, u.level, u.bucket, u.count, u.first_step, u.last_step, u.min_value,
        u.min_step, u.min_time, u.max_value, u.max_step, u.max_time, u.value_sum, u.step_sum FROM rollups u JOIN series s ON s.id = u.series_id ${OF_RUN_AND_KEY}
        ORDER BY s.run_seq, k.key, u.level, u.bucket`),
    };
  } finally {
    connection.close();
  }
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();
}

/** Runs the vector's operations with this SDK in a fresh process, in a fresh directory (a git checkout if asked). */
function execute(vector: Vector, file: string): { rows: Rows; context: Context } {
  const cwd = realpathSync(tempDir("stonks-vector-"));
  let gitCommit: string | null = null;
  if (vector.git) {
    git(cwd, "init", "-q");
    writeFileSync(join(cwd, "train.py"), "print('train')\n");
    git(cwd, "add", "train.py");
    git(cwd, "commit", "-q", "-m", "x");
    gitCommit = git(cwd, "rev-parse", "HEAD");
  }
  mkdirSync(join(cwd, "out"));
  const db = join(cwd, "out", "vector.db");
  const since = Date.now() / 1000;
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STONKS_")));
  const out = execFileSync(
    process.execPath,
    [join(VECTORS, "run-ops.mjs"), join(ROOT, "dist"), join(VECTORS, file), db],
    { cwd, encoding: "utf8", env: { ...env, STONKS_LOG_LEVEL: "warn" } },
  );
  const until = Date.now() / 1000;
  const reply = JSON.parse(out.trim().split("\n").pop() as string) as { pid: number; ids: Record<string, string> };
  return { rows: dumpRows(db), context: { ids: reply.ids, pid: reply.pid, cwd, gitCommit, since, until } };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Every difference between expected (with placeholders) and actual rows, as "path: why" lines. */
function mismatches(
  expected: Json,
  actual: Json,
  path: string,
  context: Context,
  bound: Map<string, string>,
): string[] {
  const inWindow = (value: Json) =>
    typeof value === "number" && value >= context.since - 1 && value <= context.until + 1;
  if (typeof expected === "string" && /^<[^<>]+>$/.test(expected)) {
    const [name, label] = expected.slice(1, -1).split(/:(.*)/s);
    const fail = (what: string) => [`${path}: expected ${what}, got ${JSON.stringify(actual)}`];
    switch (name) {
      case "id": {
        if (typeof actual !== "string" || !UUID.test(actual)) return fail("a UUID");
        const known = bound.get(label) ?? context.ids[label];
        if (known !== undefined && known !== actual) return fail(`the id of ${label} (${known})`);
        bound.set(label, actual);
        return [];
      }
      case "time":
        return inWindow(actual) ? [] : fail("a time while the operations ran");
      case "times":
        return Array.isArray(actual) &&
          actual.every(inWindow) &&
          actual.every((t, i) => i === 0 || (t as number) >= (actual[i - 1] as number))
          ? []
          : fail("non-decreasing times while the operations ran");
      case "host":
        return actual === hostname() ? [] : fail(`this host (${hostname()})`);
      case "pid":
        return actual === context.pid ? [] : fail(`the writing process's pid (${context.pid})`);
      case "cwd":
        return actual === context.cwd ? [] : fail(`the directory the operations ran in (${context.cwd})`);
      case "command":
        return typeof actual === "string" && actual.length > 0 ? [] : fail("a command line");
      case "git_commit":
        return actual === context.gitCommit ? [] : fail(`the checkout's commit (${context.gitCommit})`);
      case "sdk_language":
        return actual === "typescript" ? [] : fail('"typescript"');
      case "sdk_version":
        return actual === SDK_VERSION ? [] : fail(`this SDK's version (${SDK_VERSION})`);
      default:
        return [`${path}: unknown placeholder ${expected}`];
    }
  }
  if (expected !== null && typeof expected === "object" && !Array.isArray(expected) && "arithmetic" in expected) {
    const { first, step, count } = expected.arithmetic as { first: number; step: number; count: number };
    return mismatches(
      Array.from({ length: count }, (_, i) => first + i * step),
      actual,
      path,
      context,
      bound,
    );
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${JSON.stringify(actual)}`];
    const out =
      expected.length === actual.length ? [] : [`${path}: expected ${expected.length} items, got ${actual.length}`];
    for (let i = 0; i < Math.min(expected.length, actual.length); i++)
      out.push(...mismatches(expected[i], actual[i], `${path}[${i}]`, context, bound));
    return out;
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual))
      return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    return [...keys].flatMap((key) =>
      key in expected && key in actual
        ? mismatches(expected[key], actual[key], `${path}.${key}`, context, bound)
        : [`${path}.${key}: ${key in expected ? "missing" : "not in the vector"}`],
    );
  }
  return Object.is(expected, actual) || expected === actual
    ? []
    : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}

/** The rows with what varies between executions replaced by placeholders (generator mode only). */
function placeholders(rows: Rows, context: Context): Rows {
  const labels = new Map(Object.entries(context.ids).map(([label, id]) => [id, label]));
  for (const project of rows.projects) labels.set(project.id as string, `project ${project.name}`);
  for (const experiment of rows.experiments) labels.set(experiment.id as string, `experiment ${experiment.name}`);
  const id = (value: Json) => `<id:${labels.get(value as string)}>`;
  const time = (value: Json) => (value === null ? null : "<time>");
  const arithmetic = (values: Json) => {
    const xs = values as number[];
    if (xs.length < 16) return xs;
    const step = xs[1] - xs[0];
    return xs.every((x, i) => x === xs[0] + i * step) ? { arithmetic: { first: xs[0], step, count: xs.length } } : xs;
  };
  return {
    projects: rows.projects.map((row) => ({ ...row, id: id(row.id), created_at: time(row.created_at) })),
    experiments: rows.experiments.map((row) => ({
      ...row,
      id: id(row.id),
      created_at: time(row.created_at),
      project_id: row.project_id === null ? null : id(row.project_id),
    })),
    runs: rows.runs.map((row) => ({
      ...row,
      id: id(row.id),
      experiment_id: id(row.experiment_id),
      created_at: time(row.created_at),
      ended_at: time(row.ended_at),
      last_heartbeat: time(row.last_heartbeat),
      host: "<host>",
      pid: "<pid>",
      command: "<command>",
      cwd: "<cwd>",
      git_commit: row.git_commit === null ? null : "<git_commit>",
      sdk_language: "<sdk_language>",
      sdk_version: "<sdk_version>",
    })),
    series: rows.series.map((row) => ({ ...row, run: id(row.run), last_time: "<time>" })),
    chunks: rows.chunks.map((row) => ({
      ...row,
      run: id(row.run),
      steps: arithmetic(row.steps),
      vals: arithmetic(row.vals),
      times: "<times>",
    })),
    rollups: rows.rollups.map((row) => ({ ...row, run: id(row.run), min_time: "<time>", max_time: "<time>" })),
  };
}

/** One operation or row per line, so a reviewer reads the vector row by row. */
function formatVector(vector: Vector): string {
  const lines = (rows: Json[], indent: string) => rows.map((row) => `${indent}${JSON.stringify(row)}`).join(",\n");
  const tables = Object.entries(vector.expect ?? {}).map(
    ([table, rows]) =>
      `    ${JSON.stringify(table)}: ${rows.length === 0 ? "[]" : `[\n${lines(rows, "      ")}\n    ]`}`,
  );
  return `{
  "description": ${JSON.stringify(vector.description)},
  "git": ${JSON.stringify(vector.git)},
  "operations": [
${lines(vector.operations, "    ")}
  ],
  "expect": {
${tables.join(",\n")}
  }
}
`;
}

const files = readdirSync(VECTORS).filter((name) => name.endsWith(".json"));

describe("golden vectors (TypeScript SDK)", () => {
  it("there are vectors to check", () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  for (const file of files) {
    it(`${file}: the operations leave exactly the rows of the vector`, () => {
      const path = join(VECTORS, file);
      const vector = JSON.parse(readFileSync(path, "utf8")) as Vector;
      const { rows, context } = execute(vector, file);
      if (WRITE) {
        vector.expect = placeholders(rows, context);
        writeFileSync(path, formatVector(vector));
      }
      expect(vector.expect).toBeDefined();
      expect(mismatches(vector.expect as Rows, rows as unknown as Json, "rows", context, new Map())).toEqual([]);
    });
  }
});
