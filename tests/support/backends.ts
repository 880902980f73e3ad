/**
 * The storage backends a suite can run against: each gives a fresh, empty
 * database target (a SQLite path or a PostgreSQL URL) that openService,
 * openDatabase and `stonks serve --db` accept alike. Parametrise with
 * `describe.each(backends())`; `await start()` once per file (beforeAll),
 * `await stop()` after. PostgreSQL databases live on the test server
 * (tests/support/postgres.ts: STONKS_TEST_PG, or a private cluster).
 * STONKS_TEST_BACKENDS (a comma list of names) keeps only those: the Node 24
 * pass (scripts/test-node24.mjs) sets it to sqlite, since the PostgreSQL
 * driver does not change with the runtime's SQLite.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDb } from "./helpers.js";
import { adminQuery, createTestDatabase, type TestDatabase, withDatabase } from "./postgres.js";

export interface Backend {
  name: "sqlite" | "postgres";
  /** Prepares the backend (reaches or starts PostgreSQL); await in beforeAll. */
  start(): Promise<void>;
  /** A fresh empty database. */
  newTarget(): string;
  /** Drops what newTarget made; await in afterAll. */
  stop(): Promise<void>;
}

export function sqliteBackend(): Backend {
  return { name: "sqlite", start: async () => {}, newTarget: () => tempDb(), stop: async () => {} };
}

export function postgresBackend(): Backend {
  let base: TestDatabase | null = null;
  const made: string[] = [];
  return {
    name: "postgres",
    async start() {
      if (!existsSync(join(ROOT, "dist", "store", "pg", "worker.js"))) {
        throw new Error("the PostgreSQL driver's worker is not built: run npm run build first");
      }
      base ??= await createTestDatabase();
    },
    newTarget() {
      if (base === null) throw new Error("await postgresBackend().start() first");
      const name = `${base.name}_${made.length + 1}`;
      // Synchronous on purpose: suites ask for a new database inside synchronous tests.
      execFileSync("psql", ["-q", "-d", base.url, "-c", `CREATE DATABASE ${name}`], { stdio: "ignore" });
      made.push(name);
      return withDatabase(base.url, name);
    },
    async stop() {
      if (base === null) return;
      for (const name of made) await adminQuery(base.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      made.length = 0;
      await base.drop();
      base = null;
    },
  };
}

/** Both backends; STONKS_TEST_BACKENDS (comma-separated names) keeps some: the Node 24 pass sets sqlite. */
export function backends(): Backend[] {
  const all = [sqliteBackend(), postgresBackend()];
  const wanted = process.env.STONKS_TEST_BACKENDS;
  if (wanted === undefined || wanted === "") return all;
  const names = wanted.split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !all.some((backend) => backend.name === name));
  if (unknown.length > 0) {
    throw new Error(`STONKS_TEST_BACKENDS names ${unknown.join(", ")}; use sqlite, postgres or both, comma-separated.`);
  }
  return all.filter((backend) => names.includes(backend.name));
}
