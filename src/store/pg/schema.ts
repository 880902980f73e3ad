/**
 * Opening a PostgreSQL database: connect, then bring the stonks schema
 * forward with the migrations in src/store/migrations-pg, each applied once,
 * in one transaction under the writers' advisory lock, so servers that start
 * at the same moment migrate one after the other and the second finds
 * nothing left to do. The version lives in the table stonks_schema.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SchemaVersionError } from "../../errors.js";
import { redactUrl } from "../../util/db-path.js";
import { PgDb } from "./driver.js";

const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations-pg/", import.meta.url));

interface Migration {
  version: number;
  sql: string;
}

function loadMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((name) => /^\d{4}_.*\.sql$/.test(name))
    .sort()
    .map((name) => ({ version: Number(name.slice(0, 4)), sql: readFileSync(MIGRATIONS_DIR + name, "utf8") }));
}

let migrations: Migration[] | undefined;

/** The PostgreSQL migrations of this build, read at the first open. */
function pgMigrations(): Migration[] {
  migrations ??= loadMigrations();
  return migrations;
}

/** The PostgreSQL schema version this build writes. */
export function pgSchemaVersion(): number {
  const all = pgMigrations();
  return all.length === 0 ? 0 : all[all.length - 1].version;
}

/** The schema version stored in the database; 0 when stonks never migrated it. */
export function storedPgVersion(db: PgDb): number {
  const exists = db.prepare("SELECT to_regclass('stonks_schema') IS NOT NULL AS found").pluck().get() as boolean;
  if (!exists) return 0;
  return (db.prepare("SELECT COALESCE(MAX(version), 0) FROM stonks_schema").pluck().get() as number) ?? 0;
}

export interface PgOpenDatabaseOptions {
  readonly?: boolean;
  poolSize?: number;
}

/** Connects and migrates (unless read-only); one line says what to do when PostgreSQL cannot be reached. */
export function openPostgres(url: string, options: PgOpenDatabaseOptions = {}): PgDb {
  const readonly = options.readonly ?? false;
  const db = new PgDb(url, { readonly, poolSize: options.poolSize });
  try {
    const target = pgSchemaVersion();
    const version = storedPgVersion(db);
    if (version > target) {
      throw new SchemaVersionError(
        `${redactUrl(url)} uses stonks PostgreSQL schema version ${version}, newer than this stonks understands (${target}). Upgrade stonks to read it; the database was left untouched.`,
      );
    }
    if (version < target) {
      if (readonly) {
        throw new SchemaVersionError(
          version === 0
            ? `${redactUrl(url)} holds no stonks data yet; open it once with write access (e.g. stonks serve --db URL) so stonks can create its tables.`
            : `${redactUrl(url)} uses PostgreSQL schema version ${version}; open it once with write access so stonks can migrate it to ${target}.`,
        );
      }
      migratePostgres(db);
    }
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Applies the missing migrations in one transaction, under the writers' lock. */
export function migratePostgres(db: PgDb): void {
  db.transaction(() => {
    db.exec("CREATE TABLE IF NOT EXISTS stonks_schema (version integer NOT NULL)");
    // Another server may have migrated between our check and the lock.
    const current = storedPgVersion(db);
    for (const migration of pgMigrations()) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.prepare("INSERT INTO stonks_schema (version) VALUES (?)").run(migration.version);
    }
  }, "immediate");
}
