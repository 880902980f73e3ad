import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { endianness } from "node:os";
import { fileURLToPath } from "node:url";
import { NotAStonksFileError, SchemaVersionError, StonksError } from "../errors.js";
import { isPostgresUrl } from "../util/db-path.js";
import { type Db, driverName, isBusyError, openConnection, type Statement } from "./driver.js";
import { isTransientPgError } from "./pg/driver.js";
import { openPostgres } from "./pg/schema.js";

export { isPostgresUrl } from "../util/db-path.js";
export type { Db, Statement } from "./driver.js";
export { driverName } from "./driver.js";

// Chosen with the module, as a static import of the driver would: a writer thread started later
// then finds the native module already loaded in the process. A driver that cannot load is
// reported by the first open instead, so importing stonks never throws.
try {
  driverName();
} catch {}

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
/** PRAGMA application_id of every stonks file: "STNK" in ASCII. */
export const APPLICATION_ID = 0x53544e4b;
/**
 * Bytes the write-ahead log is cut back to after a checkpoint resets it; without
 * a limit it keeps the size of its largest burst forever.
 */
export const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;
/** Pages after which a commit checkpoints the log (SQLite's default, set explicitly for both SDKs). */
export const WAL_AUTOCHECKPOINT_PAGES = 1000;
/** Size of the write-ahead log past which a writer checkpoints and truncates it itself (checkpointIfLarge). */
export const WAL_TRUNCATE_BYTES = 16 * 1024 * 1024;
/** How long that checkpoint waits for readers to finish; a later commit tries again. */
const TRUNCATE_WAIT_MS = 1000;
/** Per writer connection: the log size at which to try again after a checkpoint found readers busy. */
const truncateRetryAt = new WeakMap<Db, number>();

export interface OpenOptions {
  /** Create the file (and schema) when missing. Default true. */
  create?: boolean;
  /** Open read-only: no migrations, no WAL switch. */
  readonly?: boolean;
  /** PostgreSQL only: connections this process opens at most (default STONKS_PG_POOL, else 4). */
  pgPoolSize?: number;
}

/**
 * Opens a stonks database: WAL, busy timeout, foreign keys on, schema migrated
 * forward. A file that is not a stonks database is refused before anything is
 * written to it. A postgresql:// or postgres:// URL opens PostgreSQL instead
 * (src/store/pg), its schema migrated forward unless read-only.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  const create = options.create ?? true;
  const readonly = options.readonly ?? false;
  if (isPostgresUrl(path)) return openPostgres(path, { readonly, poolSize: options.pgPoolSize });
  // Chooses the driver now: a forced driver that cannot load is the first thing to fix.
  driverName();
  if (path !== ":memory:" && !existsSync(path) && (!create || readonly)) {
    throw new StonksError(
      `No stonks database at ${path}. Log a run first, or point to the right file (db option, --db or STONKS_DB).`,
    );
  }
  let db: Db;
  try {
    db = openConnection(path, { readonly });
  } catch (error) {
    if (error instanceof StonksError) throw error;
    throw new StonksError(`Cannot open ${path}: ${(error as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma("foreign_keys = ON");
    // Recognise the file before anything writes: someone else's file, or a newer one, must stay untouched.
    const file = recognise(db, path, readonly);
    if (!readonly) {
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      // NORMAL first: switching to WAL under the default FULL costs an extra fsync.
      db.pragma("synchronous = NORMAL");
      db.pragma("journal_mode = WAL");
      if (file.version < SCHEMA_VERSION || !file.stamped) upgrade(db);
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

function applicationId(db: Db): number {
  return db.pragma("application_id", { simple: true }) as number;
}

const TABLE_SHAPE_SQL =
  "SELECT m.name AS tbl, p.name AS col FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p " +
  "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name, p.cid";

/** Every table of the file (but SQLite's own) with its columns in order. */
export function tableColumns(db: Db): Map<string, string[]> {
  const columns = new Map<string, string[]>();
  for (const { tbl, col } of db.prepare(TABLE_SHAPE_SQL).all() as { tbl: string; col: string }[]) {
    const list = columns.get(tbl) ?? [];
    list.push(col);
    columns.set(tbl, list);
  }
  return columns;
}

/** Tables with their columns as one comparable line: "a(x,y) b(z)". */
function shapeLine(columns: Map<string, string[]>): string {
  return [...columns].map(([table, names]) => `${table}(${names.join(",")})`).join(" ");
}

/** The columns every version of the original stonks package (pjhartout/stonks) gave its tables. */
const ORIGINAL_COLUMNS: Record<string, string[]> = {
  experiments: ["id", "name", "description", "created_at", "metadata"],
  runs: ["id", "experiment_id", "name", "status", "config", "created_at", "ended_at", "last_heartbeat"],
  metrics: ["id", "run_id", "key", "value", "step", "timestamp"],
};
/** Tables the original's newer schema adds to those three. */
const ORIGINAL_EXTRA_TABLES = new Set(["projects"]);

/**
 * Whether a file's tables are those the original stonks package writes (both of
 * its schema versions): experiments, runs and metrics with its columns, and
 * projects in its newer version. Its files carry no application id.
 */
export function isOriginalStonksLayout(columns: Map<string, string[]>): boolean {
  for (const [table, required] of Object.entries(ORIGINAL_COLUMNS)) {
    const present = columns.get(table);
    if (present === undefined || !required.every((column) => present.includes(column))) return false;
  }
  return [...columns.keys()].every((table) => table in ORIGINAL_COLUMNS || ORIGINAL_EXTRA_TABLES.has(table));
}

/** The one line that tells a user of the original package how to bring such a file into stonks. */
export function originalFileMessage(path: string): string {
  return `${path} was written by the original stonks package (pjhartout/stonks), whose layout this stonks does not open; stonks left it untouched. Import it with: stonks import ${path} --db NEW.db`;
}

const shapes = new Map<number, string>();

/** The tables a stonks file of `version` has: the migrations up to it, applied to an empty database. */
function stonksShape(version: number): string {
  let shape = shapes.get(version);
  if (shape === undefined) {
    const scratch = openConnection(":memory:");
    for (const migration of MIGRATIONS) if (migration.version <= version) scratch.exec(migration.sql);
    shape = shapeLine(tableColumns(scratch));
    scratch.close();
    shapes.set(version, shape);
  }
  return shape;
}

interface FileIdentity {
  /** PRAGMA user_version: 0 for a new (empty) file. */
  version: number;
  /** Whether application_id already says stonks (older stonks files lack it until a writer stamps them). */
  stamped: boolean;
}

/**
 * Says whether the file is ours, reading only. A stonks file carries our
 * application_id; one written before the stamp existed is known by its exact
 * tables and columns; an empty file is new. Anything else is refused.
 */
function recognise(db: Db, path: string, readonly: boolean): FileIdentity {
  let appId: number;
  let version: number;
  let columns: Map<string, string[]>;
  try {
    // One snapshot: read separately, a process creating the file in between
    // could make a new stonks file look like someone else's database.
    [appId, version, columns] = runRead(db, () => [applicationId(db), userVersion(db), tableColumns(db)] as const);
  } catch (error) {
    throw new NotAStonksFileError(
      `${path} is not a stonks database (${(error as Error).message}); stonks left it untouched. Choose another file.`,
    );
  }
  const shape = shapeLine(columns);
  const stamped = appId === APPLICATION_ID;
  const blank = appId === 0 && version === 0 && shape === "";
  const older = appId === 0 && version >= 1 && version <= SCHEMA_VERSION && shape === stonksShape(version);
  if (version > SCHEMA_VERSION && (stamped || appId === 0)) {
    // Without the stamp this may be another program's file too: say both, touch nothing.
    const or = stamped ? "" : ", or is not a stonks database";
    throw new SchemaVersionError(
      `${path} uses stonks schema version ${version}, newer than this stonks understands (${SCHEMA_VERSION})${or}. Upgrade stonks to read it; the file was left untouched.`,
    );
  }
  if (!stamped && !blank && !older && appId === 0 && isOriginalStonksLayout(columns)) {
    throw new NotAStonksFileError(originalFileMessage(path));
  }
  if (!stamped && !blank && !older) {
    throw new NotAStonksFileError(
      `${path} is a SQLite database of another program, not a stonks database; stonks left it untouched. Choose another file.`,
    );
  }
  if (version < SCHEMA_VERSION && readonly) {
    throw new SchemaVersionError(
      `${path} uses schema version ${version}; open it once with write access so stonks can migrate it to ${SCHEMA_VERSION}.`,
    );
  }
  return { version, stamped };
}

/** Applies the missing migrations and stamps the application id, in one transaction. */
function upgrade(db: Db): void {
  runImmediate(db, () => {
    // Another process may have migrated between our check and the lock.
    const current = userVersion(db);
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
    if (applicationId(db) !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
  });
}

/**
 * Called by writers after a commit. SQLite's automatic checkpoint never waits
 * for readers, and the log starts over only when no reader is using it: with a
 * server reading all the time that moment may never come and the log grows
 * without bound. Past WAL_TRUNCATE_BYTES this waits briefly for the readers,
 * copies the whole log into the file and truncates it.
 */
export function checkpointIfLarge(db: Db): void {
  if (db.memory || db.readonly || db.driver === "postgres") return;
  let size: number;
  try {
    size = statSync(`${db.path}-wal`).size;
  } catch {
    return;
  }
  if (size < Math.max(WAL_TRUNCATE_BYTES, truncateRetryAt.get(db) ?? 0)) return;
  db.pragma(`busy_timeout = ${TRUNCATE_WAIT_MS}`);
  let done = false;
  try {
    const [result] = db.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
    done = result?.busy === 0;
  } catch {
    // The points are committed already; a checkpoint that fails now is tried again later.
  } finally {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
  // Readers that stay busy must not make every commit wait: try again once the log has grown further.
  if (done) truncateRetryAt.delete(db);
  else truncateRetryAt.set(db, size + WAL_TRUNCATE_BYTES);
}

/**
 * Runs fn in a BEGIN IMMEDIATE transaction, retrying while another process
 * holds the write lock past the busy timeout. On PostgreSQL, a transaction
 * that failed because the server restarted or dropped the connection is run
 * again after a short pause: it rolled back whole, so nothing is doubled.
 */
export function runImmediate<T>(db: Db, fn: () => T, attempts = 5): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return db.transaction(fn, "immediate");
    } catch (error) {
      const retry = db.driver === "postgres" ? isTransientPgError(error) : isBusyError(error);
      if (!retry || attempt >= attempts || db.inTransaction) throw error;
      if (db.driver === "postgres") pauseMs(200 * attempt);
    }
  }
}

function pauseMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs fn in a read transaction so several statements see one snapshot. */
export function runRead<T>(db: Db, fn: () => T): T {
  if (db.inTransaction) return fn();
  return db.transaction(fn, "deferred");
}

/** What a statement's rows are: objects keyed by column, arrays of values, or the first column's value. */
export type RowShape = "objects" | "arrays" | "values";

/**
 * Per connection, one statement cache per row shape: the shape is a setting of
 * the statement itself, so a statement shared by callers that want different
 * shapes would hand one of them the other's rows.
 */
const statementCache = new WeakMap<Db, Record<RowShape, Map<string, Statement>>>();

/** A prepared statement giving rows of `shape` (default objects), cached per connection. */
export function stmt(db: Db, sql: string, shape: RowShape = "objects"): Statement {
  let caches = statementCache.get(db);
  if (!caches) {
    caches = { objects: new Map(), arrays: new Map(), values: new Map() };
    statementCache.set(db, caches);
  }
  const cache = caches[shape];
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    if (shape === "arrays") statement.raw(true);
    else if (shape === "values") statement.pluck(true);
    cache.set(sql, statement);
  }
  return statement;
}

/**
 * Gives a long-lived reading connection (the server's) a page cache of this
 * size instead of SQLite's 2 MB default, so an experiment's run rows, spread
 * over the file between chunk pages, stay in memory between requests.
 */
export function enlargePageCache(db: Db, mebibytes: number): void {
  // PostgreSQL's cache is the server's shared_buffers, set by whoever runs it.
  if (db.driver === "postgres") return;
  db.pragma(`cache_size = ${-Math.round(mebibytes * 1024)}`);
}
