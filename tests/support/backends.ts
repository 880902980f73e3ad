/**
 * The storage backends a suite can run against: each gives a fresh, empty
 * database target (a SQLite path or a PostgreSQL URL) that openService,
 * openDatabase and `stonks serve --db` accept alike. Parametrise with
 * `describe.each(backends())`; start() once per file, stop() after.
 */
import { tempDb } from "./helpers.js";
import { type PgCluster, startPgCluster } from "./pg-cluster.js";

export interface Backend {
  name: "sqlite" | "postgres";
  /** Prepares the backend (starts PostgreSQL); call in beforeAll. */
  start(): void;
  /** A fresh empty database. */
  newTarget(): string;
  stop(): void;
}

export function sqliteBackend(): Backend {
  return { name: "sqlite", start() {}, newTarget: () => tempDb(), stop() {} };
}

export function postgresBackend(): Backend {
  let cluster: PgCluster | null = null;
  return {
    name: "postgres",
    start() {
      cluster ??= startPgCluster();
    },
    newTarget() {
      if (cluster === null) throw new Error("postgresBackend().start() first");
      return cluster.newDatabase();
    },
    stop() {
      cluster?.stop();
      cluster = null;
    },
  };
}

export function backends(): Backend[] {
  return [sqliteBackend(), postgresBackend()];
}
