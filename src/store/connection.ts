import { existsSync, readdirSync, readFileSync } from "node:fs";
import { endianness } from "node:os";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { SchemaVersionError, StonksError } from "../errors.js";

export type Db = Database.Database;

const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations/", import.meta.url));
/** How long a write waits for another process's lock: 10 s, or STONKS_BUSY_TIMEOUT_MS. */
const BUSY_TIMEOUT_MS =
  Number(process.env.STONKS_BUSY_TIMEOUT_MS) > 0 ? Number(process.env.STONKS_BUSY_TIMEOUT_MS) : 10_000;

if (endianness() !== "LE") {
  throw new StonksError("stonks stores points as little-endian floats and needs a little-endian machine.");
}

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

const MIGRATIONS = loadMigrations();
/** The schema version this build writes (PRAGMA user_version). */
export const SCHEMA_VERSION = MIGRATIONS.length === 0 ? 0 : MIGRATIONS[MIGRATIONS.length - 1].version;

export interface OpenOptions {
  /** Create the file (and schema) when missing. Default true. */
  create?: boolean;
  /** Open read-only: no migrations, no WAL switch. */
  readonly?: boolean;
}

/** Opens a stonks database: WAL, busy timeout, foreign keys on, schema migrated forward. */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  const create = options.create ?? true;
  const readonly = options.readonly ?? false;
  if (path !== ":memory:" && !existsSync(path) && (!create || readonly)) {
    throw new StonksError(
      `No stonks database at ${path}. Log a run first, or point to the right file (db option, --db or STONKS_DB).`,
    );
  }
  let db: Db;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly });
  } catch (error) {
    throw new StonksError(`Cannot open ${path}: ${(error as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma("foreign_keys = ON");
    // Check the version before anything writes: a newer file must stay untouched.
    const version = checkVersion(db, path, readonly);
    if (!readonly) {
      // NORMAL first: switching to WAL under the default FULL costs an extra fsync.
      db.pragma("synchronous = NORMAL");
      db.pragma("journal_mode = WAL");
      if (version < SCHEMA_VERSION) migrate(db);
    }
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function userVersion(db: Db): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/** The file's schema version, after refusing files this build must not touch. */
function checkVersion(db: Db, path: string, readonly: boolean): number {
  let version: number;
  let tables: number;
  try {
    // One statement, one snapshot: read separately, a process migrating in
    // between could make a new stonks file look like someone else's database.
    const row = db
      .prepare(
        "SELECT (SELECT user_version FROM pragma_user_version) AS version, (SELECT count(*) FROM sqlite_master WHERE type = 'table') AS tables",
      )
      .get() as { version: number; tables: number };
    version = row.version;
    tables = row.tables;
  } catch (error) {
    throw new SchemaVersionError(`${path} is not a SQLite database stonks can read: ${(error as Error).message}`);
  }
  if (version > SCHEMA_VERSION) {
    throw new SchemaVersionError(
      `${path} uses stonks schema version ${version}, newer than this stonks understands (${SCHEMA_VERSION}). Upgrade stonks to read it; the file was left untouched.`,
    );
  }
  if (version === 0 && tables > 0) {
    throw new SchemaVersionError(`${path} is a SQLite database but not a stonks database; choose another file.`);
  }
  if (version < SCHEMA_VERSION && readonly) {
    throw new SchemaVersionError(
      `${path} uses schema version ${version}; open it once with write access so stonks can migrate it to ${SCHEMA_VERSION}.`,
    );
  }
  return version;
}

function migrate(db: Db): void {
  runImmediate(db, () => {
    // Another process may have migrated between our check and the lock.
    const current = userVersion(db);
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
  });
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || code === "SQLITE_BUSY_SNAPSHOT";
}

/**
 * Runs fn in a BEGIN IMMEDIATE transaction, retrying while another process
 * holds the write lock past the busy timeout.
 */
export function runImmediate<T>(db: Db, fn: () => T, attempts = 5): T {
  const transaction = db.transaction(fn);
  for (let attempt = 1; ; attempt++) {
    try {
      return transaction.immediate();
    } catch (error) {
      if (!isBusy(error) || attempt >= attempts) throw error;
    }
  }
}

/** Runs fn in a read transaction so several statements see one snapshot. */
export function runRead<T>(db: Db, fn: () => T): T {
  if (db.inTransaction) return fn();
  return db.transaction(fn).deferred();
}

const statementCache = new WeakMap<Db, Map<string, Database.Statement>>();

/** A prepared statement, cached per connection. */
export function stmt(db: Db, sql: string): Database.Statement {
  let cache = statementCache.get(db);
  if (!cache) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}
