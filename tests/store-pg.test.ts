// The PostgreSQL backend against a real PostgreSQL (tests/support/postgres.ts: the test server or a private cluster):
// its schema migrations, and one contract with SQLite: the same operations through both backends must
// read back the same (runs, series, downsampled reads, run tables, where, group series, tokens,
// workspaces, the write API, deletions, counts, the change feed).
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWhere } from "../src/contract/where.js";
import { ChangeFeed } from "../src/query/change-feed.js";
import { openService, type StonksService } from "../src/query/service.js";
import { openDatabase, runImmediate } from "../src/store/connection.js";
import { numberPlaceholders, type PgDb } from "../src/store/pg/driver.js";
import { listExperiments } from "../src/store/reads.js";
import type { RemoteRunMeta } from "../src/store/remote.js";
import { ensureExperiment } from "../src/store/writes.js";
import { postgresBackend, sqliteBackend } from "./support/backends.js";
import { ROOT } from "./support/helpers.js";

/** Every PostgreSQL migration's version, from the folder the store reads them from: each applied once. */
const PG_VERSIONS = readdirSync(new URL("../src/store/migrations-pg/", import.meta.url))
  .filter((name) => /^\d{4}_.*\.sql$/.test(name))
  .map((name) => Number(name.slice(0, 4)))
  .sort((a, b) => a - b);

const pg = postgresBackend();
const sqlite = sqliteBackend();

beforeAll(() => pg.start());
afterAll(() => pg.stop());

const PROVENANCE = {
  host: "h",
  pid: 7,
  command: "python train.py",
  cwd: "/w",
  gitCommit: "abc",
  gitDirty: true,
  sdkLanguage: "python",
  sdkVersion: "0.1.0",
};

function meta(experiment: string, name: string, createdAt: number, extra: Partial<RemoteRunMeta> = {}): RemoteRunMeta {
  return {
    experiment,
    project: "vision",
    name,
    config: { lr: createdAt % 7 === 0 ? 0.01 : 0.1, layers: [64, 32], text: "ünï ✓" },
    tags: ["a", name],
    group: "sweep",
    jobType: "train",
    notes: null,
    color: null,
    createdAt,
    provenance: PROVENANCE,
    status: "running",
    endedAt: null,
    lastHeartbeat: createdAt + 5,
    ...extra,
  };
}

const range = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));

/** UUIDs differ between two executions: each becomes a name by first appearance. */
function normalise(value: unknown): unknown {
  const names = new Map<string, string>();
  const text = JSON.stringify(value, (_key, v) =>
    v instanceof Float64Array ? Array.from(v, (x) => (Number.isNaN(x) ? "NaN" : x)) : v,
  ).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
    if (!names.has(id)) names.set(id, `<id${names.size}>`);
    return names.get(id) as string;
  });
  return JSON.parse(text);
}

/** Writes the same runs, points and edits to a database and reads back everything the server shows. */
function exercise(target: string): unknown {
  const db = openService(target, { create: true });
  const feed = ChangeFeed.open(target, { readPoints: true });
  const reads: Record<string, unknown> = {};
  try {
    db.upsertRemoteRun("run-a", meta("mnist", "a", 1_700_000_000));
    db.upsertRemoteRun("run-b", meta("mnist", "b", 1_700_000_007, { status: "completed", endedAt: 1_700_000_100 }));
    db.upsertRemoteRun("run-c", meta("cifar", "c", 1_700_000_014, { project: null }));
    reads.appendA = db.appendRemotePoints("run-a", [
      {
        key: "loss",
        start: 0,
        steps: range(5000, (i) => i),
        values: range(5000, (i) => Math.sin(i / 50) + i / 1000),
        times: range(5000, (i) => 1_700_000_000 + i),
      },
      {
        key: "acc",
        start: 0,
        steps: range(300, (i) => i * 2),
        values: range(300, (i) => i / 300),
        times: range(300, (i) => 1_700_000_000 + i),
      },
    ]);
    // Appended in two halves that meet inside a chunk and inside rollup buckets; one half again (skipped).
    const half = (from: number, to: number) => ({
      key: "loss",
      start: from,
      steps: range(to - from, (i) => from + i),
      values: range(to - from, (i) => Math.cos((from + i) / 30)),
      times: range(to - from, (i) => 1_700_000_007 + from + i),
    });
    db.appendRemotePoints("run-b", [half(0, 1500)]);
    reads.appendB = db.appendRemotePoints("run-b", [half(1000, 3333)]);
    reads.gap = db.appendRemotePoints("run-b", [half(4000, 4001)]);
    // Steps that go back, NaN and infinities.
    db.appendRemotePoints("run-c", [
      {
        key: "late",
        start: 0,
        steps: Float64Array.of(3, 2, 5, 1),
        values: Float64Array.of(1, Number.NaN, Number.POSITIVE_INFINITY, -1),
        times: Float64Array.of(1, 2, 3, 4),
      },
      {
        key: "loss",
        start: 0,
        steps: range(2000, (i) => i),
        values: range(2000, (i) => 2 - i / 1000),
        times: range(2000, (i) => i),
      },
    ]);
    db.remoteHeartbeat("run-a", 1_700_000_500);
    const recorded = db.writeRecordedRun({
      experiment: "mnist",
      name: "recorded",
      config: { lr: 0.001 },
      tags: ["imported"],
      group: null,
      jobType: null,
      notes: "from elsewhere",
      createdAt: 1_700_000_021,
      lastActive: 1_700_000_031,
      status: "failed",
      color: "#123456",
      provenance: PROVENANCE,
      metrics: {
        loss: {
          steps: range(1200, (i) => i),
          values: range(1200, (i) => 3 / (i + 1)),
          timestamps: range(1200, (i) => i),
        },
      },
    });
    db.editRun("run-a", { name: "renamed", tags: ["x", "y"], notes: "edited" });
    reads.feedAfterWrites = feed.pull();

    const mnist = db.getExperiment("mnist");
    const cifar = db.getExperiment("cifar");
    if (mnist === null || cifar === null) throw new Error("experiments missing");
    reads.experiments = db.listExperiments();
    reads.projects = db.listProjects();
    reads.ofProject = db.listExperiments({ projectId: db.listProjects()[0].id });
    reads.runs = db.listRuns().map((run) => ({ ...run, stale: null }));
    reads.run = db.getRun("run-a");
    reads.keys = db.getMetricKeys("run-c");
    reads.metricsNonMonotonic = db.getMetrics("run-c", "late");
    reads.metrics = db.getMetrics("run-b", "loss");
    reads.summaries = db.getSummaries("run-a");
    reads.downsampled = db.getSeries(
      [
        { runId: "run-a", key: "loss" },
        { runId: "run-b", key: "loss" },
        { runId: "run-c", key: "late" },
        { runId: recorded, key: "loss" },
      ],
      { maxPoints: 200 },
    );
    reads.downsampledRange = db.getSeries([{ runId: "run-a", key: "loss" }], {
      maxPoints: 100,
      minStep: 777,
      maxStep: 4321,
    });
    reads.rawRange = db.getSeries([{ runId: "run-a", key: "acc" }], { maxPoints: 1000, minStep: 11, maxStep: 40 });
    reads.group = db.getGroupSeries(["run-a", "run-b", recorded], "loss", { buckets: 25 });
    reads.groupWindow = db.getGroupSeries(["run-a", "run-b"], "loss", { buckets: 10, minStep: 100, maxStep: 900 });
    reads.where = db.listRuns(mnist.id, { where: "config.lr < 0.05 AND metric.loss.min < 1" });
    reads.whereAll = db.listRuns(undefined, { where: 'tags GLOB "a*" OR name MATCHES "^rec"' });
    const tables = db.runTables();
    reads.table = tables.query(
      mnist.id,
      { sort: { kind: "metric", key: "loss", stat: "last" }, order: "asc" },
      1_700_001_000,
    );
    reads.tableWhere = tables.query(mnist.id, { where: parseWhere("metric.acc.max >= 0.5") }, 1_700_001_000);
    reads.tableKeys = tables.keys(mnist.id);
    reads.oneOff = db.queryRuns(cifar.id, { text: "C" });
    reads.view = db.runView("run-b");
    reads.prefix = db.runIdsWithPrefix("run-", 10);
    reads.syncState = db.runSyncState("run-b");

    reads.workspaceSaved = db.saveWorkspace(mnist.id, "Zeta", { charts: ["loss"] });
    db.saveWorkspace(mnist.id, "alpha", { charts: [] });
    db.saveWorkspace(mnist.id, "alpha", { charts: ["acc"] });
    reads.workspaces = db.listWorkspaces(mnist.id).map((w) => ({ ...w, updatedAt: null }));
    reads.workspace = db.getWorkspace(mnist.id, "alpha")?.state;
    reads.workspaceDeleted = db.deleteWorkspace(mnist.id, "Zeta");
    reads.noWorkspaceForMissing = db.saveWorkspace("no-such-experiment", "x", {});

    const tokens = db.tokens();
    const admin = tokens.create("admin", null);
    tokens.create("read", "viewer");
    reads.tokenRequired = tokens.required();
    reads.tokenAuth = tokens.authenticate(admin.secret)?.role;
    reads.tokenBad = tokens.authenticate("nope");
    reads.tokenRevoked = tokens.revoke("viewer")?.name;
    reads.tokens = tokens
      .list()
      .map((t) => ({ ...t, createdAt: null, lastUsedAt: null, revokedAt: t.revokedAt !== null }));

    reads.gc = db.gcCandidates({ statuses: ["failed", "completed"] });
    reads.deleted = db.deleteRuns(["run-b", "missing"]);
    reads.feedAfterDelete = feed.pull();
    reads.deletedExperiment = db.deleteExperiment(cifar.id);
    reads.emptyRemoved = db.deleteEmptyExperiments();
    db.compact();
    const { schemaVersion: _v, pageSize: _p, freePages: _f, ...counts } = db.counts();
    reads.counts = counts;
    reads.runsLeft = db.listRuns().map((run) => run.id);
  } finally {
    feed.close();
    db.close();
  }
  return normalise(reads);
}

describe("PostgreSQL backend", () => {
  it("reads back what it stored exactly as SQLite does, for the same operations", () => {
    const onSqlite = exercise(sqlite.newTarget());
    const onPostgres = exercise(pg.newTarget());
    for (const key of Object.keys(onSqlite as object)) {
      expect((onPostgres as Record<string, unknown>)[key], key).toEqual((onSqlite as Record<string, unknown>)[key]);
    }
    expect(Object.keys(onPostgres as object)).toEqual(Object.keys(onSqlite as object));
  });

  it("creates its schema once: a second open changes nothing", () => {
    const url = pg.newTarget();
    openDatabase(url).close();
    const db = openDatabase(url) as PgDb;
    try {
      expect(db.driver).toBe("postgres");
      expect(db.prepare("SELECT version FROM stonks_schema").pluck().all()).toEqual(PG_VERSIONS);
      const tables = db
        .prepare("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        .pluck()
        .all();
      expect(tables).toEqual([
        "chunks",
        "experiments",
        "metric_keys",
        "projects",
        "rollups",
        "runs",
        "series",
        "stonks_schema",
        "tokens",
        "workspaces",
      ]);
    } finally {
      db.close();
    }
  });

  it("migrates once when several processes open a new database at the same moment", async () => {
    const url = pg.newTarget();
    const script = `import("./dist/store/connection.js").then((m) => m.openDatabase(process.argv[1]).close())`;
    const opens = Array.from({ length: 4 }, () =>
      promisify(execFile)(process.execPath, ["-e", script, url], { cwd: ROOT }),
    );
    await Promise.all(opens);
    const db = openDatabase(url) as PgDb;
    try {
      expect(db.prepare("SELECT version FROM stonks_schema").pluck().all()).toEqual(PG_VERSIONS);
    } finally {
      db.close();
    }
  });

  it("a read-only open of a database stonks never used says how to create its tables", () => {
    expect(() => openDatabase(pg.newTarget(), { readonly: true })).toThrow(/open it once with write access/);
  });

  it("a read-only open cannot write", () => {
    const url = pg.newTarget();
    openDatabase(url).close();
    const service: StonksService = openService(url, { readonly: true });
    try {
      expect(service.listExperiments()).toEqual([]);
      expect(() => service.upsertRemoteRun("r", meta("e", "r", 1))).toThrow(/read-only transaction/);
    } finally {
      service.close();
    }
  });

  it("an unreachable PostgreSQL is one error naming the URL without its password", () => {
    expect(() => openDatabase("postgresql://me:secret@127.0.0.1:1/none?connect_timeout=2")).toThrow(
      /^Cannot connect to PostgreSQL at postgresql:\/\/me:\*\*\*@127\.0\.0\.1:1\/none/,
    );
  });

  it("a write transaction that fails is rolled back whole, and the connection goes on working", () => {
    const db = openDatabase(pg.newTarget());
    try {
      expect(() =>
        runImmediate(db, () => {
          ensureExperiment(db, "kept-out", 1);
          throw new Error("boom");
        }),
      ).toThrow("boom");
      expect(() =>
        runImmediate(db, () => {
          ensureExperiment(db, "also-out", 1);
          // A statement PostgreSQL refuses aborts its transaction.
          db.prepare("INSERT INTO experiments (id, name, created_at) VALUES ('x', 'dup', 1), ('y', 'dup', 1)").run();
        }),
      ).toThrow(/duplicate key/);
      runImmediate(db, () => ensureExperiment(db, "in", 1));
      expect(listExperiments(db).map((e) => e.name)).toEqual(["in"]);
    } finally {
      db.close();
    }
  });

  it("numbers ? and @name placeholders outside quoted text", () => {
    expect(numberPlaceholders("SELECT '@a', \"@x\" FROM t WHERE a = @a AND b = @b OR c = @a").text).toBe(
      "SELECT '@a', \"@x\" FROM t WHERE a = $1 AND b = $2 OR c = $1",
    );
    expect(numberPlaceholders("UPDATE t SET a = ?, b = '?' WHERE c = ?").text).toBe(
      "UPDATE t SET a = $1, b = '?' WHERE c = $2",
    );
  });
});
